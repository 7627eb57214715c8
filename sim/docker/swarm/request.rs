//! What a `docker swarm|node|service …` command (and `docker network create -d overlay`) asks
//! of the swarm, once the CLI has parsed and checked it: the contract between the CLI side
//! ([`from_parsed`]) and the node that serves it (`SwarmNode::request`).

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::store::{Availability, Constraint, EndpointMode, PortConfig, Role, ServiceMode};

/// A service as `docker service create` describes it; networks by name or ID, resolved by
/// the manager.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRequest {
    pub name: Option<String>,
    pub image: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub mode: ServiceMode,
    pub constraints: Vec<Constraint>,
    pub networks: Vec<String>,
    pub endpoint_mode: EndpointMode,
    pub ports: Vec<PortConfig>,
}

/// `docker service update` changes; `None`/empty leaves a field alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceChanges {
    pub replicas: Option<u64>,
    pub image: Option<String>,
    pub constraint_add: Vec<Constraint>,
    pub constraint_rm: Vec<String>,
    pub publish_add: Vec<PortConfig>,
    /// Target ports to unpublish.
    pub publish_rm: Vec<u16>,
    pub network_add: Vec<String>,
    pub network_rm: Vec<String>,
    pub env_add: Vec<String>,
    pub force: bool,
}

/// How `docker service inspect` prints what it fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InspectFormat {
    /// The indented JSON array (no `--format`, or `--format raw`).
    Json,
    /// `--pretty` (or `--format pretty`): the CLI's human-friendly template.
    Pretty,
    /// A Go template, already checked to parse, run once per service on the typed object.
    Template(String),
}

/// `--advertise-addr` / `--listen-addr`: an address, or a network interface whose address
/// the daemon uses (`resolveAdvertiseAddr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrSpec {
    Ip(Ipv4Addr),
    Interface(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmRequest {
    Init {
        advertise_addr: Option<AddrSpec>,
        listen_addr: Option<AddrSpec>,
    },
    Join {
        token: String,
        remote: (Ipv4Addr, u16),
        advertise_addr: Option<AddrSpec>,
    },
    JoinToken {
        role: Role,
        quiet: bool,
        rotate: bool,
    },
    Leave {
        force: bool,
    },
    Update {
        task_history_limit: Option<u32>,
    },
    NodeLs {
        quiet: bool,
    },
    /// Node names, IDs or `self`.
    NodeInspect {
        nodes: Vec<String>,
        pretty: bool,
    },
    NodeUpdate {
        node: String,
        availability: Option<Availability>,
        role: Option<Role>,
        label_add: Vec<(String, String)>,
        label_rm: Vec<String>,
    },
    NodePromote(Vec<String>),
    NodeDemote(Vec<String>),
    NodeRm {
        nodes: Vec<String>,
        force: bool,
    },
    ServiceCreate {
        service: ServiceRequest,
        detach: bool,
        quiet: bool,
    },
    ServiceLs {
        quiet: bool,
    },
    ServicePs(super::ps::PsArgs),
    ServiceInspect {
        services: Vec<String>,
        format: InspectFormat,
    },
    ServiceScale {
        pairs: Vec<(String, u64)>,
        detach: bool,
    },
    ServiceUpdate {
        service: String,
        changes: ServiceChanges,
        detach: bool,
    },
    ServiceRm(Vec<String>),
    NetworkCreate {
        name: String,
        options: Vec<(String, String)>,
        labels: Vec<(String, String)>,
        attachable: bool,
        internal: bool,
        subnet: Option<Ipv4Net>,
    },
    NetworkRm(Vec<String>),
    /// The daemon's `AttachNetwork` (swarmkit resourceapi): a network-attachment task for a
    /// container on the calling node; the network by ID or name, as the user gave it.
    AttachNetwork {
        target: String,
        container_id: String,
    },
    /// `DetachNetwork`: the attachment task goes.
    DetachNetwork {
        attachment_id: String,
    },
}

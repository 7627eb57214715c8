//! What swarm nodes say to each other on 2377/tcp: Raft between managers, the controlapi
//! calls a follower proxies to the leader, joins, and the dispatcher's sessions with agents.
//!
//! Every message carries its sender's address; replies go back to it.

use std::net::Ipv4Addr;

use super::request::SwarmRequest;
use super::store::{
    EncryptionKey, NetworkAttachment, NodeDescription, Role, StoreOp, Task, TaskState,
};
use crate::docker::DockerOutcome;
use crate::engine::SimDuration;
use crate::proto::raft;

/// The management port (`tcp://0.0.0.0:2377`).
pub const SWARM_PORT: u16 = 2377;

/// A Raft entry's payload: store changes, tagged so the proposer can tell when they commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    pub id: u64,
    pub ops: Vec<StoreOp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub from: Ipv4Addr,
    pub msg: SwarmMsg,
}

/// A call to the leader's controlapi (or CA, for joins), and where to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCall {
    /// Chosen by the caller; echoed in the reply.
    pub call: u64,
    pub origin: Ipv4Addr,
    pub body: ApiBody,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiBody {
    Cli(SwarmRequest),
    Join { token: String, description: NodeDescription, addr: Ipv4Addr },
}

/// What a joining node learns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub node_id: String,
    pub role: Role,
    /// Its Raft ID when it joins as a manager.
    pub raft_id: Option<u64>,
    /// Every manager's Raft ID and address.
    pub managers: Vec<(u64, Ipv4Addr)>,
}

/// An agent's word on one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskReport {
    pub task_id: String,
    pub state: TaskState,
    pub err: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiResult {
    /// What the CLI prints; `watch` asks the caller to follow a service until it converges.
    Done {
        outcome: DockerOutcome,
        watch: Option<String>,
    },
    Joined(Joined),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SwarmMsg {
    Raft(raft::Message<Proposal>),
    Call(ApiCall),
    Reply {
        call: u64,
        result: ApiResult,
    },
    /// Agent → dispatcher: I am alive; here is every task I run, its state and error.
    Heartbeat {
        node_id: String,
        tasks: Vec<TaskReport>,
    },
    /// Dispatcher → agent: next heartbeat in `period`; the managers; your Raft ID while the
    /// store says you are a manager (how a promotion or demotion reaches the node); your
    /// load-balancer attachments, ingress among them (swarmkit's session carries the Node
    /// object with its `Attachments`), and the cluster's `NetworkBootstrapKeys`.
    HeartbeatAck {
        period: SimDuration,
        managers: Vec<(u64, Ipv4Addr)>,
        raft_id: Option<u64>,
        attachments: Vec<NetworkAttachment>,
        network_keys: Vec<EncryptionKey>,
    },
    /// Dispatcher → agent: every task assigned to you, whenever that set changes.
    Assignments(Vec<Task>),
    /// A manager that does not lead sends agents to the one that does.
    NotLeader {
        leader: Option<Ipv4Addr>,
    },
}

impl SwarmMsg {
    /// A rough size on the wire, for the fabric's bandwidth model.
    pub fn wire_len(&self) -> usize {
        match self {
            SwarmMsg::Raft(m) => match &m.body {
                raft::Body::Append { entries, .. } => 96 + 512 * entries.len(),
                _ => 96,
            },
            SwarmMsg::Assignments(t) => 128 + 512 * t.len(),
            SwarmMsg::Heartbeat { tasks, .. } => 96 + 48 * tasks.len(),
            _ => 256,
        }
    }
}

impl ApiResult {
    /// A daemon error: the CLI prints `Error response from daemon: TEXT`.
    pub fn error(text: &str) -> ApiResult {
        ApiResult::printed(&super::render::daemon(text))
    }

    /// A failure the CLI prints as this line.
    pub fn printed(line: &str) -> ApiResult {
        let outcome =
            DockerOutcome { stderr: format!("{line}\n"), exit_code: 1, ..Default::default() };
        ApiResult::Done { outcome, watch: None }
    }

    /// A call that was waiting on a leader that stepped down (swarmkit `ErrLostLeadership`).
    pub fn lost_leadership() -> ApiResult {
        ApiResult::error("rpc error: code = Unknown desc = raft: lost leadership")
    }
}

//! Service bindings (libnetwork `service_common.go`, `agent.go`): what a node knows of the
//! swarm's services on the overlays it has, and the names its embedded DNS answers there.
//!
//! Contract: when a task's container joins an overlay, its endpoint is bound locally and
//! published in NetworkDB's `endpoint_table` as an `EndpointRecord`
//! (`addServiceInfoToCluster`); the other nodes of that network bind it from the table's
//! events (`handleEpTableEvent`), never from the cluster store. A binding adds DNS records
//! on the endpoint's network (`addEndpointNameResolution`): the container (task) name;
//! `tasks.<service>`; and `<service>` itself, which names the service's VIP, or in dnsrr
//! mode (no VIP) every task. A container on an attachable overlay with no service gets
//! only its name. The ingress network is for routing only: its bindings add no names
//! (`addSvcRecords`), only load balancing. Unbinding removes exactly what binding added. Each (service, network)
//! pair a node sees gets the next fwmark of the node's counter, which starts at 256 and is
//! never reused (fact 29): the LB sandbox's IPVS service is keyed by it.
//!
//! A task that stops is first disabled (`disableServiceInNetworkDB`): its record is
//! re-published with `service_disabled`, which takes its names away and sets its weight in
//! every load balancer to 0, so that established connections drain; the record's deletion
//! then removes the backend.

use std::net::Ipv4Addr;

use indexmap::IndexMap;

use super::daemon::Daemon;
use super::network::Endpoint;
use super::swarm::store::{PortConfig, Protocol, PublishMode};
use crate::proto::networkdb::{WatchEvent, WatchOp};

/// NetworkDB's table of service endpoints (`libnetworkEPTable`).
pub const ENDPOINT_TABLE: &str = "endpoint_table";

/// The first fwmark a node hands out (`fwMarkCtr`).
const FIRST_FWMARK: u32 = 256;

/// `EndpointRecord` (libnetwork `agent.proto`) as protobuf: strings 1–5, repeated
/// `PortConfig` messages 6 (on the ingress network only), repeated strings 7 (service
/// aliases) and 8 (task aliases), and the bool 9.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRecord {
    /// The container's name: `<service>.<slot>.<task ID>` for a task.
    pub name: String,
    pub service_name: String,
    /// Empty for a container that is not a service's task.
    pub service_id: String,
    /// The service's VIP on this network; `None` in dnsrr mode.
    pub virtual_ip: Option<Ipv4Addr>,
    pub endpoint_ip: Ipv4Addr,
    pub ingress_ports: Vec<PortConfig>,
    pub aliases: Vec<String>,
    pub task_aliases: Vec<String>,
    /// The task is stopping: keep its connections, send it no new ones.
    pub service_disabled: bool,
}

/// A protobuf varint.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A protobuf varint at the start of `bytes`, and the rest.
fn get_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let mut v = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, &bytes[i + 1..]));
        }
    }
    None
}

/// `PortConfig` (libnetwork `agent.proto`): protocol 2, target port 3, published port 4,
/// publish mode 5 (the name, 1, is never set by swarm); proto3 leaves zeros out.
fn encode_port(p: &PortConfig) -> Vec<u8> {
    let protocol = match p.protocol {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
        Protocol::Sctp => 2,
    };
    let mode = u64::from(p.mode == PublishMode::Host);
    let fields =
        [(2u8, protocol), (3, u64::from(p.target)), (4, u64::from(p.published)), (5, mode)];
    let mut out = Vec::new();
    for (tag, v) in fields.into_iter().filter(|(_, v)| *v != 0) {
        out.push(tag << 3);
        put_varint(&mut out, v);
    }
    out
}

fn decode_port(mut rest: &[u8]) -> Option<PortConfig> {
    let mut p =
        PortConfig { protocol: Protocol::Tcp, target: 0, published: 0, mode: PublishMode::Ingress };
    while let [key, tail @ ..] = rest {
        let (v, tail) = get_varint(tail)?;
        rest = tail;
        match key >> 3 {
            2 => {
                p.protocol =
                    [Protocol::Tcp, Protocol::Udp, Protocol::Sctp].get(v as usize).copied()?
            }
            3 => p.target = u16::try_from(v).ok()?,
            4 => p.published = u16::try_from(v).ok()?,
            5 => p.mode = if v == 1 { PublishMode::Host } else { PublishMode::Ingress },
            _ => return None,
        }
    }
    Some(p)
}

/// One length-delimited field.
fn put_bytes(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push((tag << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

impl EndpointRecord {
    pub fn encode(&self) -> Vec<u8> {
        let vip = self.virtual_ip.map(|v| v.to_string()).unwrap_or_default();
        let ip = self.endpoint_ip.to_string();
        let fields: Vec<(u8, &str)> = vec![
            (1, &self.name),
            (2, &self.service_name),
            (3, &self.service_id),
            (4, &vip),
            (5, &ip),
        ];
        let mut out = Vec::new();
        // proto3 leaves empty strings out.
        for (tag, text) in fields.into_iter().filter(|(_, t)| !t.is_empty()) {
            put_bytes(&mut out, tag, text.as_bytes());
        }
        for port in &self.ingress_ports {
            put_bytes(&mut out, 6, &encode_port(port));
        }
        for (tag, list) in [(7, &self.aliases), (8, &self.task_aliases)] {
            for alias in list {
                put_bytes(&mut out, tag, alias.as_bytes());
            }
        }
        if self.service_disabled {
            out.extend([9 << 3, 1]);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<EndpointRecord> {
        let mut rec = EndpointRecord {
            name: String::new(),
            service_name: String::new(),
            service_id: String::new(),
            virtual_ip: None,
            endpoint_ip: Ipv4Addr::UNSPECIFIED,
            ingress_ports: Vec::new(),
            aliases: Vec::new(),
            task_aliases: Vec::new(),
            service_disabled: false,
        };
        let mut rest = bytes;
        while let [key, tail @ ..] = rest {
            let (v, tail) = get_varint(tail)?;
            if key >> 3 == 9 {
                rec.service_disabled = v != 0;
                rest = tail;
                continue;
            }
            let len = usize::try_from(v).ok()?;
            let field = tail.get(..len)?;
            rest = &tail[len..];
            if key >> 3 == 6 {
                rec.ingress_ports.push(decode_port(field)?);
                continue;
            }
            let text = std::str::from_utf8(field).ok()?.to_string();
            match key >> 3 {
                1 => rec.name = text,
                2 => rec.service_name = text,
                3 => rec.service_id = text,
                4 => rec.virtual_ip = Some(text.parse().ok()?),
                5 => rec.endpoint_ip = text.parse().ok()?,
                7 => rec.aliases.push(text),
                8 => rec.task_aliases.push(text),
                _ => return None,
            }
        }
        (!rec.name.is_empty() && !rec.endpoint_ip.is_unspecified()).then_some(rec)
    }
}

/// The service a task container belongs to, as the task told the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskService {
    pub id: String,
    pub name: String,
    /// The service's VIP per network ID (none in dnsrr mode).
    pub vips: Vec<(String, Ipv4Addr)>,
    /// The service's ingress-mode published ports.
    pub ingress_ports: Vec<PortConfig>,
}

/// A service's load balancer on one network of this node (`loadBalancer`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadBalancer {
    pub vip: Ipv4Addr,
    pub fwmark: u32,
    /// The published ports, as the service's first record on ingress carried them.
    pub ingress_ports: Vec<PortConfig>,
    /// Backends by endpoint ID: the address, and whether the task is draining.
    pub backends: IndexMap<String, (Ipv4Addr, bool)>,
}

/// What happened to one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChange {
    /// It joined; `new_service` if it is the service's first on this network.
    Added { new_service: bool },
    /// Its task is stopping: weight 0.
    Disabled,
    /// It left; `service_gone` if it was the last.
    Removed { service_gone: bool },
}

/// What a binding did to a network's load balancer, for its LB sandbox to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbChange {
    pub vip: Ipv4Addr,
    pub fwmark: u32,
    pub ingress_ports: Vec<PortConfig>,
    pub backend: Ipv4Addr,
    pub what: BackendChange,
}

impl LbChange {
    /// What `what` does to `backend` of the load balancer `lb`.
    pub(crate) fn of(lb: &LoadBalancer, backend: Ipv4Addr, what: BackendChange) -> LbChange {
        let (vip, fwmark, ingress_ports) = (lb.vip, lb.fwmark, lb.ingress_ports.clone());
        LbChange { vip, fwmark, ingress_ports, backend, what }
    }
}

/// The network a binding is on: its ID, and whether it is the routing-only ingress.
#[derive(Debug, Clone, Copy)]
struct Net<'a> {
    id: &'a str,
    ingress: bool,
}

/// Everything bound on this node.
#[derive(Debug, Clone)]
pub struct ServiceBindings {
    /// Per network ID: lower-case DNS name → the (endpoint ID, address) records, in the
    /// order bound (`svcRecords`).
    names: IndexMap<String, IndexMap<String, Vec<(String, Ipv4Addr)>>>,
    /// Per (service ID, network ID).
    lbs: IndexMap<(String, String), LoadBalancer>,
    next_fwmark: u32,
}

impl Default for ServiceBindings {
    fn default() -> Self {
        ServiceBindings { names: IndexMap::new(), lbs: IndexMap::new(), next_fwmark: FIRST_FWMARK }
    }
}

impl ServiceBindings {
    /// The addresses `name` has on network `net`, each once, in the order bound: a VIP
    /// once, or every task in dnsrr mode.
    pub fn lookup(&self, net: &str, name: &str) -> Vec<Ipv4Addr> {
        let records = self.names.get(net).and_then(|n| n.get(&name.to_ascii_lowercase()));
        let ips: indexmap::IndexSet<Ipv4Addr> =
            records.into_iter().flatten().map(|(_, ip)| *ip).collect();
        ips.into_iter().collect()
    }

    /// The load balancers on network `net`.
    pub fn load_balancers<'a>(&'a self, net: &'a str) -> impl Iterator<Item = &'a LoadBalancer> {
        self.lbs.iter().filter(move |((_, n), _)| n == net).map(|(_, lb)| lb)
    }

    /// What a record says, bound: `addServiceBinding`, or for a disabled record
    /// `rmServiceBinding` without the full removal.
    fn apply(&mut self, net: &Net, eid: &str, rec: &EndpointRecord) -> Option<LbChange> {
        if rec.service_disabled {
            return self.disable(net.id, eid, &rec.service_id);
        }
        self.bind(net, eid, rec)
    }

    /// `addServiceBinding` / `addContainerNameResolution` for one endpoint record.
    fn bind(&mut self, net: &Net, eid: &str, rec: &EndpointRecord) -> Option<LbChange> {
        if !net.ingress {
            self.add_names(net.id, eid, rec);
        }
        if rec.service_id.is_empty() {
            return None;
        }
        let (net, ip) = (net.id, rec.endpoint_ip);
        let vip = rec.virtual_ip?;
        let key = (rec.service_id.clone(), net.to_string());
        let next = &mut self.next_fwmark;
        let lb = self.lbs.entry(key).or_insert_with(|| {
            *next += 1;
            let ingress_ports = rec.ingress_ports.clone();
            LoadBalancer { vip, fwmark: *next - 1, ingress_ports, backends: IndexMap::new() }
        });
        let new_service = lb.backends.is_empty();
        let fresh = lb.backends.insert(eid.to_string(), (ip, false)).is_none();
        fresh.then(|| LbChange::of(lb, ip, BackendChange::Added { new_service }))
    }

    /// The container's (task's) names, and for a task its service's.
    fn add_names(&mut self, net: &str, eid: &str, rec: &EndpointRecord) {
        let ip = rec.endpoint_ip;
        self.add_name(net, &rec.name, eid, ip);
        for alias in &rec.task_aliases {
            self.add_name(net, alias, eid, ip);
        }
        if rec.service_id.is_empty() {
            return;
        }
        for svc in std::iter::once(&rec.service_name).chain(&rec.aliases) {
            self.add_name(net, &format!("tasks.{svc}"), eid, ip);
            self.add_name(net, svc, eid, rec.virtual_ip.unwrap_or(ip));
        }
    }

    /// The endpoint's names go and its backend drains (weight 0), but stays until removed.
    fn disable(&mut self, net: &str, eid: &str, service_id: &str) -> Option<LbChange> {
        self.remove_names(net, eid);
        let lb = self.lbs.get_mut(&(service_id.to_string(), net.to_string()))?;
        let (ip, disabled) = lb.backends.get_mut(eid)?;
        let ip = *ip;
        (!std::mem::replace(disabled, true)).then(|| LbChange::of(lb, ip, BackendChange::Disabled))
    }

    /// `rmServiceBinding` / `delContainerNameResolution`: every record of the endpoint goes;
    /// a load balancer goes with its last backend.
    fn unbind(&mut self, net: &str, eid: &str, service_id: &str) -> Option<LbChange> {
        self.remove_names(net, eid);
        let key = (service_id.to_string(), net.to_string());
        let lb = self.lbs.get_mut(&key)?;
        let (backend, _) = lb.backends.shift_remove(eid)?;
        let service_gone = lb.backends.is_empty();
        let change = LbChange::of(lb, backend, BackendChange::Removed { service_gone });
        if service_gone {
            self.lbs.shift_remove(&key);
        }
        Some(change)
    }

    fn remove_names(&mut self, net: &str, eid: &str) {
        if let Some(names) = self.names.get_mut(net) {
            for records in names.values_mut() {
                records.retain(|(e, _)| e != eid);
            }
            names.retain(|_, records| !records.is_empty());
        }
    }

    /// One record per (name, endpoint): a VIP is shared by the service's endpoints, so
    /// `<service>` keeps one entry per endpoint (it goes with the last) but `lookup`
    /// answers the VIP once.
    fn add_name(&mut self, net: &str, name: &str, eid: &str, ip: Ipv4Addr) {
        let records = self.names.entry(net.to_string()).or_default();
        let list = records.entry(name.to_ascii_lowercase()).or_default();
        if !list.iter().any(|(e, _)| e == eid) {
            list.push((eid.to_string(), ip));
        }
    }

    /// Forgets a network this node no longer has.
    fn drop_network(&mut self, net: &str) {
        self.names.shift_remove(net);
        self.lbs.retain(|(_, n), _| n != net);
    }
}

impl Daemon {
    /// The record this node publishes for a container's endpoint on overlay `net_id`;
    /// ingress ports only on the ingress network (`addServiceInfoToCluster`).
    fn endpoint_record(&self, net_id: &str, ep: &Endpoint) -> EndpointRecord {
        let service = self.task_service(&ep.container_id);
        let vip = service.and_then(|s| s.vips.iter().find(|(n, _)| n == net_id).map(|v| v.1));
        let ingress_ports = match service {
            Some(s) if self.binding_net(net_id).ingress => s.ingress_ports.clone(),
            _ => Vec::new(),
        };
        EndpointRecord {
            name: ep.name.clone(),
            service_name: service.map(|s| s.name.clone()).unwrap_or_default(),
            service_id: service.map(|s| s.id.clone()).unwrap_or_default(),
            virtual_ip: vip,
            endpoint_ip: ep.addr.addr(),
            ingress_ports,
            aliases: Vec::new(),
            task_aliases: ep.aliases.clone(),
            service_disabled: false,
        }
    }

    fn binding_net<'a>(&self, net_id: &'a str) -> Net<'a> {
        let ingress = self.networks[net_id].overlay.as_ref().is_some_and(|o| o.ingress);
        Net { id: net_id, ingress }
    }

    /// `addServiceInfoToCluster` for one endpoint: bound here, then published.
    pub(crate) fn publish_service_info(&mut self, net_id: &str, ep: &Endpoint) {
        let rec = self.endpoint_record(net_id, ep);
        let net = self.binding_net(net_id);
        let change = self.swarm.services.bind(&net, &ep.id, &rec);
        self.follow_lb(net_id, change);
        self.with_gossip(|g| g.create_entry(ENDPOINT_TABLE, net_id, &ep.id, rec.encode()));
    }

    /// `disableServiceInNetworkDB` for one endpoint of a stopping task: re-published as
    /// disabled, and drained here.
    pub(crate) fn disable_service_info(&mut self, net_id: &str, ep: &Endpoint) {
        let rec = EndpointRecord { service_disabled: true, ..self.endpoint_record(net_id, ep) };
        let change = self.swarm.services.disable(net_id, &ep.id, &rec.service_id);
        self.follow_lb(net_id, change);
        self.with_gossip(|g| g.update_entry(ENDPOINT_TABLE, net_id, &ep.id, rec.encode()));
    }

    /// Hands a binding's change to the network's LB sandbox.
    fn follow_lb(&mut self, net_id: &str, change: Option<LbChange>) {
        if let Some(change) = change {
            let ops = self.program_lb(net_id, &change);
            self.swarm.outbox.ops.extend(ops);
        }
    }

    /// `deleteServiceInfoFromCluster`: withdrawn, then unbound here.
    pub(crate) fn withdraw_service_info(&mut self, net_id: &str, ep: &Endpoint) {
        let service_id = self.task_service(&ep.container_id).map(|s| s.id.clone());
        self.with_gossip(|g| g.delete_entry(ENDPOINT_TABLE, net_id, &ep.id));
        let change = self.swarm.services.unbind(net_id, &ep.id, &service_id.unwrap_or_default());
        self.follow_lb(net_id, change);
    }

    /// `handleEpTableEvent`: a remote endpoint on a network this node has.
    pub(crate) fn on_endpoint_event(&mut self, w: &WatchEvent) {
        if !self.networks.contains_key(&w.network) {
            return;
        }
        let Some(rec) = EndpointRecord::decode(&w.value) else { return };
        let net = self.binding_net(&w.network);
        let services = &mut self.swarm.services;
        let change = match w.op {
            WatchOp::Create | WatchOp::Update => services.apply(&net, &w.key, &rec),
            WatchOp::Delete => services.unbind(&w.network, &w.key, &rec.service_id),
        };
        self.follow_lb(&w.network, change);
    }

    /// The node leaves the network: its bindings there go.
    pub(crate) fn drop_service_bindings(&mut self, net_id: &str) {
        self.swarm.services.drop_network(net_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N: Net = Net { id: "n", ingress: false };

    fn task(name: &str, ip: [u8; 4], vip: Option<[u8; 4]>) -> EndpointRecord {
        EndpointRecord {
            name: name.into(),
            service_name: "web".into(),
            service_id: "svc1".into(),
            virtual_ip: vip.map(Ipv4Addr::from),
            endpoint_ip: Ipv4Addr::from(ip),
            ingress_ports: vec![],
            aliases: vec![],
            task_aliases: vec![],
            service_disabled: false,
        }
    }

    #[test]
    fn records_round_trip_as_protobuf_and_leave_empty_strings_out() {
        let rec = task("web.1.abc", [10, 0, 1, 3], Some([10, 0, 1, 2]));
        let bytes = rec.encode();
        assert_eq!(&bytes[..11], b"\x0a\x09web.1.abc");
        assert_eq!(EndpointRecord::decode(&bytes), Some(rec));
        let dnsrr = task("web.1.abc", [10, 0, 1, 3], None);
        assert!(!dnsrr.encode().contains(&0x22), "no field 4 without a VIP");
        assert_eq!(EndpointRecord::decode(&dnsrr.encode()), Some(dnsrr));
    }

    #[test]
    fn a_vip_service_answers_its_vip_and_tasks_answers_every_task() {
        let mut b = ServiceBindings::default();
        b.bind(&N, "e1", &task("web.1.a", [10, 0, 1, 3], Some([10, 0, 1, 2])));
        b.bind(&N, "e2", &task("web.2.b", [10, 0, 1, 4], Some([10, 0, 1, 2])));
        assert_eq!(b.lookup("n", "web"), [Ipv4Addr::new(10, 0, 1, 2)]);
        let tasks = b.lookup("n", "TASKS.web");
        assert_eq!(tasks, [Ipv4Addr::new(10, 0, 1, 3), Ipv4Addr::new(10, 0, 1, 4)]);
        assert_eq!(b.lookup("n", "web.2.b"), [Ipv4Addr::new(10, 0, 1, 4)]);
        assert!(b.lookup("other", "web").is_empty(), "names are per network");
        let lb: Vec<_> = b.load_balancers("n").collect();
        assert_eq!((lb.len(), lb[0].fwmark, lb[0].backends.len()), (1, 256, 2));
    }

    #[test]
    fn dnsrr_answers_the_tasks_and_has_no_load_balancer() {
        let mut b = ServiceBindings::default();
        b.bind(&N, "e1", &task("web.1.a", [10, 0, 1, 3], None));
        b.bind(&N, "e2", &task("web.2.b", [10, 0, 1, 4], None));
        assert_eq!(b.lookup("n", "web"), [Ipv4Addr::new(10, 0, 1, 3), Ipv4Addr::new(10, 0, 1, 4)]);
        assert_eq!(b.load_balancers("n").count(), 0);
    }

    #[test]
    fn unbinding_removes_what_binding_added_and_fwmarks_are_never_reused() {
        let mut b = ServiceBindings::default();
        b.bind(&N, "e1", &task("web.1.a", [10, 0, 1, 3], Some([10, 0, 1, 2])));
        b.unbind("n", "e1", "svc1");
        assert!(b.lookup("n", "web").is_empty() && b.lookup("n", "tasks.web").is_empty());
        assert_eq!(b.load_balancers("n").count(), 0);
        b.bind(&N, "e2", &task("web.2.b", [10, 0, 1, 4], Some([10, 0, 1, 2])));
        assert_eq!(b.load_balancers("n").next().map(|lb| lb.fwmark), Some(257));
    }
}

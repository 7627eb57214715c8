//! The manager's network allocator (swarmkit `manager/allocator`, cnmallocator): subnets,
//! VNIs, gateways, service VIPs, published ports, task addresses and node load-balancer
//! addresses, as a pure function of the committed store plus a few serial cursors.
//!
//! Contract: [`Allocator::allocate`] returns, as [`StoreOp`]s, every allocation the committed
//! store still lacks, and nothing it already has; so a pass over a store that already holds
//! its result returns no ops. What is in use is recomputed from the store on every pass (a
//! task's addresses count only while it is at most RUNNING, so a replacement gets a new IP);
//! the allocator itself keeps only where each serial allocation stopped.
//!
//! Order within a pass, as swarmkit's `doNetworkInit` (SK `manager/allocator/network.go`):
//! ingress, other networks, nodes' load-balancer attachments, services, tasks. A node's LB
//! address on an overlay is wanted only once a non-terminal task of that network has the
//! node's ID (`getNodeNetworks`, reached from `doTaskAlloc` when the scheduler's write comes
//! back); so for a new overlay with one replica the order is gateway .1, VIP .2, task .3 (all
//! before scheduling), and LB .4 in the pass after the task was assigned (fact 18).
//!
//! Addresses are serial (fact 15, cnmallocator `setIPAMSerialAlloc`): each network hands out
//! the address after the last one it gave, wrapping at the end of the range. The global pool
//! is 10.0.0.0/8 in /24s, first fit (fact 14); VNIs count up from 4096 (ovmanager); ingress
//! ports without a published port get one from 30000–32767, serially (fact 20,
//! `portallocator.go`).
//!
//! After a leader change, [`Allocator::from_store`] restarts each cursor just past the highest
//! value in use: swarmkit's restored bitmaps do not record where the old leader stopped, and
//! this keeps "never reuse until the range wraps" true for everything still allocated.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use indexmap::IndexMap;
use ipnet::Ipv4Net;

use super::store::{
    EndpointMode, NetworkAllocation, NetworkAttachment, NodeAttachment, PortConfig, Protocol,
    PublishMode, Service, ServiceEndpoint, ServiceSpec, Store, StoreOp, Task, TaskState,
    TaskStatus, VirtualIp,
};
use crate::engine::SimTime;

/// The first VXLAN ID the overlay driver's manager hands out (fact 4).
const FIRST_VNI: u32 = 4096;
/// The last VXLAN ID (24 bits).
const LAST_VNI: u32 = (1 << 24) - 1;
/// The dynamic range for published ports (swarmkit `dynamicPortStart`/`dynamicPortEnd`).
const DYNAMIC_PORTS: (u16, u16) = (30000, 32767);
/// swarmkit's status message once a task's networks are allocated (`allocatedStatusMessage`).
pub const PENDING_MESSAGE: &str = "pending task scheduling";
/// The controlapi's refusal of dnsrr with ingress-published ports (fact 34).
pub const DNSRR_INGRESS_ERROR: &str =
    "EndpointSpec: port published with ingress mode can't be used with dnsrr mode";

/// The manager's allocator: serial cursors; everything else is read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocator {
    /// Per network ID: the host offset (from the subnet's base) to try next.
    next_host: IndexMap<String, u32>,
    next_vni: u32,
    next_port: u16,
}

impl Default for Allocator {
    fn default() -> Self {
        Allocator { next_host: IndexMap::new(), next_vni: FIRST_VNI, next_port: DYNAMIC_PORTS.0 }
    }
}

/// Refuses endpoint specs swarmkit's controlapi refuses (`validateEndpointSpec`).
pub fn validate_endpoint(spec: &ServiceSpec) -> Result<(), String> {
    let ingress = spec.ports.iter().any(|p| p.mode == PublishMode::Ingress);
    if spec.endpoint_mode == EndpointMode::Dnsrr && ingress {
        return Err(DNSRR_INGRESS_ERROR.to_string());
    }
    Ok(())
}

/// Whether the routing mesh must carry this spec (`IsIngressNetworkNeeded`).
pub fn needs_ingress(spec: &ServiceSpec) -> bool {
    spec.ports.iter().any(|p| p.mode == PublishMode::Ingress)
}

/// What is in use in the store being allocated, updated as the pass allocates.
struct InUse {
    subnets: Vec<Ipv4Net>,
    vnis: BTreeSet<u32>,
    /// Per network ID: its allocation and the addresses taken in it.
    networks: IndexMap<String, (NetworkAllocation, BTreeSet<Ipv4Addr>)>,
    ports: BTreeSet<(Protocol, u16)>,
}

impl InUse {
    fn of(store: &Store) -> InUse {
        let mut used = InUse {
            subnets: Vec::new(),
            vnis: BTreeSet::new(),
            networks: IndexMap::new(),
            ports: BTreeSet::new(),
        };
        for n in store.networks.values() {
            if let Some(a) = &n.allocation {
                used.add_network(&n.id, a.clone());
            }
        }
        for s in store.services.values() {
            used.add_endpoint(s.endpoint.as_ref());
        }
        for t in store.tasks.values().filter(|t| !t.status.state.is_terminal()) {
            for a in &t.networks {
                used.take(&a.network.id, a.addr.addr());
            }
        }
        for a in &store.node_attachments {
            used.take(&a.network_id, a.addr.addr());
        }
        used
    }

    fn add_network(&mut self, id: &str, a: NetworkAllocation) {
        self.subnets.push(a.subnet);
        self.vnis.insert(a.vni);
        let gateway = a.gateway;
        self.networks.insert(id.to_string(), (a, BTreeSet::from([gateway])));
    }

    fn add_endpoint(&mut self, endpoint: Option<&ServiceEndpoint>) {
        let Some(e) = endpoint else { return };
        for v in &e.virtual_ips {
            self.take(&v.network_id, v.addr.addr());
        }
        for p in e.ports.iter().filter(|p| p.mode == PublishMode::Ingress && p.published != 0) {
            self.ports.insert((p.protocol, p.published));
        }
    }

    fn take(&mut self, network_id: &str, addr: Ipv4Addr) {
        if let Some((_, taken)) = self.networks.get_mut(network_id) {
            taken.insert(addr);
        }
    }

    fn subnet_free(&self, candidate: Ipv4Net) -> bool {
        !self.subnets.iter().any(|s| s.contains(&candidate) || candidate.contains(s))
    }
}

/// The host offsets a subnet can hand out: the network and broadcast addresses are reserved
/// (not in /31s and /32s, fact 14).
fn host_range(subnet: Ipv4Net) -> (u32, u32) {
    let size = 1u32 << (32 - u32::from(subnet.prefix_len()));
    if size <= 2 {
        (0, size - 1)
    } else {
        (1, size - 2)
    }
}

fn at_offset(subnet: Ipv4Net, offset: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(subnet.network()) + offset)
}

impl Allocator {
    /// A new leader's allocator: cursors just past what the committed store uses.
    pub fn from_store(store: &Store) -> Allocator {
        let mut alloc = Allocator::default();
        let used = InUse::of(store);
        for (id, (a, taken)) in &used.networks {
            let base = u32::from(a.subnet.network());
            let last = taken.iter().map(|ip| u32::from(*ip) - base).max().unwrap_or(0);
            alloc.next_host.insert(id.clone(), last + 1);
        }
        alloc.next_vni = used.vnis.last().map_or(FIRST_VNI, |v| v + 1);
        let dynamic = used.ports.iter().map(|(_, p)| *p).filter(|p| *p >= DYNAMIC_PORTS.0);
        alloc.next_port = dynamic.max().map_or(DYNAMIC_PORTS.0, |p| p.saturating_add(1));
        alloc
    }

    /// Every allocation the committed store still lacks, as ops.
    pub fn allocate(&mut self, store: &Store, now: SimTime) -> Vec<StoreOp> {
        self.next_host.retain(|id, _| store.networks.contains_key(id));
        let mut used = InUse::of(store);
        let mut ops = Vec::new();
        self.allocate_networks(store, &mut used, &mut ops);
        self.allocate_nodes(store, &mut used, &mut ops);
        let services = self.allocate_services(store, &mut used, &mut ops);
        self.allocate_tasks(store, &services, &mut used, now, &mut ops);
        ops
    }

    /// Unallocated networks, ingress first (`doNetworkInit`), then in store order.
    fn allocate_networks(&mut self, store: &Store, used: &mut InUse, ops: &mut Vec<StoreOp>) {
        let pending = store.networks.values().filter(|n| n.allocation.is_none());
        let (ingress, others): (Vec<_>, Vec<_>) = pending.partition(|n| n.ingress);
        for n in ingress.into_iter().chain(others) {
            let Some(subnet) = n.requested_subnet.or_else(|| first_free_subnet(used)) else {
                continue;
            };
            let Some(vni) = self.next_vni(used) else { continue };
            let (first, _) = host_range(subnet);
            let gateway = at_offset(subnet, first);
            let allocation = NetworkAllocation { subnet, gateway, vni };
            used.add_network(&n.id, allocation.clone());
            self.next_host.insert(n.id.clone(), first + 1);
            let mut n = n.clone();
            n.allocation = Some(allocation);
            ops.push(StoreOp::PutNetwork(Box::new(n)));
        }
    }

    fn next_vni(&mut self, used: &mut InUse) -> Option<u32> {
        let span = LAST_VNI - FIRST_VNI + 1;
        let vni = (0..span)
            .map(|i| FIRST_VNI + (self.next_vni - FIRST_VNI + i) % span)
            .find(|v| !used.vnis.contains(v))?;
        used.vnis.insert(vni);
        self.next_vni = if vni == LAST_VNI { FIRST_VNI } else { vni + 1 };
        Some(vni)
    }

    /// The next free address of a network, serially; `None` if it is not allocated or full.
    fn next_addr(&mut self, used: &mut InUse, network_id: &str) -> Option<Ipv4Net> {
        let (a, taken) = used.networks.get_mut(network_id)?;
        let (first, last) = host_range(a.subnet);
        let span = last - first + 1;
        let start = self.next_host.get(network_id).copied().unwrap_or(first);
        let start = if (first..=last).contains(&start) { start } else { first };
        let offset = (0..span)
            .map(|i| first + (start - first + i) % span)
            .find(|o| !taken.contains(&at_offset(a.subnet, *o)))?;
        let addr = at_offset(a.subnet, offset);
        taken.insert(addr);
        self.next_host.insert(network_id.to_string(), offset + 1);
        Some(Ipv4Net::new(addr, a.subnet.prefix_len()).expect("prefix from a subnet"))
    }

    /// Each node gets an LB address on ingress and on every overlay where it has a
    /// non-terminal task; attachments no longer wanted are released (`allocateNode`).
    fn allocate_nodes(&mut self, store: &Store, used: &mut InUse, ops: &mut Vec<StoreOp>) {
        for node in store.nodes.values() {
            let wanted = node_networks(store, &node.id);
            for net in &wanted {
                let has = store
                    .node_attachments
                    .iter()
                    .any(|a| a.node_id == node.id && &a.network_id == net);
                if has {
                    continue;
                }
                if let Some(addr) = self.next_addr(used, net) {
                    let (node_id, network_id) = (node.id.clone(), net.clone());
                    ops.push(StoreOp::PutNodeAttachment(NodeAttachment {
                        node_id,
                        network_id,
                        addr,
                    }));
                }
            }
            for a in store.node_attachments.iter().filter(|a| a.node_id == node.id) {
                if !wanted.contains(&a.network_id) {
                    ops.push(StoreOp::DeleteNodeAttachment {
                        node_id: a.node_id.clone(),
                        network_id: a.network_id.clone(),
                    });
                }
            }
        }
    }

    /// Services whose endpoint is missing or out of date with their spec; returns the
    /// endpoints of services that are allocated once this pass's ops apply, by ID.
    fn allocate_services(
        &mut self,
        store: &Store,
        used: &mut InUse,
        ops: &mut Vec<StoreOp>,
    ) -> BTreeMap<String, ServiceEndpoint> {
        let mut allocated = BTreeMap::new();
        for s in store.services.values() {
            let Some(endpoint) = self.service_endpoint(store, s, used) else { continue };
            allocated.insert(s.id.clone(), endpoint.clone());
            if s.endpoint.as_ref() != Some(&endpoint) {
                let mut s = s.clone();
                s.endpoint = Some(endpoint);
                ops.push(StoreOp::PutService(Box::new(s)));
            }
        }
        allocated
    }

    /// The endpoint a service should have: existing VIPs kept where still wanted, new ones
    /// appended (ingress first for a new service, as `allocateService` puts it there before
    /// cnmallocator's `AllocateService`); published ports filled in. `None` if a network it
    /// needs is not allocated yet.
    fn service_endpoint(
        &mut self,
        store: &Store,
        s: &Service,
        used: &mut InUse,
    ) -> Option<ServiceEndpoint> {
        let wanted = wanted_vip_networks(store, &s.spec)?;
        if wanted.iter().any(|n| !used.networks.contains_key(n)) {
            return None;
        }
        let old =
            s.endpoint.clone().unwrap_or(ServiceEndpoint { ports: vec![], virtual_ips: vec![] });
        let mut vips: Vec<VirtualIp> =
            old.virtual_ips.into_iter().filter(|v| wanted.contains(&v.network_id)).collect();
        for net in &wanted {
            if !vips.iter().any(|v| &v.network_id == net) {
                let addr = self.next_addr(used, net)?;
                vips.push(VirtualIp { network_id: net.clone(), addr });
            }
        }
        let ports = self.service_ports(&s.spec, &old.ports, used)?;
        Some(ServiceEndpoint { ports, virtual_ips: vips })
    }

    /// The spec's ports with a published port for each ingress one: as asked, else the one
    /// the service already had for that target, else the next dynamic port.
    fn service_ports(
        &mut self,
        spec: &ServiceSpec,
        old: &[PortConfig],
        used: &mut InUse,
    ) -> Option<Vec<PortConfig>> {
        let mut ports = Vec::new();
        for p in &spec.ports {
            let mut p = *p;
            if p.mode == PublishMode::Ingress && p.published == 0 {
                let kept = old
                    .iter()
                    .find(|o| o.mode == p.mode && o.protocol == p.protocol && o.target == p.target);
                p.published = match kept {
                    Some(o) if o.published != 0 => o.published,
                    _ => self.next_port(used, p.protocol)?,
                };
            }
            ports.push(p);
        }
        Some(ports)
    }

    fn next_port(&mut self, used: &mut InUse, protocol: Protocol) -> Option<u16> {
        let (first, last) = DYNAMIC_PORTS;
        let span = last - first + 1;
        let start = if (first..=last).contains(&self.next_port) { self.next_port } else { first };
        let port = (0..span)
            .map(|i| first + (start - first + i) % span)
            .find(|p| !used.ports.contains(&(protocol, *p)))?;
        used.ports.insert((protocol, port));
        self.next_port = if port == last { first } else { port + 1 };
        Some(port)
    }

    /// New tasks whose service (attachment tasks have none) and networks are allocated get
    /// an address on each network and move to PENDING (`allocateTask`,
    /// `taskCreateNetworkAttachments`).
    fn allocate_tasks(
        &mut self,
        store: &Store,
        services: &BTreeMap<String, ServiceEndpoint>,
        used: &mut InUse,
        now: SimTime,
        ops: &mut Vec<StoreOp>,
    ) {
        for t in store.tasks.values().filter(|t| t.status.state == TaskState::New) {
            if t.attachment.is_none() && !services.contains_key(&t.service_id) {
                continue;
            }
            let Some(nets) = task_networks(store, &t.spec) else { continue };
            if nets.iter().any(|n| !used.networks.contains_key(n)) {
                continue;
            }
            let Some(networks) = self.task_addresses(store, used, &nets) else { continue };
            let mut t: Task = t.clone();
            t.networks = networks;
            t.endpoint = services.get(&t.service_id).cloned();
            t.status = TaskStatus {
                timestamp: now,
                state: TaskState::Pending,
                message: PENDING_MESSAGE.to_string(),
                err: String::new(),
            };
            ops.push(StoreOp::PutTask(Box::new(t)));
        }
    }

    /// An address on each network, with the network as allocated (perhaps in this pass).
    fn task_addresses(
        &mut self,
        store: &Store,
        used: &mut InUse,
        nets: &[String],
    ) -> Option<Vec<NetworkAttachment>> {
        let mut out = Vec::new();
        for net in nets {
            let addr = self.next_addr(used, net)?;
            let mut network = store.networks[net].clone();
            network.allocation = Some(used.networks[net].0.clone());
            out.push(NetworkAttachment { network, addr });
        }
        Some(out)
    }
}

/// The lowest /24 of 10.0.0.0/8 that overlaps nothing in use.
fn first_free_subnet(used: &InUse) -> Option<Ipv4Net> {
    let pool = Ipv4Net::new(Ipv4Addr::new(10, 0, 0, 0), 8).expect("valid pool");
    pool.subnets(24).expect("/24 inside /8").find(|s| used.subnet_free(*s))
}

/// The networks a task of this spec attaches to: ingress first when it publishes through the
/// routing mesh, then its networks in spec order, unknown IDs skipped as swarmkit does.
/// `None` if it needs ingress and the swarm has none.
pub fn task_networks(store: &Store, spec: &ServiceSpec) -> Option<Vec<String>> {
    let mut nets = Vec::new();
    if needs_ingress(spec) {
        nets.push(store.ingress()?.id.clone());
    }
    for id in &spec.networks {
        if store.networks.contains_key(id) && !nets.contains(id) {
            nets.push(id.clone());
        }
    }
    Some(nets)
}

/// The networks a service gets a VIP on: none in dnsrr mode, else as its tasks' networks.
fn wanted_vip_networks(store: &Store, spec: &ServiceSpec) -> Option<Vec<String>> {
    match spec.endpoint_mode {
        EndpointMode::Dnsrr => Some(Vec::new()),
        EndpointMode::Vip => task_networks(store, spec),
    }
}

/// The networks a node needs an LB address on (`getNodeNetworks`): each network of a
/// non-terminal task assigned to it, in task order, and ingress.
fn node_networks(store: &Store, node_id: &str) -> Vec<String> {
    let mut nets: Vec<String> = Vec::new();
    let tasks = store.tasks.values().filter(|t| t.node_id == node_id);
    for t in tasks.filter(|t| !t.status.state.is_terminal()) {
        for a in &t.networks {
            if !nets.contains(&a.network.id) {
                nets.push(a.network.id.clone());
            }
        }
    }
    if let Some(ingress) = store.ingress() {
        if !nets.contains(&ingress.id) {
            nets.push(ingress.id.clone());
        }
    }
    nets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::swarm::orchestrator::testkit::*;
    use crate::docker::swarm::store::ServiceMode;
    use crate::engine::SimDuration;

    fn net(s: &str) -> Ipv4Net {
        s.parse().expect("test address")
    }

    #[test]
    fn swarm_init_allocates_ingress_then_the_first_node_sandbox() {
        let store = cluster(1);
        let ops = Allocator::from_store(&store).allocate(&store, SimTime::ZERO);
        let mut ingress = store.networks[INGRESS].clone();
        ingress.allocation = Some(NetworkAllocation {
            subnet: net("10.0.0.0/24"),
            gateway: Ipv4Addr::new(10, 0, 0, 1),
            vni: 4096,
        });
        let sbox = NodeAttachment {
            node_id: "node1".into(),
            network_id: INGRESS.into(),
            addr: net("10.0.0.2/24"),
        };
        assert_eq!(
            ops,
            vec![StoreOp::PutNetwork(Box::new(ingress)), StoreOp::PutNodeAttachment(sbox)]
        );
    }

    /// Fact 18: a new overlay with a one-replica service: gw .1, VIP .2, task .3, LB .4.
    #[test]
    fn one_replica_on_a_new_overlay_is_gw_vip_task_lb() {
        let mut h = Harness::new(cluster(1));
        h.settle(SimTime::ZERO, false);
        h.apply(&[StoreOp::PutNetwork(Box::new(network("overlayid", "appnet", false)))]);
        h.settle(SimTime::ZERO, false);
        let alloc = h.store.networks["overlayid"].allocation.clone().expect("allocated");
        assert_eq!(
            (alloc.subnet, alloc.gateway, alloc.vni),
            (net("10.0.1.0/24"), Ipv4Addr::new(10, 0, 1, 1), 4097)
        );
        let s = spec("web", ServiceMode::Replicated { replicas: 1 }, &["overlayid"]);
        h.put_service(service("webid", s));
        h.settle(SimTime::ZERO, true);
        let vips = &h.store.services["webid"].endpoint.as_ref().expect("endpoint").virtual_ips;
        assert_eq!(
            vips,
            &vec![VirtualIp { network_id: "overlayid".into(), addr: net("10.0.1.2/24") }]
        );
        let task = h.store.tasks.values().next().expect("one task");
        let addrs: Vec<_> = task.networks.iter().map(|a| (a.network.id.as_str(), a.addr)).collect();
        assert_eq!(addrs, vec![("overlayid", net("10.0.1.3/24"))]);
        assert_eq!(task.networks[0].network.allocation, Some(alloc));
        let lb: Vec<_> =
            h.store.node_attachments.iter().map(|a| (a.network_id.as_str(), a.addr)).collect();
        assert_eq!(lb, vec![(INGRESS, net("10.0.0.2/24")), ("overlayid", net("10.0.1.4/24"))]);
    }

    #[test]
    fn ingress_publishing_gets_a_port_from_30000_and_ingress_first() {
        let mut h = Harness::new(cluster(1));
        h.apply(&[StoreOp::PutNetwork(Box::new(network("overlayid", "appnet", false)))]);
        let mut s = spec("web", ServiceMode::Replicated { replicas: 1 }, &["overlayid"]);
        let port = PortConfig {
            protocol: Protocol::Tcp,
            target: 80,
            published: 0,
            mode: PublishMode::Ingress,
        };
        s.ports = vec![port, PortConfig { target: 81, ..port }];
        h.put_service(service("webid", s));
        h.settle(SimTime::ZERO, true);
        let e = h.store.services["webid"].endpoint.clone().expect("endpoint");
        assert_eq!(e.ports.iter().map(|p| p.published).collect::<Vec<_>>(), vec![30000, 30001]);
        let vips: Vec<_> = e.virtual_ips.iter().map(|v| (v.network_id.as_str(), v.addr)).collect();
        // ingress: gw .1, node1's ingress-sbox .2, VIP .3; the overlay: gw .1, VIP .2.
        assert_eq!(vips, vec![(INGRESS, net("10.0.0.3/24")), ("overlayid", net("10.0.1.2/24"))]);
        let task = h.store.tasks.values().next().expect("one task");
        let addrs: Vec<_> = task.networks.iter().map(|a| a.addr).collect();
        assert_eq!(addrs, vec![net("10.0.0.4/24"), net("10.0.1.3/24")]);
        assert_eq!(h.alloc.allocate(&h.store, SimTime::ZERO), vec![]);
    }

    #[test]
    fn a_replacement_task_gets_the_next_address_not_the_freed_one() {
        let mut h = Harness::new(cluster(1));
        h.apply(&[StoreOp::PutNetwork(Box::new(network("overlayid", "appnet", false)))]);
        let s = spec("web", ServiceMode::Replicated { replicas: 1 }, &["overlayid"]);
        h.put_service(service("webid", s));
        h.settle(SimTime::ZERO, true);
        let mut failed = h.store.tasks.values().next().expect("task").clone();
        failed.status.state = TaskState::Failed;
        h.apply(&[StoreOp::PutTask(Box::new(failed.clone()))]);
        h.settle(SimTime::ZERO + SimDuration::from_secs(10), true);
        let live = h.live_tasks("webid");
        assert_eq!(live.len(), 1);
        assert_ne!(live[0].id, failed.id);
        // .3 was the old task's, .4 node1's LB (released while node1 had no task, then
        // allocated again as .6 once the new task, .5, was assigned).
        assert_eq!(live[0].networks[0].addr, net("10.0.1.5/24"));
        let lb = h.store.node_attachments.iter().find(|a| a.network_id == "overlayid");
        assert_eq!(lb.map(|a| a.addr), Some(net("10.0.1.6/24")));
    }

    #[test]
    fn dnsrr_has_no_vip_and_refuses_ingress_ports() {
        let mut s = spec("db", ServiceMode::Replicated { replicas: 1 }, &["overlayid"]);
        s.endpoint_mode = EndpointMode::Dnsrr;
        assert_eq!(validate_endpoint(&s), Ok(()));
        let mut h = Harness::new(cluster(1));
        h.apply(&[StoreOp::PutNetwork(Box::new(network("overlayid", "appnet", false)))]);
        h.put_service(service("dbid", s.clone()));
        h.settle(SimTime::ZERO, true);
        assert_eq!(
            h.store.services["dbid"].endpoint.as_ref().map(|e| e.virtual_ips.len()),
            Some(0)
        );
        let task = h.store.tasks.values().next().expect("one task");
        assert_eq!(task.networks[0].addr, net("10.0.1.2/24"));
        s.ports = vec![PortConfig {
            protocol: Protocol::Tcp,
            target: 80,
            published: 8080,
            mode: PublishMode::Ingress,
        }];
        assert_eq!(
            validate_endpoint(&s),
            Err("EndpointSpec: port published with ingress mode can't be used with dnsrr mode"
                .into())
        );
        s.ports[0].mode = PublishMode::Host;
        assert_eq!(validate_endpoint(&s), Ok(()));
    }

    #[test]
    fn a_new_leader_continues_after_the_highest_address_in_use() {
        let mut h = Harness::new(cluster(1));
        h.apply(&[StoreOp::PutNetwork(Box::new(network("overlayid", "appnet", false)))]);
        let s = spec("web", ServiceMode::Replicated { replicas: 2 }, &["overlayid"]);
        h.put_service(service("webid", s));
        h.settle(SimTime::ZERO, true);
        let mut fresh = Allocator::from_store(&h.store);
        assert_eq!(fresh, h.alloc);
        h.apply(&[StoreOp::PutNetwork(Box::new(network("othernet", "other", false)))]);
        let ops = fresh.allocate(&h.store, SimTime::ZERO);
        let StoreOp::PutNetwork(n) = &ops[0] else { panic!("expected a network: {ops:?}") };
        let a = n.allocation.clone().expect("allocated");
        assert_eq!((a.subnet, a.vni), (net("10.0.2.0/24"), 4098));
    }
}

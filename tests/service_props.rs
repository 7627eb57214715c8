//! Service networking holds together in the random swarms of `common`: three overlays
//! (`dognet`, `catnet`, `shared`), `nginxdemos/hello` services on a random non-empty set of
//! them, in VIP or dnsrr mode, some publishing a port through ingress (a dnsrr one is
//! refused, as swarmkit does). The swarm's truth is the manager's store.
//!
//! After every step, on every running node:
//! - (1) each `lb_<net>` namespace's IPVS fwmark service (found through the mangle
//!   `INPUT -d VIP/32 -j MARK` rule) only has real servers that are no other service's
//!   tasks on that network: a VIP never sends to another service (an address the store
//!   forgot may linger while a node is cut off);
//! - (2) the embedded DNS of each task container answers, for every service name,
//!   `tasks.<service>` and task name, only addresses on the container's own networks
//!   (ingress answers nothing: libnetwork keeps no names there) that belong to that
//!   service or task; a service sharing no network with the container resolves to nothing;
//! - (4) `ingress_sbox`'s IPVS service of a published port only has that service's tasks.
//!
//! Once healed and settled (`common::SETTLE_S`):
//! - (1) the weighted real servers of each VIP are exactly the service's running tasks
//!   on that network (on running nodes), and no other VIP has an IPVS service;
//! - (2) a service's name gives, on the first of the container's networks where the
//!   service has running tasks, its VIP (vip) or exactly those tasks (dnsrr), and
//!   `tasks.<service>` those tasks;
//! - (3) a few task containers `curl` tasks of other services: one sharing a network
//!   answers, one on disjoint networks stays silent (the scenario is run again with these
//!   steps appended, so the printed YAML replays them);
//! - (4) every running node routes each published port: `ingress_sbox` marks it, its IPVS
//!   service has exactly the service's running tasks on ingress, the host DNATs the port to
//!   `ingress_sbox`, and `curl NODE:PORT` from every node reaches a task.
//!
//! The faults are `common`'s: partitions, crashes and underlay loss up to 30 %.
//!
//! `PROPTEST_CASES` sets the number of cases (default 16).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::Ipv4Addr;

use common::{fail, netns, plan, run_checked, running, scenario_yaml, service_name, ServiceKind};
use proptest::prelude::*;
use swarmsim::docker::swarm::store::{EndpointMode, PublishMode, Service, Store, TaskState};
use swarmsim::docker::{Container, ContainerState, Daemon, Driver, Network};
use swarmsim::engine::{Machine, World};
use swarmsim::kernel::ipvs::VsKey;
use swarmsim::kernel::Netns;
use swarmsim::runner::Outcome;

const NETWORKS: [&str; 3] = ["dognet", "catnet", "shared"];
const DNSRR_INGRESS: &str =
    "EndpointSpec: port published with ingress mode can't be used with dnsrr mode";
/// Service number N publishes (if it does) port `PORT_BASE + N`.
const PORT_BASE: u16 = 8000;

/// A `nginxdemos/hello` service (it answers HTTP on port 80 with its own address).
#[derive(Debug, Clone)]
struct Svc {
    /// Indices into `NETWORKS`, in the order given (non-empty).
    networks: Vec<usize>,
    replicas: u8,
    dnsrr: bool,
    publish: bool,
}

impl ServiceKind for Svc {
    fn create_steps(&self, index: usize) -> (String, bool) {
        let mut cmd = format!("docker service create --detach --name {}", service_name(index));
        write!(cmd, " --replicas {}", self.replicas).unwrap();
        if self.dnsrr {
            cmd.push_str(" --endpoint-mode dnsrr");
        }
        if self.publish {
            write!(cmd, " -p {}:80", PORT_BASE + index as u16).unwrap();
        }
        for &n in &self.networks {
            write!(cmd, " --network {}", NETWORKS[n]).unwrap();
        }
        cmd.push_str(" nginxdemos/hello");
        let refused = self.dnsrr && self.publish;
        let expect = if refused {
            format!("\n    expect: {{exit_code: 1, output_contains: [\"{DNSRR_INGRESS}\"]}}")
        } else {
            String::new()
        };
        (format!("  - on: manager\n    run: {cmd}{expect}\n"), !refused)
    }
}

fn svc(replicas: std::ops::RangeInclusive<u8>) -> impl Strategy<Value = Svc> + Clone {
    let all: Vec<usize> = (0..NETWORKS.len()).collect();
    let networks = prop::sample::subsequence(all, 1..=NETWORKS.len()).prop_shuffle();
    (networks, replicas, prop::bool::weighted(0.3), prop::bool::weighted(0.3))
        .prop_map(|(networks, replicas, dnsrr, publish)| Svc { networks, replicas, dnsrr, publish })
}

/// What the checks read at one instant: the manager's store, and the running nodes.
struct View<'w> {
    store: &'w Store,
    nodes: Vec<(&'w Machine, &'w Daemon, Ipv4Addr)>,
}

impl<'w> View<'w> {
    /// `None` before `swarm init`.
    fn of(world: &'w World) -> Option<View<'w>> {
        let manager = world.machines.iter().find(|m| m.name == "manager")?;
        let store = manager.daemon.as_ref()?.swarm_store()?;
        Some(View { store, nodes: running(world).collect() })
    }

    fn ingress(&self) -> Option<&'w swarmsim::docker::swarm::store::Network> {
        self.store.networks.values().find(|n| n.ingress)
    }

    /// The services an address on `net` belongs to: as their VIP, or as the address of any
    /// task the store still knows.
    fn owners(&self, net: &str, addr: Ipv4Addr) -> BTreeSet<&'w str> {
        let vips = self.store.services.values().filter(move |s| vip(s, net) == Some(addr));
        let on_net = |t: &&swarmsim::docker::swarm::store::Task| {
            t.networks.iter().any(|a| a.network.id == net && a.addr.addr() == addr)
        };
        let tasks = self.store.tasks.values().filter(on_net).map(|t| t.service_id.as_str());
        vips.map(|s| s.id.as_str()).chain(tasks).collect()
    }

    /// The owners of `addr` on `net` other than `service`, if any. With no `service` (a VIP
    /// or port the store no longer has: its service was removed, and its tasks may outlive
    /// it in the store), only services still in the store count.
    fn strangers(&self, net: &str, addr: Ipv4Addr, service: Option<&str>) -> Option<String> {
        let mut owners = self.owners(net, addr);
        match service {
            Some(s) => owners.retain(|o| *o != s),
            None => owners.retain(|o| self.store.services.contains_key(*o)),
        }
        (!owners.is_empty()).then(|| format!("{owners:?}"))
    }

    /// The addresses on `net` of the service's running tasks on running nodes.
    fn live_tasks(&self, service: &str, net: &str) -> BTreeSet<Ipv4Addr> {
        let live = |t: &&swarmsim::docker::swarm::store::Task| {
            t.service_id == service && t.status.state == TaskState::Running && self.runs(&t.node_id)
        };
        let tasks = self.store.tasks.values().filter(live).flat_map(|t| &t.networks);
        tasks.filter(|a| a.network.id == net).map(|a| a.addr.addr()).collect()
    }

    fn runs(&self, node_id: &str) -> bool {
        let Some(node) = self.store.nodes.get(node_id) else { return false };
        self.nodes.iter().any(|(m, ..)| m.name == node.description.hostname)
    }

    /// The service whose VIP on `net` this is.
    fn vip_owner(&self, net: &str, addr: Ipv4Addr) -> Option<&'w str> {
        let mut services = self.store.services.values();
        services.find(|s| vip(s, net) == Some(addr)).map(|s| s.id.as_str())
    }

    /// The service publishing `port` through ingress.
    fn publisher(&self, port: u16) -> Option<&'w str> {
        let mut services = self.store.services.values();
        services.find(|s| published(s).contains(&port)).map(|s| s.id.as_str())
    }

    /// A task container's networks in the order it has them, ingress left out.
    fn asker_networks(&self, c: &'w Container) -> Vec<&'w str> {
        let ingress = self.ingress().map(|n| n.id.as_str());
        let nets = c.networks.iter().map(|a| a.network_id.as_str());
        nets.filter(|n| Some(*n) != ingress && self.store.networks.contains_key(*n)).collect()
    }

    /// Whether `addr` is in the subnet of network `net`.
    fn on_network(&self, net: &str, addr: Ipv4Addr) -> bool {
        let alloc = self.store.networks.get(net).and_then(|n| n.allocation.as_ref());
        alloc.is_some_and(|a| a.subnet.contains(&addr))
    }

    /// Every name the embedded DNS may know, with the service it belongs to: each
    /// service's name and `tasks.<service>`, and every task's name.
    fn names(&self) -> Vec<(String, &'w Service)> {
        let mut names = Vec::new();
        for s in self.store.services.values() {
            names.push((s.spec.name.clone(), s));
            names.push((format!("tasks.{}", s.spec.name), s));
        }
        for t in self.store.tasks.values() {
            if let Some(s) = self.store.services.get(&t.service_id) {
                names.push((format!("{}.{}.{}", s.spec.name, t.slot, t.id), s));
            }
        }
        names
    }
}

fn vip(s: &Service, net: &str) -> Option<Ipv4Addr> {
    let vips = &s.endpoint.as_ref()?.virtual_ips;
    vips.iter().find(|v| v.network_id == net).map(|v| v.addr.addr())
}

/// The ports a service publishes through ingress.
fn published(s: &Service) -> Vec<u16> {
    let ports = s.endpoint.iter().flat_map(|e| &e.ports);
    ports.filter(|p| p.mode == PublishMode::Ingress).map(|p| p.published).collect()
}

/// A running node's swarm overlays other than ingress.
fn overlays(d: &Daemon) -> impl Iterator<Item = &Network> {
    d.networks().filter(|n| n.driver == Driver::Overlay && n.name != "ingress")
}

/// Running task containers.
fn task_containers(d: &Daemon) -> impl Iterator<Item = &Container> {
    d.containers().filter(|c| {
        matches!(c.state, ContainerState::Running { .. })
            && c.labels.iter().any(|(k, _)| k == "com.docker.swarm.service.id")
    })
}

/// The rules of `chain` in `table`, as iptables-save prints them, split into words.
fn rules(ns: &Netns, table: &str, chain: &str) -> Vec<Vec<String>> {
    let (save, head, prefix) = (ns.netfilter.save(), format!("*{table}"), format!("-A {chain} "));
    let lines = save.lines().skip_while(|l| *l != head).take_while(|l| *l != "COMMIT");
    let ours = lines.filter(|l| l.starts_with(&prefix));
    ours.map(|l| l.split_whitespace().map(String::from).collect()).collect()
}

/// The word after `flag` in a rule.
fn arg<'r>(rule: &'r [String], flag: &str) -> Option<&'r str> {
    let at = rule.iter().position(|w| w == flag)?;
    rule.get(at + 1).map(String::as_str)
}

/// One IPVS fwmark service: its mark, what the mangle rule setting that mark matches on
/// (`-d VIP/32`, `--dport PORT`; `None` without such a rule), and its real servers with
/// their weights.
struct Balancer {
    mark: u32,
    matched: Option<String>,
    dests: Vec<(Ipv4Addr, u32)>,
}

impl Balancer {
    /// The real servers that get new connections.
    fn weighted(&self) -> BTreeSet<Ipv4Addr> {
        self.dests.iter().filter(|(_, w)| *w > 0).map(|(a, _)| *a).collect()
    }
}

fn balancers(ns: &Netns, chain: &str, key: &str) -> Vec<Balancer> {
    let mut matched: BTreeMap<u32, String> = BTreeMap::new();
    for r in rules(ns, "mangle", chain) {
        let mark = arg(&r, "--set-xmark").and_then(|m| m.split('/').next());
        let mark = mark.and_then(|m| u32::from_str_radix(m.trim_start_matches("0x"), 16).ok());
        if let (Some(mark), Some(value)) = (mark, arg(&r, key)) {
            matched.insert(mark, value.trim_end_matches("/32").to_string());
        }
    }
    let services = ns.ipvs.services().iter();
    let by_mark = services.filter_map(|s| match s.key {
        VsKey::Fwmark(mark) => Some((mark, s)),
        VsKey::Addr { .. } => None,
    });
    by_mark
        .map(|(mark, s)| Balancer {
            mark,
            matched: matched.get(&mark).cloned(),
            dests: s.dests.iter().map(|d| (d.addr, d.weight)).collect(),
        })
        .collect()
}

fn lb_namespace<'m>(m: &'m Machine, net: &Network) -> Option<&'m Netns> {
    netns(m, &format!("lb_{}", &net.id[..9]))
}

/// (1), at every step: a VIP's real servers are no other service's tasks.
fn vips_reach_only_their_tasks(v: &View) -> Result<(), String> {
    for (m, d, _) in &v.nodes {
        for net in overlays(d) {
            let Some(ns) = lb_namespace(m, net) else { continue };
            for b in balancers(ns, "INPUT", "-d") {
                let Some(vip) = b.matched.as_ref().and_then(|a| a.parse().ok()) else {
                    return Err(format!(
                        "{} {}: FWM {} has no mark rule",
                        m.name, net.name, b.mark
                    ));
                };
                let owner = v.vip_owner(&net.id, vip);
                for (addr, _) in &b.dests {
                    if let Some(others) = v.strangers(&net.id, *addr, owner) {
                        return Err(format!(
                            "{} {}: VIP {vip} of {owner:?} sends to {addr}, which is {others}'s",
                            m.name, net.name
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// (1), settled: each VIP balances over exactly its service's running tasks.
fn vips_balance_running_tasks(v: &View) -> Result<(), String> {
    for (m, d, _) in &v.nodes {
        for net in overlays(d) {
            let mut want = BTreeMap::new();
            for s in v.store.services.values() {
                let (Some(vip), tasks) = (vip(s, &net.id), v.live_tasks(&s.id, &net.id)) else {
                    continue;
                };
                if !tasks.is_empty() {
                    want.insert(vip.to_string(), tasks);
                }
            }
            let ns = lb_namespace(m, net);
            let have: BTreeMap<String, BTreeSet<Ipv4Addr>> = ns
                .map(|ns| balancers(ns, "INPUT", "-d"))
                .unwrap_or_default()
                .iter()
                .map(|b| (b.matched.clone().unwrap_or_default(), b.weighted()))
                .collect();
            if have != want {
                return Err(format!(
                    "{} {}: VIPs balance {have:?}, running tasks are {want:?}",
                    m.name, net.name
                ));
            }
        }
    }
    Ok(())
}

/// (2), at every step: answers stay on the asker's networks and belong to the name.
fn dns_stays_on_the_askers_networks(v: &View) -> Result<(), String> {
    let names = v.names();
    for (m, d, _) in &v.nodes {
        for c in task_containers(d) {
            let nets = v.asker_networks(c);
            for (name, s) in &names {
                let answer = d.resolve(&c.id, name);
                let shares = s.spec.networks.iter().any(|n| nets.contains(&n.as_str()));
                let wrong = match &answer {
                    Some(_) if !shares => Some("though they share no network".to_string()),
                    Some(ips) => ips.iter().find_map(|ip| foreign(v, &nets, *ip, &s.id)),
                    None => None,
                };
                if let Some(wrong) = wrong {
                    return Err(format!(
                        "{} {}: {name} resolves to {answer:?}, {wrong}",
                        m.name, c.name
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Why `ip` is a wrong answer for a name of `service` to a container on `nets`, if it is.
fn foreign(v: &View, nets: &[&str], ip: Ipv4Addr, service: &str) -> Option<String> {
    let Some(net) = nets.iter().find(|n| v.on_network(n, ip)) else {
        return Some(format!("{ip} is on none of the asker's networks"));
    };
    v.strangers(net, ip, Some(service)).map(|others| format!("{ip} is {others}'s"))
}

/// (2), settled: a service's name and `tasks.<service>` on the first network the asker
/// shares with its running tasks.
fn dns_names_running_tasks(v: &View) -> Result<(), String> {
    for (m, d, _) in &v.nodes {
        for c in task_containers(d) {
            let nets = v.asker_networks(c);
            for s in v.store.services.values() {
                let tasks = |n: &str| v.live_tasks(&s.id, n).into_iter().collect::<Vec<_>>();
                let first = nets
                    .iter()
                    .find(|n| s.spec.networks.iter().any(|sn| sn == *n) && !tasks(n).is_empty());
                let want_tasks = first.map(|n| tasks(n));
                let want_name = first.map(|n| match s.spec.endpoint_mode {
                    EndpointMode::Vip => vec![vip(s, n).expect("a VIP service has a VIP")],
                    EndpointMode::Dnsrr => tasks(n),
                });
                let name = &s.spec.name;
                for (asked, want) in
                    [(name.clone(), want_name), (format!("tasks.{name}"), want_tasks)]
                {
                    let mut have = d.resolve(&c.id, &asked);
                    have.iter_mut().for_each(|ips| ips.sort());
                    if have != want {
                        return Err(format!(
                            "{} {}: {asked} resolves to {have:?}, not {want:?}",
                            m.name, c.name
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// (4), at every step: a published port's real servers are the publisher's tasks.
fn ingress_reaches_only_publishers(v: &View) -> Result<(), String> {
    let Some(ingress) = v.ingress() else { return Ok(()) };
    for (m, ..) in &v.nodes {
        let Some(ns) = netns(m, "ingress_sbox") else { continue };
        for b in balancers(ns, "PREROUTING", "--dport") {
            let Some(port) = b.matched.as_ref().and_then(|p| p.parse().ok()) else { continue };
            let owner = v.publisher(port);
            for (addr, _) in &b.dests {
                if let Some(others) = v.strangers(&ingress.id, *addr, owner) {
                    return Err(format!(
                        "{}: ingress port {port} of {owner:?} sends to {addr}, which is {others}'s",
                        m.name
                    ));
                }
            }
        }
    }
    Ok(())
}

/// (4), settled: every running node routes each published port to the running tasks.
fn routing_mesh_serves_published_ports(v: &View) -> Result<(), String> {
    let Some(ingress) = v.ingress() else { return Ok(()) };
    for s in v.store.services.values() {
        let tasks = v.live_tasks(&s.id, &ingress.id);
        for port in published(s).into_iter().filter(|_| !tasks.is_empty()) {
            for (m, ..) in &v.nodes {
                routes_port(m, port, &tasks).map_err(|e| format!("{} port {port}: {e}", m.name))?;
            }
        }
    }
    Ok(())
}

/// One node's routing mesh for `port`: the mark, the real servers, the host's DNAT.
fn routes_port(m: &Machine, port: u16, tasks: &BTreeSet<Ipv4Addr>) -> Result<(), String> {
    let ns = netns(m, "ingress_sbox").ok_or("no ingress_sbox")?;
    let balancers = balancers(ns, "PREROUTING", "--dport");
    let b = balancers.iter().find(|b| b.matched == Some(port.to_string()));
    let b = b.ok_or("no mangle PREROUTING mark rule in ingress_sbox")?;
    if b.weighted() != *tasks {
        return Err(format!("FWM {} balances {:?}, running tasks {tasks:?}", b.mark, b.weighted()));
    }
    let sbox = sbox_gateway_address(m, ns).ok_or("ingress_sbox has no docker_gwbridge address")?;
    let to = format!("{sbox}:{port}");
    let dnat = rules(m.kernel.root(), "nat", "DOCKER-INGRESS").into_iter().any(|r| {
        arg(&r, "--dport") == Some(&port.to_string()) && arg(&r, "--to-destination") == Some(&to)
    });
    dnat.then_some(()).ok_or(format!("no DOCKER-INGRESS DNAT to {to}"))
}

/// `ingress_sbox`'s address on the host's `docker_gwbridge` network.
fn sbox_gateway_address(m: &Machine, sbox: &Netns) -> Option<Ipv4Addr> {
    let root = m.kernel.root();
    let bridge = root.ifindex("docker_gwbridge")?;
    let subnet = root.addrs.iter().find(|a| a.dev == bridge)?.net.trunc();
    sbox.addrs.iter().map(|a| a.net.addr()).find(|a| subnet.contains(a))
}

fn every_step(world: &World) -> Result<(), String> {
    let Some(v) = View::of(world) else { return Ok(()) };
    vips_reach_only_their_tasks(&v)?;
    dns_stays_on_the_askers_networks(&v)?;
    ingress_reaches_only_publishers(&v)
}

fn settled(world: &World) -> Result<(), String> {
    let v = View::of(world).expect("a swarm");
    vips_balance_running_tasks(&v)?;
    dns_names_running_tasks(&v)?;
    routing_mesh_serves_published_ports(&v)
}

/// A step running `cmd` on `host`, with its expectation.
fn probe_step(host: &str, cmd: &str, expect: &str) -> String {
    format!("  - on: {host}\n    run: {cmd}\n    expect: {expect}\n")
}

/// (3) and (4)'s traffic, as steps to append to the settled scenario: a task container
/// (one on the most networks) curls a task of another service on each of its networks
/// and the tasks of up to two services on none of them; every node curls itself on the
/// first published port that has running tasks.
fn traffic_steps(v: &View) -> String {
    let mut y = String::from("  - note: traffic once settled\n");
    let askers = v.nodes.iter().flat_map(|(m, d, _)| task_containers(d).map(move |c| (m, c)));
    if let Some((m, c)) = askers.max_by_key(|(_, c)| v.asker_networks(c).len()) {
        let nets = v.asker_networks(c);
        let own = c.labels.iter().find(|(k, _)| k == "com.docker.swarm.service.id");
        let others: Vec<&Service> =
            v.store.services.values().filter(|s| Some(&s.id) != own.map(|(_, id)| id)).collect();
        let curl = |ip: Ipv4Addr| format!("docker exec {} curl -s -m 2 {ip}", c.name);
        for n in &nets {
            let target = others.iter().find_map(|s| v.live_tasks(&s.id, n).into_iter().next());
            if let Some(ip) = target {
                let expect = format!("{{output_contains: [\"<span>{ip}:80</span>\"]}}");
                y.push_str(&probe_step(&m.name, &curl(ip), &expect));
            }
        }
        let apart =
            others.iter().filter(|s| !s.spec.networks.iter().any(|n| nets.contains(&n.as_str())));
        let targets = apart.filter_map(|s| {
            s.spec.networks.iter().find_map(|n| v.live_tasks(&s.id, n).into_iter().next())
        });
        for ip in targets.take(2) {
            y.push_str(&probe_step(&m.name, &curl(ip), "{exit_code: 28, output_equals: \"\"}"));
        }
    }
    y + &mesh_steps(v)
}

/// Every running node curls itself on the first published port with running tasks; the
/// answer comes from a task's ingress address.
fn mesh_steps(v: &View) -> String {
    let Some(ingress) = v.ingress() else { return String::new() };
    let live = v.store.services.values().filter(|s| !v.live_tasks(&s.id, &ingress.id).is_empty());
    let Some(port) = live.flat_map(published).next() else { return String::new() };
    let subnet = ingress.allocation.as_ref().expect("ingress is allocated").subnet;
    let [a, b, c, _] = subnet.network().octets();
    let expect =
        format!("{{output_contains: [\"Server&nbsp;address:</span> <span>{a}.{b}.{c}.\"]}}");
    let steps = v
        .nodes
        .iter()
        .map(|(m, _, ip)| probe_step(&m.name, &format!("curl -s -m 2 {ip}:{port}"), &expect));
    steps.collect()
}

/// Every expectation of a run that did not hold, one line each.
fn broken_checks(outcome: &Outcome) -> String {
    let checks = outcome.checks.iter().chain(outcome.entries.iter().flat_map(|e| &e.checks));
    let broken = checks.filter(|c| !c.held);
    broken.map(|c| format!("line {}: {} ({})\n", c.line, c.what, c.detail)).collect()
}

proptest! {
    #![proptest_config(common::config(16, 0x5E4F1CE))]

    #[test]
    fn services_see_and_reach_only_their_networks(plan in plan(svc(1..=4), 2..=3, svc(0..=4), 30)) {
        let yaml = scenario_yaml("service-props", &NETWORKS, &plan);
        let (_, world) = run_checked(&yaml, every_step)?;
        settled(&world).map_err(|e| fail(&e, &yaml))?;
        let yaml = yaml + &traffic_steps(&View::of(&world).expect("a swarm"));
        let (outcome, world) = run_checked(&yaml, |_| Ok(()))?;
        settled(&world).map_err(|e| fail(&e, &yaml))?;
        let broken = broken_checks(&outcome);
        prop_assert!(broken.is_empty(), "{broken}\n{yaml}");
    }
}

//! Building the world a scenario declares: one machine per Docker host and external, the
//! underlay LANs with their link models, and a router at each LAN's gateway. The routers
//! meet on the "internet" segment, where the internet externals live; each router routes to
//! every other gateway's LAN, so hosts on different subnets reach each other through two
//! routers. The routers also answer DNS for the scenario's external names.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::docker::apps::{DnsServer, HttpServer, Upstream};
use crate::engine::{Machine as WorldMachine, SimDuration, Streams, World};
use crate::fabric::{LinkParams, Port};
use crate::kernel::process::ResolvConf;
use crate::kernel::{Kernel, KernelOp, NsRef};
use crate::scenario::{Placement, Scenario, Service};
use crate::wire::MacAddr;

/// The machines' indexes in the world, by scenario entity.
pub struct Layout {
    pub hosts: Vec<usize>,
    pub externals: Vec<usize>,
    /// The fabric segment of each underlay network, by `NetId`.
    pub segments: Vec<usize>,
}

/// The ops dockerd ran at start on each host, for `--explain`.
pub type StartupOps = Vec<(usize, Vec<KernelOp>)>;

/// A gateway's router as the other routers and the internet externals see it.
#[derive(Debug, Clone, Copy)]
struct Router {
    machine: usize,
    /// Its address and MAC on the internet segment.
    wan: Ipv4Addr,
    wan_mac: MacAddr,
    /// The LAN behind it.
    subnet: Ipv4Net,
}

pub fn build(scenario: &Scenario, streams: &Streams) -> (World, Layout, StartupOps) {
    let mut world = World::new(scenario.limits);
    let segments: Vec<usize> = scenario
        .networks
        .iter()
        .map(|n| {
            let rng = streams.stream(&format!("fabric/{}", n.name));
            world.fabric.add_segment(&n.name, n.link, rng)
        })
        .collect();
    let internet_link = LinkParams::with_latency(SimDuration::ZERO);
    let internet =
        world.fabric.add_segment("internet", internet_link, streams.stream("fabric/internet"));
    // The infrastructure's DNS knows every machine by name, the Docker hosts too (lab 002's
    // multi-host Pets app finds redis at `host-B:8001` that way).
    let host_names = scenario.hosts.iter().map(|h| (h.name.clone(), h.ip));
    let zone: Vec<(String, Ipv4Addr)> =
        scenario.externals.iter().map(|e| (e.name.clone(), e.ip)).chain(host_names).collect();
    let routers: Vec<Option<Router>> = scenario
        .networks
        .iter()
        .enumerate()
        .map(|(i, net)| {
            let gw = net.gateway?;
            let lan = (segments[i], gw, net.subnet);
            Some(add_router(&mut world, streams, &net.name, lan, internet, &zone))
        })
        .collect();
    connect_routers(&mut world, &routers);
    let mut startup = Vec::new();
    let hosts = scenario
        .hosts
        .iter()
        .map(|h| {
            let net = &scenario.networks[h.net.0];
            let nic = (segments[h.net.0], h.ip, net.subnet, net.gateway);
            let idx = add_machine(&mut world, streams, &h.name, nic, SimDuration::ZERO);
            world.machines[idx].nameservers = net.dns.or(net.gateway).into_iter().collect();
            startup.push((
                idx,
                start_docker(&mut world, idx, streams, h, net.subnet, scenario.engine),
            ));
            idx
        })
        .collect();
    let externals = scenario
        .externals
        .iter()
        .map(|e| {
            let idx = match e.place {
                Placement::Lan(net) => {
                    let n = &scenario.networks[net.0];
                    let nic = (segments[net.0], e.ip, n.subnet, n.gateway);
                    add_machine(&mut world, streams, &e.name, nic, SimDuration::ZERO)
                }
                Placement::Internet { via, latency, hops } => {
                    let subnet = Ipv4Net::new(e.ip, 32).expect("/32");
                    let nic = (internet, e.ip, subnet, None);
                    let idx = add_machine(&mut world, streams, &e.name, nic, latency);
                    let kernel = &mut world.machines[idx].kernel;
                    kernel.apply(&ttl_op(hops)).expect("sysctl applies");
                    let gateway =
                        routers[via.0].expect("validated: internet externals need a gateway");
                    connect_internet(&mut world, &routers, gateway, (idx, e.ip));
                    idx
                }
            };
            start_services(&mut world, idx, &e.serves);
            idx
        })
        .collect();
    (world, Layout { hosts, externals, segments }, startup)
}

/// A machine with one NIC on a segment: (segment, address, subnet, default gateway).
pub(crate) fn add_machine(
    world: &mut World,
    streams: &Streams,
    name: &str,
    (segment, ip, subnet, gateway): (usize, Ipv4Addr, Ipv4Net, Option<Ipv4Addr>),
    latency: SimDuration,
) -> usize {
    let mut kernel = Kernel::new(name, streams.stream(&format!("machine/{name}/kernel")));
    let mac = nic_mac(ip);
    let addr = Ipv4Net::new(ip, subnet.prefix_len()).expect("valid prefix");
    kernel.add_ethernet("eth0", mac, addr, gateway);
    let idx = world.machines.len();
    let ifindex = kernel.root().ifindex("eth0").expect("just added");
    world.machines.push(WorldMachine::new(name, kernel, Vec::new()));
    world.fabric.attach(segment, Port { machine: idx, ifindex }, (mac, ip), latency);
    idx
}

/// The underlay router at a LAN's gateway: forwards to the internet segment and serves DNS.
fn add_router(
    world: &mut World,
    streams: &Streams,
    lan: &str,
    (segment, gw, subnet): (usize, Ipv4Addr, Ipv4Net),
    internet: usize,
    zone: &[(String, Ipv4Addr)],
) -> Router {
    let name = format!("{lan}-router");
    let nic = (segment, gw, subnet, None);
    let idx = add_machine(world, streams, &name, nic, SimDuration::ZERO);
    let kernel = &mut world.machines[idx].kernel;
    let wan_mac = MacAddr([0x52, 0x54, 0, 0xff, 0, idx as u8]);
    let wan_ip = Ipv4Net::new(Ipv4Addr::new(100, 64, 0, idx as u8 + 1), 10).expect("valid");
    kernel.add_ethernet("eth1", wan_mac, wan_ip, None);
    let wan = kernel.root().ifindex("eth1").expect("just added");
    for op in [
        KernelOp::Sysctl { ns: NsRef::Root, key: "net.ipv4.ip_forward".into(), value: "1".into() },
        KernelOp::RouteAdd {
            ns: NsRef::Root,
            dst: "0.0.0.0/0".parse().expect("valid"),
            via: None,
            dev: "eth1".into(),
        },
    ] {
        kernel.apply(&op).expect("router ops apply");
    }
    let port = Port { machine: idx, ifindex: wan };
    world.fabric.attach(internet, port, (wan_mac, wan_ip.addr()), SimDuration::ZERO);
    world.fabric.add_router(idx);
    let dns = DnsServer::new((Ipv4Addr::UNSPECIFIED, 53), Upstream::Zone(zone.to_vec()));
    world.spawn(idx, NsRef::Root, Box::new(dns), ResolvConf::default(), None);
    Router { machine: idx, wan: wan_ip.addr(), wan_mac, subnet }
}

/// Each router routes every other gateway's LAN via that LAN's router. Like the internet
/// externals, routers know each other's MACs statically: no ARP crosses the internet.
fn connect_routers(world: &mut World, routers: &[Option<Router>]) {
    for a in routers.iter().flatten() {
        for b in routers.iter().flatten().filter(|b| b.machine != a.machine) {
            let ops = [
                KernelOp::NeighAdd {
                    ns: NsRef::Root,
                    dev: "eth1".into(),
                    ip: b.wan,
                    mac: b.wan_mac,
                },
                KernelOp::RouteAdd {
                    ns: NsRef::Root,
                    dst: b.subnet,
                    via: Some(b.wan),
                    dev: "eth1".into(),
                },
            ];
            for op in &ops {
                world.machines[a.machine].kernel.apply(op).expect("router routes apply");
            }
        }
    }
}

/// The internet is routed, not a LAN: the routers and an internet host know each other's
/// MACs statically (no ARP crosses it). The host routes each gateway's LAN back via that
/// LAN's router, and everything else via `gateway`, the router it sits behind.
fn connect_internet(
    world: &mut World,
    routers: &[Option<Router>],
    gateway: Router,
    (host, host_ip): (usize, Ipv4Addr),
) {
    let host_mac = world.machines[host].kernel.root().link_by_name("eth0").expect("NIC").mac;
    let mut host_ops: Vec<KernelOp> = routers
        .iter()
        .flatten()
        .map(|r| KernelOp::NeighAdd {
            ns: NsRef::Root,
            dev: "eth0".into(),
            ip: r.wan,
            mac: r.wan_mac,
        })
        .collect();
    let others = routers.iter().flatten().filter(|r| r.machine != gateway.machine);
    let default = (gateway.wan, "0.0.0.0/0".parse().expect("valid"));
    for (via, dst) in others.map(|r| (r.wan, r.subnet)).chain([default]) {
        host_ops.push(KernelOp::RouteAdd {
            ns: NsRef::Root,
            dst,
            via: Some(via),
            dev: "eth0".into(),
        });
    }
    for op in &host_ops {
        world.machines[host].kernel.apply(op).expect("internet host ops apply");
    }
    for r in routers.iter().flatten() {
        let op =
            KernelOp::NeighAdd { ns: NsRef::Root, dev: "eth1".into(), ip: host_ip, mac: host_mac };
        world.machines[r.machine].kernel.apply(&op).expect("router neighbour applies");
    }
}

fn start_services(world: &mut World, idx: usize, serves: &[Service]) {
    for s in serves {
        let server = match s {
            Service::Http => HttpServer::new(
                "httpd",
                80,
                "Apache",
                "<html><body><h1>It works!</h1></body></html>\n",
            ),
            Service::Https => HttpServer::new("httpd", 443, "Apache", ""),
            Service::Ping | Service::Dns => continue,
        };
        world.spawn(idx, NsRef::Root, Box::new(server), ResolvConf::default(), None);
    }
}

/// The NIC's MAC: a VirtualBox-style OUI (08:00:27) and the low 3 bytes of the address, so
/// it is stable and readable.
fn nic_mac(ip: Ipv4Addr) -> MacAddr {
    let o = ip.octets();
    MacAddr([0x08, 0x00, 0x27, o[1], o[2], o[3]])
}

/// Starts dockerd on a host and applies its start-up ops.
fn start_docker(
    world: &mut World,
    idx: usize,
    streams: &Streams,
    host: &crate::scenario::Host,
    subnet: Ipv4Net,
    engine: crate::scenario::EngineVersion,
) -> Vec<KernelOp> {
    let m = &mut world.machines[idx];
    let info = crate::docker::HostInfo {
        hostname: m.name.clone(),
        interfaces: vec![(
            "eth0".to_string(),
            Ipv4Net::new(host.ip, subnet.prefix_len()).expect("valid"),
        )],
        nameservers: m.nameservers.clone(),
        os: host.os,
        engine_version: engine.to_string(),
    };
    let (daemon, ops) =
        crate::docker::Daemon::start(info, streams.stream(&format!("machine/{}/docker", m.name)));
    for op in &ops {
        m.kernel.apply(op).unwrap_or_else(|e| panic!("dockerd start-up op `{op}` failed: {e}"));
    }
    m.daemon = Some(daemon);
    ops
}

/// Internet hosts sit `hops` routers away from the LAN, the gateway included: they send
/// with the TTL that the `hops - 1` routers beyond the gateway would have left of 64; the
/// gateway takes one more.
fn ttl_op(hops: u8) -> KernelOp {
    let ttl = 64u8.saturating_sub(hops.saturating_sub(1)).max(1);
    KernelOp::Sysctl {
        ns: NsRef::Root,
        key: "net.ipv4.ip_default_ttl".into(),
        value: ttl.to_string(),
    }
}

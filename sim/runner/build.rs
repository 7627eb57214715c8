//! Building the world a scenario declares: one machine per Docker host and external, the
//! underlay LANs, and a router at each LAN's gateway leading to the "internet" externals.
//! The router also answers DNS for the scenario's external names.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use crate::docker::apps::{DnsServer, HttpServer, Upstream};
use crate::engine::{Machine as WorldMachine, SimDuration, Streams, World};
use crate::fabric::Port;
use crate::kernel::process::ResolvConf;
use crate::kernel::{Kernel, KernelOp, NsRef};
use crate::scenario::{Placement, Scenario, Service};
use crate::wire::MacAddr;

/// The machines' indexes in the world, by scenario entity.
pub struct Layout {
    pub hosts: Vec<usize>,
    pub externals: Vec<usize>,
}

/// The ops dockerd ran at start on each host, for `--explain`.
pub type StartupOps = Vec<(usize, Vec<KernelOp>)>;

pub fn build(scenario: &Scenario, streams: &Streams) -> (World, Layout, StartupOps) {
    let mut world = World::new(scenario.limits);
    let segments: Vec<usize> =
        scenario.networks.iter().map(|n| world.fabric.add_segment(&n.name, n.latency)).collect();
    let internet = world.fabric.add_segment("internet", SimDuration::ZERO);
    let zone: Vec<(String, Ipv4Addr)> =
        scenario.externals.iter().map(|e| (e.name.clone(), e.ip)).collect();
    let mut wan_gateway: Option<(usize, Ipv4Addr)> = None;
    for (i, net) in scenario.networks.iter().enumerate() {
        if let Some(gw) = net.gateway {
            let wan = add_router(
                &mut world,
                streams,
                &net.name,
                (segments[i], gw, net.subnet),
                internet,
                &zone,
            );
            wan_gateway.get_or_insert((world.machines.len() - 1, wan));
        }
    }
    let mut startup = Vec::new();
    let hosts = scenario
        .hosts
        .iter()
        .map(|h| {
            let net = &scenario.networks[h.net.0];
            let idx = add_machine(
                &mut world,
                streams,
                &h.name,
                segments[h.net.0],
                h.ip,
                net.subnet,
                net.gateway,
                SimDuration::ZERO,
            );
            world.machines[idx].nameservers = net.dns.or(net.gateway).into_iter().collect();
            startup.push((idx, start_docker(&mut world, idx, streams, h.ip, net.subnet)));
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
                    add_machine(
                        &mut world,
                        streams,
                        &e.name,
                        segments[net.0],
                        e.ip,
                        n.subnet,
                        n.gateway,
                        SimDuration::ZERO,
                    )
                }
                Placement::Internet { latency, hops, .. } => {
                    let subnet = Ipv4Net::new(e.ip, 32).expect("/32");
                    let idx = add_machine(
                        &mut world, streams, &e.name, internet, e.ip, subnet, None, latency,
                    );
                    let kernel = &mut world.machines[idx].kernel;
                    kernel.apply(&ttl_op(hops)).expect("sysctl applies");
                    let router = wan_gateway.expect("validated: internet externals need a gateway");
                    connect_internet(&mut world, router, idx, e.ip);
                    idx
                }
            };
            start_services(&mut world, idx, &e.serves);
            idx
        })
        .collect();
    (world, Layout { hosts, externals }, startup)
}

/// A machine with one NIC on `segment`.
#[allow(clippy::too_many_arguments)]
fn add_machine(
    world: &mut World,
    streams: &Streams,
    name: &str,
    segment: usize,
    ip: Ipv4Addr,
    subnet: Ipv4Net,
    gateway: Option<Ipv4Addr>,
    latency: SimDuration,
) -> usize {
    let mut kernel = Kernel::new(name, streams.stream(&format!("machine/{name}/kernel")));
    let mac = nic_mac(ip);
    let addr = Ipv4Net::new(ip, subnet.prefix_len()).expect("valid prefix");
    kernel.add_ethernet("eth0", mac, addr, gateway);
    let idx = world.machines.len();
    let ifindex = kernel.root().ifindex("eth0").expect("just added");
    world.machines.push(WorldMachine::new(name, kernel, Vec::new()));
    world.fabric.attach(segment, Port { machine: idx, ifindex }, mac, latency);
    idx
}

/// The underlay router at a LAN's gateway: forwards to the internet segment and serves DNS.
/// Returns its address on the internet segment.
fn add_router(
    world: &mut World,
    streams: &Streams,
    lan: &str,
    (segment, gw, subnet): (usize, Ipv4Addr, Ipv4Net),
    internet: usize,
    zone: &[(String, Ipv4Addr)],
) -> Ipv4Addr {
    let name = format!("{lan}-router");
    let idx = add_machine(world, streams, &name, segment, gw, subnet, None, SimDuration::ZERO);
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
    world.fabric.attach(internet, Port { machine: idx, ifindex: wan }, wan_mac, SimDuration::ZERO);
    let dns = DnsServer::new((Ipv4Addr::UNSPECIFIED, 53), Upstream::Zone(zone.to_vec()));
    world.spawn(idx, NsRef::Root, Box::new(dns), ResolvConf::default(), None);
    wan_ip.addr()
}

/// The internet is routed, not a LAN: the router and an internet host know each other's
/// MACs statically (no ARP crosses it), and the host routes everything back via the router.
fn connect_internet(
    world: &mut World,
    (router, router_ip): (usize, Ipv4Addr),
    host: usize,
    host_ip: Ipv4Addr,
) {
    let mac_of = |w: &World, m: usize, dev: &str| {
        w.machines[m].kernel.root().link_by_name(dev).expect("NIC").mac
    };
    let (router_mac, host_mac) = (mac_of(world, router, "eth1"), mac_of(world, host, "eth0"));
    let default = "0.0.0.0/0".parse().expect("valid");
    let host_ops = [
        KernelOp::NeighAdd { ns: NsRef::Root, dev: "eth0".into(), ip: router_ip, mac: router_mac },
        KernelOp::RouteAdd {
            ns: NsRef::Root,
            dst: default,
            via: Some(router_ip),
            dev: "eth0".into(),
        },
    ];
    for op in &host_ops {
        world.machines[host].kernel.apply(op).expect("internet host ops apply");
    }
    let op = KernelOp::NeighAdd { ns: NsRef::Root, dev: "eth1".into(), ip: host_ip, mac: host_mac };
    world.machines[router].kernel.apply(&op).expect("router neighbour applies");
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
    ip: Ipv4Addr,
    subnet: Ipv4Net,
) -> Vec<KernelOp> {
    let m = &mut world.machines[idx];
    let info = crate::docker::HostInfo {
        hostname: m.name.clone(),
        interfaces: vec![(
            "eth0".to_string(),
            Ipv4Net::new(ip, subnet.prefix_len()).expect("valid"),
        )],
        nameservers: m.nameservers.clone(),
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

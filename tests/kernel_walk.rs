//! The kernel model end to end, without Docker: a bridge, a veth into a namespace, and the
//! tools and servers talking across it through the event loop.

use swarmsim::docker::apps::HttpServer;
use swarmsim::engine::{Machine, RunLimits, SimDuration, Streams, World};
use swarmsim::kernel::process::ResolvConf;
use swarmsim::kernel::tools::{Curl, Ping, PingFlavor, Resolving};
use swarmsim::kernel::views::{self, FdbFilter};
use swarmsim::kernel::{Kernel, KernelOp, NsRef};
use swarmsim::wire::MacAddr;

fn ops(text: &str) -> Vec<KernelOp> {
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| parse_op(l.trim())).collect()
}

/// A tiny reader for the ops this test needs, in their rendered form.
fn parse_op(line: &str) -> KernelOp {
    let w: Vec<&str> = line.split_whitespace().collect();
    let (ns, w) = if w[0] == "@" { (NsRef::named(w[1]), &w[2..]) } else { (NsRef::Root, &w[..]) };
    let s = |i: usize| w[i].to_string();
    match (w[0], w[1]) {
        ("netns", _) => KernelOp::NetnsAdd { name: s(1) },
        ("bridge", _) => KernelOp::BridgeAdd { ns, name: s(1) },
        ("veth", _) => KernelOp::VethAdd { ns, name: s(1), peer: s(2) },
        ("move", _) => KernelOp::LinkSetNetns { ns, name: s(1), target: NsRef::named(w[2]) },
        ("rename", _) => KernelOp::LinkRename { ns, name: s(1), new_name: s(2) },
        ("mac", _) => KernelOp::LinkSetMac { ns, name: s(1), mac: mac(w[2]) },
        ("master", _) => KernelOp::LinkSetMaster { ns, name: s(1), master: s(2) },
        ("up", _) => KernelOp::LinkUp { ns, name: s(1) },
        ("addr", _) => KernelOp::AddrAdd { ns, dev: s(1), addr: w[2].parse().unwrap() },
        ("default", _) => KernelOp::RouteAdd {
            ns,
            dst: "0.0.0.0/0".parse().unwrap(),
            via: Some(w[1].parse().unwrap()),
            dev: s(2),
        },
        other => panic!("unknown op {other:?}"),
    }
}

fn mac(s: &str) -> MacAddr {
    let b: Vec<u8> = s.split(':').map(|x| u8::from_str_radix(x, 16).unwrap()).collect();
    MacAddr([b[0], b[1], b[2], b[3], b[4], b[5]])
}

fn host_with_container() -> World {
    let streams = Streams::new(1);
    let mut kernel = Kernel::new("docker-host", streams.stream("host/docker-host"));
    kernel.add_ethernet("eth0", mac("08:00:27:85:8e:95"), "10.0.2.15/24".parse().unwrap(), None);
    for op in ops("
        bridge docker0
        mac docker0 02:42:f1:7f:89:a6
        addr docker0 172.17.0.1/16
        up docker0
        netns c1
        veth veth3a080f1 tmp0
        move tmp0 c1
        @ c1 rename tmp0 eth0
        @ c1 mac eth0 02:42:ac:11:00:02
        @ c1 addr eth0 172.17.0.2/16
        @ c1 up eth0
        @ c1 up lo
        @ c1 default 172.17.0.1 eth0
        master veth3a080f1 docker0
        up veth3a080f1
    ")
    {
        kernel.apply(&op).unwrap_or_else(|e| panic!("{op}: {e}"));
    }
    let mut world = World::new(RunLimits::default());
    world.machines.push(Machine::new("docker-host", kernel, vec![]));
    world
}

#[test]
fn host_pings_a_container_across_the_bridge() {
    let mut world = host_with_container();
    let ping =
        Ping::parse(PingFlavor::Iputils, &["-c".into(), "3".into(), "172.17.0.2".into()]).unwrap();
    let pid =
        world.spawn(0, NsRef::Root, Box::new(Resolving::new(ping)), ResolvConf::default(), None);
    let code = world.run_until_exit(0, pid, SimDuration::from_secs(30)).unwrap();
    let out = &world.machines[0].procs[&pid].stdout;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.starts_with("PING 172.17.0.2 (172.17.0.2) 56(84) bytes of data.\n64 bytes from 172.17.0.2: icmp_seq=1 ttl=64 time=0.0"), "{out}");
    assert!(out.contains("3 packets transmitted, 3 received, 0% packet loss"), "{out}");
}

#[test]
fn host_fetches_a_page_from_a_container() {
    let mut world = host_with_container();
    world.spawn(0, NsRef::named("c1"), Box::new(HttpServer::nginx()), ResolvConf::default(), None);
    let curl = Curl::parse(&["172.17.0.2".into()]).unwrap();
    let pid =
        world.spawn(0, NsRef::Root, Box::new(Resolving::new(curl)), ResolvConf::default(), None);
    let code = world.run_until_exit(0, pid, SimDuration::from_secs(30)).unwrap();
    let out = &world.machines[0].procs[&pid].stdout;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("<title>Welcome to nginx!</title>"), "{out}");
}

#[test]
fn a_closed_port_is_refused() {
    let mut world = host_with_container();
    let curl = Curl::parse(&["172.17.0.2:81".into()]).unwrap();
    let pid =
        world.spawn(0, NsRef::Root, Box::new(Resolving::new(curl)), ResolvConf::default(), None);
    let code = world.run_until_exit(0, pid, SimDuration::from_secs(30)).unwrap();
    assert_eq!(code, Some(7));
    assert_eq!(
        world.machines[0].procs[&pid].stdout,
        "curl: (7) Failed to connect to 172.17.0.2 port 81: Connection refused\n"
    );
}

/// `bridge fdb show br docker0` after the host pinged its container, in the layout the real
/// kernel printed for the same bridge, port and traffic (recorded in a scratch namespace on
/// Linux 6.18 with iproute2; IPv6 `33:33:…` entries left out, as IPv6 is not modelled).
#[test]
fn the_bridge_fdb_lists_learned_and_local_entries_like_the_kernel() {
    let mut world = host_with_container();
    let ping =
        Ping::parse(PingFlavor::Iputils, &["-c".into(), "1".into(), "172.17.0.2".into()]).unwrap();
    let pid =
        world.spawn(0, NsRef::Root, Box::new(Resolving::new(ping)), ResolvConf::default(), None);
    world.run_until_exit(0, pid, SimDuration::from_secs(30)).unwrap();
    let kernel = &world.machines[0].kernel;
    let veth_mac = kernel.root().link_by_name("veth3a080f1").unwrap().mac;
    let filter = FdbFilter { bridge: Some("docker0".into()), dev: None };
    let shown = views::bridge_fdb(kernel, &NsRef::Root, world.now(), &filter).unwrap();
    assert_eq!(
        shown,
        format!(
            "01:00:5e:00:00:6a dev docker0 self permanent\n\
             01:00:5e:00:00:01 dev docker0 self permanent\n\
             02:42:f1:7f:89:a6 dev docker0 master docker0 permanent\n\
             02:42:ac:11:00:02 dev veth3a080f1 master docker0 \n\
             {veth_mac} dev veth3a080f1 master docker0 permanent\n\
             01:00:5e:00:00:01 dev veth3a080f1 self permanent\n"
        )
    );
}

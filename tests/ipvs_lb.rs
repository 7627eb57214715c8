//! Docker's service load balancer, built from KernelOps as libnetwork programs an `lb_<net>`
//! namespace: the VIP as a /32 on the LB interface, mangle INPUT marking it, an `rr` fwmark
//! service with two masqueraded tasks, the `-m ipvs --ipvs` SNAT rule and the `vs` sysctls.
//! A client opens TCP connections to VIP:80 through a bridge; two backends answer.
//!
//! There is no differential test against real IPVS: this machine's kernel has no `ip_vs`
//! module, so the expected values come from the kernel's and ipvsadm's sources (see
//! `sim/kernel/ipvs/`).

use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::rc::Rc;

use indexmap::IndexMap;
use swarmsim::engine::{Capture, Filter, Machine, RunLimits, SimDuration, Streams, World};
use swarmsim::kernel::process::{ProcCtx, Process, ResolvConf};
use swarmsim::kernel::{Kernel, KernelOp, NsRef, SockId, SocketEvent, SocketEventKind};
use swarmsim::wire::{EtherPayload, IpPayload, TcpFlags};

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 100);
const LB_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const CONNECTIONS: usize = 4;

fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

/// A namespace on the bridge `br0` with `addr` on its `eth0`.
fn attach(name: &str, addr: &str) -> Vec<KernelOp> {
    let ns = NsRef::named(name);
    let host_end = format!("v-{name}");
    vec![
        KernelOp::NetnsAdd { name: name.into() },
        KernelOp::VethAdd { ns: NsRef::Root, name: host_end.clone(), peer: "tmp".into() },
        KernelOp::LinkSetNetns { ns: NsRef::Root, name: "tmp".into(), target: ns.clone() },
        KernelOp::LinkRename { ns: ns.clone(), name: "tmp".into(), new_name: "eth0".into() },
        KernelOp::AddrAdd { ns: ns.clone(), dev: "eth0".into(), addr: addr.parse().unwrap() },
        KernelOp::LinkUp { ns: ns.clone(), name: "eth0".into() },
        KernelOp::LinkUp { ns, name: "lo".into() },
        KernelOp::LinkSetMaster { ns: NsRef::Root, name: host_end.clone(), master: "br0".into() },
        KernelOp::LinkUp { ns: NsRef::Root, name: host_end },
    ]
}

/// What libnetwork's `addLBBackend`/`configureFWMark` and `ApplyOSTweaks` program, in the
/// ops vocabulary the docker model emits.
fn lb_ops() -> Vec<KernelOp> {
    let lb = NsRef::named("lb");
    let sysctl = |key: &str, value: &str| KernelOp::Sysctl {
        ns: lb.clone(),
        key: key.into(),
        value: value.into(),
    };
    let mut ops = vec![
        KernelOp::AddrAdd {
            ns: lb.clone(),
            dev: "eth0".into(),
            addr: "10.0.1.100/32".parse().unwrap(),
        },
        sysctl("net.ipv4.ip_forward", "1"),
        sysctl("net.ipv4.vs.conntrack", "1"),
        sysctl("net.ipv4.vs.conn_reuse_mode", "0"),
        sysctl("net.ipv4.vs.expire_nodest_conn", "1"),
        sysctl("net.ipv4.vs.expire_quiescent_template", "1"),
    ];
    for rule in [
        "-t mangle -A INPUT -d 10.0.1.100/32 -j MARK --set-mark 256",
        "-t nat -A POSTROUTING -m ipvs --ipvs -d 10.0.1.0/24 -j SNAT --to-source 10.0.1.2",
    ] {
        ops.push(KernelOp::Iptables { ns: lb.clone(), args: words(rule) });
    }
    for cmd in
        ["-A -f 256 -s rr", "-a -f 256 -r 10.0.1.3:0 -m -w 1", "-a -f 256 -r 10.0.1.4:0 -m -w 1"]
    {
        ops.push(KernelOp::Ipvsadm { ns: lb.clone(), args: words(cmd) });
    }
    ops
}

fn world() -> World {
    let streams = Streams::new(7);
    let mut kernel = Kernel::new("node", streams.stream("host/node"));
    let mut ops = vec![
        KernelOp::BridgeAdd { ns: NsRef::Root, name: "br0".into() },
        KernelOp::LinkUp { ns: NsRef::Root, name: "br0".into() },
    ];
    ops.extend(attach("client", "10.0.1.9/24"));
    ops.extend(attach("lb", "10.0.1.2/24"));
    ops.extend(attach("b1", "10.0.1.3/24"));
    ops.extend(attach("b2", "10.0.1.4/24"));
    ops.extend(lb_ops());
    for op in &ops {
        kernel.apply(op).unwrap_or_else(|e| panic!("{op}: {e}"));
    }
    let mut world = World::new(RunLimits::default());
    world.machines.push(Machine::new("node", kernel, vec![]));
    world
}

/// An HTTP server that answers every request with its name and the peer it sees.
struct WhoAmI {
    name: &'static str,
    peers: IndexMap<SockId, (Ipv4Addr, u16)>,
}

impl Process for WhoAmI {
    fn name(&self) -> &str {
        self.name
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        cx.tcp_listen(Ipv4Addr::UNSPECIFIED, 80).expect("port 80 is free");
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        match event.kind {
            SocketEventKind::Accepted { peer, .. } => {
                self.peers.insert(event.sock, peer);
            }
            SocketEventKind::Data(_) => {
                let (ip, port) = self.peers[&event.sock];
                let body = format!("{} {ip}:{port}\n", self.name);
                let resp =
                    format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                cx.tcp_send(event.sock, resp.as_bytes());
            }
            SocketEventKind::PeerClosed => cx.tcp_close(event.sock),
            _ => {}
        }
    }
}

/// What the client saw on one connection: which one it opened it as, and each answer.
#[derive(Debug, Default, Clone)]
struct Seen {
    nth: usize,
    answers: Vec<String>,
}

/// Opens `CONNECTIONS` connections to VIP:80 at once and asks twice on each (keep-alive).
struct Client {
    socks: IndexMap<SockId, Seen>,
    log: Rc<RefCell<Vec<Seen>>>,
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: vip\r\n\r\n";

impl Process for Client {
    fn name(&self) -> &str {
        "client"
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        for nth in 0..CONNECTIONS {
            let sock = cx.tcp_connect((VIP, 80)).expect("a route to the VIP");
            self.socks.insert(sock, Seen { nth, answers: Vec::new() });
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        match event.kind {
            SocketEventKind::Connected => cx.tcp_send(event.sock, REQUEST),
            SocketEventKind::Data(bytes) => {
                let text = String::from_utf8(bytes).unwrap();
                let body = text.split("\r\n\r\n").nth(1).unwrap().to_string();
                let seen = self.socks.get_mut(&event.sock).unwrap();
                seen.answers.push(body);
                if seen.answers.len() < 2 {
                    cx.tcp_send(event.sock, REQUEST);
                } else {
                    cx.tcp_close(event.sock);
                    self.log.borrow_mut().push(seen.clone());
                }
            }
            _ => {}
        }
    }
}

fn capture(world: &mut World, filter: &str) -> usize {
    world.captures.push(Capture {
        name: filter.into(),
        machine: 0,
        ns: NsRef::named("lb"),
        iface: "eth0".into(),
        filter: Filter::parse(filter).unwrap(),
        active: true,
        frames: Vec::new(),
    });
    world.captures.len() - 1
}

/// Packets and IP bytes a capture holds.
fn totals(world: &World, i: usize) -> (u64, u64) {
    let frames = &world.captures[i].frames;
    let bytes = frames.iter().map(|(_, f)| match &f.payload {
        EtherPayload::Ipv4(p) => p.buffer_len() as u64,
        EtherPayload::Arp(_) | EtherPayload::Vlan(_) => panic!("the filter takes TCP only"),
    });
    (frames.len() as u64, bytes.sum())
}

/// The SYNs among a capture's packets, and their IP bytes.
fn syn_totals(world: &World, i: usize) -> (u64, u64) {
    let syns = world.captures[i].frames.iter().filter_map(|(_, f)| match &f.payload {
        EtherPayload::Ipv4(p) => match &p.payload {
            IpPayload::Tcp(t) if t.flags.contains(TcpFlags::SYN) => Some(p.buffer_len() as u64),
            _ => None,
        },
        EtherPayload::Arp(_) | EtherPayload::Vlan(_) => None,
    });
    syns.fold((0, 0), |(n, b), len| (n + 1, b + len))
}

#[test]
fn the_vip_balances_connections_over_the_tasks_like_docker_lb() {
    let mut w = world();
    let client_in = capture(&mut w, "tcp and src host 10.0.1.9");
    let replies = capture(&mut w, "tcp and src port 80 and not src host 10.0.1.100");
    for (ns, name) in [("b1", "task-1"), ("b2", "task-2")] {
        let server = WhoAmI { name, peers: IndexMap::new() };
        w.spawn(0, NsRef::named(ns), Box::new(server), ResolvConf::default(), None);
    }
    let log = Rc::new(RefCell::new(Vec::new()));
    let client = Client { socks: IndexMap::new(), log: log.clone() };
    w.spawn(0, NsRef::named("client"), Box::new(client), ResolvConf::default(), None);
    let until = w.now() + SimDuration::from_secs(5);
    w.run_until(until).unwrap();

    // The client's sockets are connected to VIP:80, so every answer came from VIP:80; the
    // tasks saw the LB's address (SNAT keeps the client's port), and each connection kept
    // its task for both requests. rr starts with the task added last.
    let mut log = log.borrow().clone();
    log.sort_by_key(|s| s.nth);
    assert_eq!(log.len(), CONNECTIONS, "{log:?}");
    let tasks: Vec<&str> = log.iter().map(|s| &s.answers[0][..6]).collect();
    assert_eq!(tasks, ["task-2", "task-1", "task-2", "task-1"]);
    for seen in log.iter() {
        assert_eq!(seen.answers[0], seen.answers[1], "a connection moved");
        assert!(seen.answers[0].contains(&format!(" {LB_IP}:")), "{}", seen.answers[0]);
    }

    let (in_pkts, in_bytes) = totals(&w, client_in);
    let (out_pkts, out_bytes) = totals(&w, replies);
    let (syns, syn_bytes) = syn_totals(&w, client_in);
    let now = w.now();
    let lb = w.machines[0].kernel.namespaces.get_mut(&NsRef::named("lb")).unwrap();
    assert!(in_pkts > 4 * 4 && out_pkts > 4 * 3, "{in_pkts} {out_pkts}");
    let stats = lb.ipvs.run_command(now, &words("-Ln --stats")).unwrap();
    let service = stats.lines().nth(3).unwrap();
    assert_eq!(
        service,
        format!("FWM  256{:>34}{in_pkts:>9}{out_pkts:>9}{in_bytes:>9}{out_bytes:>9}", CONNECTIONS)
    );
    let per_task: Vec<&str> = stats.lines().skip(4).collect();
    assert_eq!(per_task.len(), 2);
    for line in per_task {
        assert!(line.starts_with("  -> 10.0.1."), "{line}");
        assert_eq!(&line[33..42], "        2", "two connections each: {line}");
    }

    // The SNAT rule saw each connection's first packet only (the nat table sees NEW).
    assert_eq!(syns, CONNECTIONS as u64);
    let nat = lb.netfilter.run_command(&words("-t nat -nvL POSTROUTING")).unwrap();
    assert_eq!(
        nat.lines().nth(2).unwrap(),
        format!(
            "{syns:>5} {syn_bytes:>5} SNAT       all  --  *      *       0.0.0.0/0            \
             10.0.1.0/24          ipvs to:10.0.1.2"
        )
    );
}

/// A VIP answers ping: ICMP is not IPVS's, so the LB namespace's own /32 replies.
#[test]
fn ping_to_the_vip_is_answered_by_the_lb_namespace() {
    let mut w = world();
    let ping = swarmsim::kernel::tools::Ping::parse(
        swarmsim::kernel::tools::PingFlavor::Iputils,
        &words("-c 2 10.0.1.100"),
    )
    .unwrap();
    let pid = w.spawn(
        0,
        NsRef::named("client"),
        Box::new(swarmsim::kernel::tools::Resolving::new(ping)),
        ResolvConf::default(),
        None,
    );
    let code = w.run_until_exit(0, pid, SimDuration::from_secs(10)).unwrap();
    let out = &w.machines[0].procs[&pid].stdout;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("2 packets transmitted, 2 received, 0% packet loss"), "{out}");
}

//! Whole-daemon tests: the exact ops and outputs of the labs' command sequences. Random
//! values (IDs, veth names, MACs of bridges, DNS ports) are read back from the daemon so
//! the tests check order and shape, not one seed's draws.

use super::*;
use crate::engine::{SimDuration, SimTime, Streams};

fn host() -> HostInfo {
    HostInfo {
        hostname: "docker-host-1".into(),
        interfaces: vec![("eth0".into(), "10.0.0.4/24".parse().unwrap())],
        nameservers: vec![Ipv4Addr::new(168, 63, 129, 16)],
        os: swarm::store::Os::Linux,
        engine_version: "20.10.7".into(),
    }
}

fn daemon() -> (Daemon, Vec<KernelOp>) {
    Daemon::start(host(), Streams::new(7).stream("host/docker-host-1/docker"))
}

fn run(d: &mut Daemon, secs: u64, line: &str) -> DockerOutcome {
    let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
    d.handle(SimTime::ZERO + SimDuration::from_secs(secs), &argv)
}

fn lines(ops: &[KernelOp]) -> Vec<String> {
    ops.iter().map(|o| o.to_string()).collect()
}

fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn daemon_start_programs_engine_20_10s_base_rules() {
    let (_, ops) = daemon();
    let got = lines(&ops);
    let mac = got[15].strip_prefix("ip link set dev docker0 address ").unwrap();
    assert!(mac.starts_with("02:42:") && mac.len() == 17, "{mac}");
    let want = owned(&[
        "sysctl -w net.bridge.bridge-nf-call-iptables=1",
        "iptables -t nat -N DOCKER",
        "iptables -t filter -N DOCKER",
        "iptables -t filter -N DOCKER-ISOLATION-STAGE-1",
        "iptables -t filter -N DOCKER-ISOLATION-STAGE-2",
        "iptables -A DOCKER-ISOLATION-STAGE-1 -j RETURN",
        "iptables -A DOCKER-ISOLATION-STAGE-2 -j RETURN",
        "sysctl -w net.ipv4.ip_forward=1",
        "iptables -t filter -P FORWARD DROP",
        "iptables -t filter -N DOCKER-USER",
        "iptables -A DOCKER-USER -j RETURN",
        "iptables -I FORWARD -j DOCKER-USER",
        "iptables -D FORWARD -j DOCKER-USER",
        "iptables -I FORWARD -j DOCKER-USER",
        "ip link add docker0 type bridge",
        &got[15],
        "ip addr add 172.17.0.1/16 dev docker0",
        "iptables -t nat -I POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
        "iptables -t nat -I DOCKER -i docker0 -j RETURN",
        "iptables -I FORWARD -i docker0 -o docker0 -j ACCEPT",
        "iptables -I FORWARD -i docker0 ! -o docker0 -j ACCEPT",
        "iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
        "iptables -t nat -A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER ! --dst 127.0.0.0/8",
        "iptables -I FORWARD -o docker0 -j DOCKER",
        "iptables -I FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "iptables -I FORWARD -j DOCKER-ISOLATION-STAGE-1",
        "iptables -t filter -I DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2",
        "iptables -t filter -I DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP",
        "ip link set dev docker0 up",
        "iptables -D FORWARD -j DOCKER-USER",
        "iptables -I FORWARD -j DOCKER-USER",
    ]);
    assert_eq!(got, want);
}

#[test]
fn user_network_and_published_container_ops() {
    let (mut d, _) = daemon();
    let o = run(&mut d, 1, "network create -d bridge catnet");
    let id = d.network("catnet").unwrap().id.clone();
    assert_eq!(o.stdout, format!("{id}\n"));
    let br = format!("br-{}", &id[..12]);
    let got = lines(&o.ops);
    let want: Vec<String> = [
        format!("ip link add {br} type bridge"),
        got[1].clone(),
        format!("ip addr add 172.18.0.1/16 dev {br}"),
        format!("iptables -t nat -I POSTROUTING -s 172.18.0.0/16 ! -o {br} -j MASQUERADE"),
        format!("iptables -t nat -I DOCKER -i {br} -j RETURN"),
        format!("iptables -I FORWARD -i {br} -o {br} -j ACCEPT"),
        format!("iptables -I FORWARD -i {br} ! -o {br} -j ACCEPT"),
        format!("iptables -I FORWARD -o {br} -j DOCKER"),
        format!("iptables -I FORWARD -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
        "iptables -D FORWARD -j DOCKER-ISOLATION-STAGE-1".into(),
        "iptables -I FORWARD -j DOCKER-ISOLATION-STAGE-1".into(),
        format!("iptables -t filter -I DOCKER-ISOLATION-STAGE-1 -i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2"),
        format!("iptables -t filter -I DOCKER-ISOLATION-STAGE-2 -o {br} -j DROP"),
        format!("ip link set dev {br} up"),
        "iptables -D FORWARD -j DOCKER-USER".into(),
        "iptables -I FORWARD -j DOCKER-USER".into(),
    ]
    .into();
    assert_eq!(got, want);

    run(&mut d, 2, "run -d --net catnet --name cat-db redis");
    let o = run(&mut d, 3, "run -d --net catnet -p 8000:5000 -e DB=cat-db -e ROLE=cat chrch/web");
    let web = d.container(o.stdout.trim()).unwrap();
    let sb = web.sandbox.clone().unwrap();
    let (udp, tcp) = sb.dns_ports.unwrap();
    let ep = d.network("catnet").unwrap().endpoints[&web.id].clone();
    let k = &sb.key;
    let peer = match &o.ops[0] {
        KernelOp::VethAdd { peer, .. } => peer.clone(),
        op => panic!("{op}"),
    };
    let ns = format!("ip netns exec {k}");
    let h = &ep.host_veth;
    let want: Vec<String> = [
        format!("ip link add {h} type veth peer name {peer}"),
        format!("ip link set dev {h} master {br}"),
        format!("ip link set dev {h} up"),
        format!("ip netns add {k}"),
        format!("{ns} ip link set dev lo up"),
        format!("{ns} iptables -t nat -N DOCKER_OUTPUT"),
        format!("{ns} iptables -t nat -I OUTPUT -d 127.0.0.11 -j DOCKER_OUTPUT"),
        format!("{ns} iptables -t nat -N DOCKER_POSTROUTING"),
        format!("{ns} iptables -t nat -I POSTROUTING -d 127.0.0.11 -j DOCKER_POSTROUTING"),
        format!("{ns} iptables -t nat -I DOCKER_OUTPUT -d 127.0.0.11 -p udp --dport 53 -j DNAT --to-destination 127.0.0.11:{udp}"),
        format!("{ns} iptables -t nat -I DOCKER_POSTROUTING -s 127.0.0.11 -p udp --sport {udp} -j SNAT --to-source :53"),
        format!("{ns} iptables -t nat -I DOCKER_OUTPUT -d 127.0.0.11 -p tcp --dport 53 -j DNAT --to-destination 127.0.0.11:{tcp}"),
        format!("{ns} iptables -t nat -I DOCKER_POSTROUTING -s 127.0.0.11 -p tcp --sport {tcp} -j SNAT --to-source :53"),
        format!("ip link set {peer} netns {k}"),
        format!("{ns} ip link set dev {peer} name eth0"),
        format!("{ns} ip link set dev eth0 address 02:42:ac:12:00:03"),
        format!("{ns} ip addr add 172.18.0.3/16 dev eth0"),
        format!("{ns} ip link set dev eth0 up"),
        format!("{ns} ip route add default via 172.18.0.1 dev eth0"),
        format!("iptables -t nat -A DOCKER -p tcp -d 0/0 --dport 8000 -j DNAT --to-destination 172.18.0.3:5000 ! -i {br}"),
        format!("iptables -t filter -A DOCKER ! -i {br} -o {br} -p tcp -d 172.18.0.3 --dport 5000 -j ACCEPT"),
        "iptables -t nat -A POSTROUTING -p tcp -s 172.18.0.3 -d 172.18.0.3 --dport 5000 -j MASQUERADE".into(),
    ]
    .into();
    assert_eq!(lines(&o.ops), want);
    assert!(peer.starts_with("veth") && peer.len() == 11 && h.len() == 11);
    let proxy = Effect::StartProxy {
        proto: Proto::Tcp,
        host_ip: Ipv4Addr::UNSPECIFIED,
        host_port: 8000,
        container_ip: Ipv4Addr::new(172, 18, 0, 3),
        container_port: 5000,
    };
    assert_eq!(o.effects[0], proxy);
    assert_eq!(web.nameservers, [RESOLVER_IP]);
    let env = web.process_env();
    assert_eq!(env[1], ("HOSTNAME".to_string(), web.short_id()));
    assert_eq!(&env[2..], [("DB".into(), "cat-db".into()), ("ROLE".into(), "cat".into())]);
}

#[test]
fn stopping_undoes_the_plumbing_in_reverse() {
    let (mut d, _) = daemon();
    let o = run(&mut d, 1, "run --name web1 -d -p 8080:80 nginx");
    let c = d.container("web1").unwrap().clone();
    let k = c.sandbox.clone().unwrap().key;
    let o2 = run(&mut d, 9, "stop web1");
    assert_eq!(o2.stdout, "web1\n");
    assert_eq!(
        lines(&o2.ops),
        owned(&[
            "iptables -t nat -D DOCKER -p tcp -d 0/0 --dport 8080 -j DNAT --to-destination 172.17.0.2:80 ! -i docker0",
            "iptables -t filter -D DOCKER ! -i docker0 -o docker0 -p tcp -d 172.17.0.2 --dport 80 -j ACCEPT",
            "iptables -t nat -D POSTROUTING -p tcp -s 172.17.0.2 -d 172.17.0.2 --dport 80 -j MASQUERADE",
            &format!("ip netns exec {k} ip link delete eth0"),
            &format!("ip netns delete {k}"),
        ])
    );
    assert_eq!(o2.effects[0], Effect::StopProcesses { container_id: c.id.clone() });
    // The default bridge sets MTU 1500 on both veth ends and needs no resolver.
    assert!(lines(&o.ops).iter().any(|l| l.ends_with("mtu 1500")));
    assert!(!lines(&o.ops).iter().any(|l| l.contains("DOCKER_OUTPUT")));
    assert_eq!(c.nameservers, [Ipv4Addr::new(168, 63, 129, 16)]);
    let ps = run(&mut d, 9, "ps -a").stdout;
    assert!(ps.contains("Exited (0) Less than a second ago"), "{ps}");
}

#[test]
fn listings_match_docker_20_10() {
    let (mut d, _) = daemon();
    run(&mut d, 0, "network create mybridge");
    run(&mut d, 0, "run -d --name web1 -p 8080:80 nginx");
    run(&mut d, 5, "run -dt --network mybridge --name alpine_host alpine top");
    let ls = run(&mut d, 6, "network ls").stdout;
    let id = |n: &str| d.network(n).unwrap().id[..12].to_string();
    let want = format!(
        "NETWORK ID     NAME       DRIVER    SCOPE\n{}   bridge     bridge    local\n{}   host       host      local\n{}   mybridge   bridge    local\n{}   none       null      local\n",
        id("bridge"), id("host"), id("mybridge"), id("none")
    );
    assert_eq!(ls, want);
    let ps = run(&mut d, 65, "ps").stdout;
    let (host_id, web_id) =
        (d.container("alpine_host").unwrap().short_id(), d.container("web1").unwrap().short_id());
    let want = format!(
        "CONTAINER ID   IMAGE     COMMAND                  CREATED              STATUS              PORTS                                   NAMES\n\
         {}   alpine    \"top\"                    About a minute ago   Up About a minute                                           alpine_host\n\
         {}   nginx     \"/docker-entrypoint.…\"   About a minute ago   Up About a minute   0.0.0.0:8080->80/tcp, :::8080->80/tcp   web1\n",
        host_id, web_id
    );
    assert_eq!(ps, want);
    let f = run(&mut d, 6, "inspect -f {{.NetworkSettings.Networks}} alpine_host").stdout;
    assert!(f.starts_with("map[mybridge:0xc0") && f.ends_with("]\n") && f.len() == 27, "{f}");
    let tmpl = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}";
    let ip = d.handle(SimTime::ZERO, &owned(&["inspect", "-f", tmpl, "alpine_host"]));
    assert_eq!(ip.stdout, "172.18.0.2\n");
    assert_eq!(
        run(&mut d, 6, "inspect -f {{.NetworkSettings.IPAddress}} web1").stdout,
        "172.17.0.2\n"
    );
    let q = run(&mut d, 6, "ps -q").stdout;
    assert_eq!(q, format!("{host_id}\n{web_id}\n"));
}

#[test]
fn default_bridge_inspect_matches_the_lab() {
    let (mut d, _) = daemon();
    run(&mut d, 0, "run -dt ubuntu sleep infinity");
    let c = d.containers().next().unwrap().clone();
    let out = run(&mut d, 1, "network inspect bridge").stdout;
    let ep = &d.network("bridge").unwrap().endpoints[&c.id];
    let want = format!(
        r#"[
    {{
        "Name": "bridge",
        "Id": "{}",
        "Created": "2021-07-08T10:00:00Z",
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "IPAM": {{
            "Driver": "default",
            "Options": null,
            "Config": [
                {{
                    "Subnet": "172.17.0.0/16",
                    "Gateway": "172.17.0.1"
                }}
            ]
        }},
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {{
            "Network": ""
        }},
        "ConfigOnly": false,
        "Containers": {{
            "{}": {{
                "Name": "{}",
                "EndpointID": "{}",
                "MacAddress": "02:42:ac:11:00:02",
                "IPv4Address": "172.17.0.2/16",
                "IPv6Address": ""
            }}
        }},
        "Options": {{
            "com.docker.network.bridge.default_bridge": "true",
            "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
            "com.docker.network.bridge.name": "docker0",
            "com.docker.network.driver.mtu": "1500"
        }},
        "Labels": {{}}
    }}
]
"#,
        d.network("bridge").unwrap().id,
        c.id,
        c.name,
        ep.id
    );
    assert_eq!(out, want);
}

#[test]
fn daemon_errors_have_dockers_texts() {
    let (mut d, _) = daemon();
    run(&mut d, 0, "network create catnet");
    let first = run(&mut d, 0, "run --name web1 -d -p 8080:80 nginx");
    let id = first.stdout.trim().to_string();
    let e = run(&mut d, 1, "run --name web1 -d nginx");
    assert_eq!(e.stderr, format!("docker: Error response from daemon: Conflict. The container name \"/web1\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.\nSee 'docker run --help'.\n"));
    assert_eq!(e.exit_code, 125);
    let e = run(&mut d, 1, "run --name web2 -d -p 8080:80 nginx");
    assert!(e.stderr.starts_with("docker: Error response from daemon: driver failed programming external connectivity on endpoint web2 ("), "{}", e.stderr);
    assert!(e.stderr.ends_with("): Bind for 0.0.0.0:8080 failed: port is already allocated.\n"));
    assert!(e.stdout.is_empty() && e.ops.is_empty());
    let e = run(&mut d, 1, "run -d --ip 172.17.0.9 nginx");
    assert_eq!(e.stderr, "docker: Error response from daemon: user specified IP address is supported on user defined networks only.\n");
    let e = run(&mut d, 1, "run -d --net catnet --ip 172.18.0.9 nginx");
    assert_eq!(e.stderr, "docker: Error response from daemon: user specified IP address is supported only when connecting to networks with user configured subnets.\n");
    assert_eq!(
        run(&mut d, 1, "network create catnet").stderr,
        "Error response from daemon: network with name catnet already exists\n"
    );
    assert_eq!(run(&mut d, 1, "rm web1").stderr, format!("Error response from daemon: You cannot remove a running container {id}. Stop the container before attempting removal or force remove\n"));
    assert_eq!(run(&mut d, 1, "rm nope").stderr, "Error: No such container: nope\n");
    let o = run(&mut d, 1, "network inspect nope");
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str(), o.exit_code),
        ("[]\n", "Error: No such network: nope\n", 1)
    );
    run(&mut d, 1, "network connect catnet web1");
    let net = d.network("catnet").unwrap().id.clone();
    assert_eq!(run(&mut d, 1, "network rm catnet").stderr, format!("Error response from daemon: error while removing network: network catnet id {net} has active endpoints\n"));
    assert_eq!(
        run(&mut d, 1, "network rm bridge").stderr,
        "Error response from daemon: bridge is a pre-defined network and cannot be removed\n"
    );
    run(&mut d, 1, "run -d --net host --name h1 nginx");
    assert_eq!(run(&mut d, 1, "network connect catnet h1").stderr, "Error response from daemon: container cannot be disconnected from host network or connected to host network\n");
    let e = run(&mut d, 1, "run -d nosuch");
    assert_eq!(e.stderr, "Unable to find image 'nosuch:latest' locally\ndocker: Error response from daemon: pull access denied for nosuch, repository does not exist or may require 'docker login': denied: requested access to the resource is denied.\nSee 'docker run --help'.\n");
    let e = run(&mut d, 1, "network create my bridge");
    assert_eq!(e.stderr, "\"docker network create\" requires exactly 1 argument.\nSee 'docker network create --help'.\n\nUsage:  docker network create [OPTIONS] NETWORK\n\nCreate a network\n");
}

#[test]
fn embedded_dns_answers_on_user_networks_only() {
    let (mut d, _) = daemon();
    run(&mut d, 0, "network create mybridge");
    run(&mut d, 0, "run -d --network mybridge --name alpine_host --network-alias db alpine top");
    let client = run(&mut d, 0, "run -d --name alpine_client alpine top").stdout;
    let host = d.container("alpine_host").unwrap().clone();
    // On the default bridge: no names, everything goes to the host's servers.
    assert_eq!(d.resolve(client.trim(), "alpine_host"), None);
    run(&mut d, 0, "rm --force alpine_client");
    let client = run(&mut d, 0, "run -d --network mybridge --name alpine_client alpine top").stdout;
    let ip = Some(vec![Ipv4Addr::new(172, 18, 0, 2)]);
    assert_eq!(d.resolve(client.trim(), "alpine_host"), ip);
    assert_eq!(d.resolve(client.trim(), "db."), ip);
    assert_eq!(d.resolve(client.trim(), &host.short_id()), ip);
    assert_eq!(d.resolve(client.trim(), "alpine_host.mybridge"), ip);
    assert_eq!(d.resolve(client.trim(), "www.dockercon.com"), None);
    let argv = owned(&[
        "inspect",
        "-f",
        "{{json .NetworkSettings.Networks.mybridge.Aliases}}",
        "alpine_host",
    ]);
    let aliases = d.handle(SimTime::ZERO, &argv).stdout;
    assert_eq!(aliases, format!("[\"db\",\"{}\"]\n", host.short_id()));
}

#[test]
fn network_rm_undoes_network_create() {
    let (mut d, _) = daemon();
    let id = run(&mut d, 0, "network create catnet").stdout;
    let br = format!("br-{}", &id[..12]);
    let o = run(&mut d, 0, "network rm catnet");
    assert_eq!(o.stdout, "catnet\n");
    assert_eq!(
        lines(&o.ops),
        [
            format!("ip link delete {br}"),
            format!("iptables -t nat -D POSTROUTING -s 172.18.0.0/16 ! -o {br} -j MASQUERADE"),
            format!("iptables -t nat -D DOCKER -i {br} -j RETURN"),
            format!("iptables -D FORWARD -i {br} -o {br} -j ACCEPT"),
            format!("iptables -D FORWARD -i {br} ! -o {br} -j ACCEPT"),
            format!("iptables -D FORWARD -o {br} -j DOCKER"),
            format!("iptables -D FORWARD -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
            format!("iptables -t filter -D DOCKER-ISOLATION-STAGE-1 -i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2"),
            format!("iptables -t filter -D DOCKER-ISOLATION-STAGE-2 -o {br} -j DROP"),
        ]
    );
    // The pool is free again.
    let again = run(&mut d, 0, "network create --subnet 10.9.0.0/24 --gateway 10.9.0.254 lab");
    assert_eq!(again.exit_code, 0);
    let n = d.network("lab").unwrap();
    assert_eq!(
        (n.gateway, n.subnet()),
        (Some(Ipv4Addr::new(10, 9, 0, 254)), Some("10.9.0.0/24".parse().unwrap()))
    );
}

#[test]
fn info_lists_20_10_network_plugins() {
    let (mut d, _) = daemon();
    let info = run(&mut d, 0, "info").stdout;
    assert!(info.contains("\n  Network: bridge host ipvlan macvlan null overlay\n"));
    assert!(
        info.contains("\n Server Version: 20.10.7\n") && info.contains("\n Name: docker-host-1\n")
    );
    assert!(
        info.contains("\n Containers: 0\n  Running: 0\n  Paused: 0\n  Stopped: 0\n Images: 0\n")
    );
    let help = run(&mut d, 0, "network");
    assert_eq!((help.exit_code, help.stdout.as_str()), (0, ""));
    assert!(help.stderr.starts_with("\nUsage:  docker network COMMAND\n"));
}

#[test]
fn ps_filters_by_name_regex_and_refuses_bad_filters_like_docker() {
    let (mut d, _) = daemon();
    let web = run(&mut d, 1, "run -d --name web nginx").stdout;
    run(&mut d, 2, "run -d --name db redis");
    assert_eq!(run(&mut d, 3, "ps -q --filter name=^/we").stdout, format!("{}\n", &web[..12]));
    assert_eq!(run(&mut d, 3, "ps -q -f name=zz").stdout, "");
    assert_eq!(run(&mut d, 3, "ps -q -f label=com.docker.swarm.task").stdout, "");
    let bad = run(&mut d, 3, "ps --filter foo");
    assert_eq!(
        (bad.stderr.as_str(), bad.exit_code),
        (
            "invalid argument \"foo\" for \"-f, --filter\" flag: bad format of filter (expected \
             name=value)\nSee 'docker ps --help'.\n",
            125
        )
    );
    let unknown = run(&mut d, 3, "ps --filter foo=bar");
    assert_eq!(
        (unknown.stderr.as_str(), unknown.exit_code),
        ("Error response from daemon: Invalid filter 'foo'\n", 1)
    );
}

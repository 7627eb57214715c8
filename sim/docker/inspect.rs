//! `docker inspect` and `docker network inspect`: the API objects as value trees, in the
//! field order of the Engine 20.10 API types (`types.NetworkResource`,
//! `types.ContainerJSON`). The container object is a subset: the fields networking labs
//! read (State, Config, HostConfig.NetworkMode/PortBindings, NetworkSettings).

use std::collections::BTreeMap;

use super::cli::Parsed;
use super::container::{Container, ContainerState};
use super::daemon::Daemon;
use super::format::rfc3339_nano;
use super::network::{Driver, Endpoint, Network};
use super::render::{execute, to_json_indent, Value};
use super::swarm::render::LocalInstance;
use super::DockerOutcome;
use crate::proto::networkdb::NodeState;

impl Daemon {
    pub(crate) fn network_value(&self, n: &Network) -> Value {
        let config = match (&n.user_ipam, n.driver) {
            (Some(u), _) => {
                let mut f = vec![("Subnet", Value::s(u.subnet.to_string()))];
                if let Some(r) = u.ip_range {
                    f.push(("IPRange", Value::s(r.to_string())));
                }
                if let Some(g) = u.gateway {
                    f.push(("Gateway", Value::s(g.to_string())));
                }
                vec![Value::obj(f)]
            }
            (None, Driver::Bridge | Driver::Macvlan) => vec![Value::obj(vec![
                ("Subnet", Value::s(n.subnet().expect("local subnet").to_string())),
                ("Gateway", Value::s(n.gateway.expect("local gateway").to_string())),
            ])],
            (None, _) => Vec::new(),
        };
        let ipam_opts = n.ipam_options.as_deref().map_or(Value::Null, Value::str_map);
        Value::obj(vec![
            ("Name", Value::s(n.name.clone())),
            ("Id", Value::s(n.id.clone())),
            ("Created", Value::s(rfc3339_nano(n.created))),
            ("Scope", Value::s("local")),
            ("Driver", Value::s(n.driver.to_string())),
            ("EnableIPv6", Value::Bool(false)),
            (
                "IPAM",
                Value::obj(vec![
                    ("Driver", Value::s("default")),
                    ("Options", ipam_opts),
                    ("Config", Value::List(config)),
                ]),
            ),
            ("Internal", Value::Bool(n.internal)),
            ("Attachable", Value::Bool(n.attachable)),
            ("Ingress", Value::Bool(false)),
            ("ConfigFrom", Value::obj(vec![("Network", Value::s(""))])),
            ("ConfigOnly", Value::Bool(false)),
            ("Containers", endpoint_resources(n.endpoints.values())),
            ("Options", Value::str_map(&n.options)),
            ("Labels", Value::str_map(&n.labels)),
        ])
    }

    /// This node's instance of a swarm network, for `docker network inspect`: the task
    /// endpoints and the node's load-balancer endpoint, and the peers NetworkDB lists for
    /// the network (`NetworkDB.Peers`: `networkNodes` order, live nodes only).
    pub(crate) fn local_instance(&self, n: &Network) -> LocalInstance {
        let peers = self.network_db().map_or(Vec::new(), |db| {
            let live = |name: &String| {
                let info = db.node(name).filter(|i| i.state == NodeState::Active)?;
                Some((name.clone(), info.addr))
            };
            db.network_nodes(&n.id).iter().filter_map(live).collect()
        });
        LocalInstance {
            created: n.created,
            containers: endpoint_resources(n.endpoints.values().chain(n.lb_endpoint())),
            peers,
        }
    }

    pub(crate) fn cmd_network_inspect(&self, p: &Parsed) -> DockerOutcome {
        let mut found = Vec::new();
        let mut out = DockerOutcome::default();
        for key in &p.args {
            match self.network_inspect_value(key) {
                Some(v) => found.push(v),
                None => {
                    out.stderr += &format!("Error: No such network: {key}\n");
                    out.exit_code = 1;
                }
            }
        }
        render_found(found, p.value("format"), out)
    }

    pub(crate) fn cmd_inspect(&self, p: &Parsed, any_type: bool) -> DockerOutcome {
        let mut found = Vec::new();
        let mut out = DockerOutcome::default();
        for key in &p.args {
            if let Some(c) = self.container(key) {
                found.push(self.container_value(c));
            } else if let Some(v) = self.network_inspect_value(key).filter(|_| any_type) {
                found.push(v);
            } else {
                let what = if any_type { "object" } else { "container" };
                out.stderr += &format!("Error: No such {what}: {key}\n");
                out.exit_code = 1;
            }
        }
        render_found(found, p.value("format"), out)
    }

    /// The port list of `docker ps` (20.10 `DisplayablePorts`): bindings sorted by
    /// container port then host IP, `IP:HOST->PORT/PROTO`, plus unbound exposed ports.
    pub(crate) fn port_list(&self, c: &Container) -> Vec<String> {
        let mut ports: Vec<(u16, String, u16, String)> = Vec::new();
        let bindings: Vec<_> = self
            .networks
            .values()
            .filter_map(|n| n.endpoints.get(&c.id))
            .flat_map(|e| e.ports.clone())
            .collect();
        for b in &bindings {
            let proto = b.proto.to_string();
            ports.push((b.container_port, b.host_ip.to_string(), b.host_port, proto.clone()));
            if b.host_ip.is_unspecified() {
                ports.push((b.container_port, "::".into(), b.host_port, proto));
            }
        }
        for e in &c.exposed {
            let (port, proto) = e.split_once('/').expect("exposed ports are PORT/PROTO");
            let port: u16 = port.parse().expect("numeric");
            if !bindings.iter().any(|b| b.container_port == port && b.proto.to_string() == proto) {
                ports.push((port, String::new(), 0, proto.to_string()));
            }
        }
        ports.sort();
        let (mut plain, mut mapped) = (Vec::new(), Vec::new());
        for (priv_port, ip, pub_port, proto) in ports {
            match (ip.is_empty(), pub_port == priv_port) {
                (true, _) => plain.push(format!("{priv_port}/{proto}")),
                (false, true) => plain.push(format!("{ip}:{priv_port}->{priv_port}/{proto}")),
                (false, false) => mapped.push(format!("{ip}:{pub_port}->{priv_port}/{proto}")),
            }
        }
        plain.extend(mapped);
        plain
    }

    pub(crate) fn container_value(&self, c: &Container) -> Value {
        let (status, running, pid, code, started, finished) = match c.state {
            ContainerState::Created => ("created", false, 0, 0, None, None),
            ContainerState::Running { started } => ("running", true, 1, 0, Some(started), None),
            ContainerState::Exited { code, started, finished } => {
                ("exited", false, 0, code, Some(started), Some(finished))
            }
        };
        let time =
            |t: Option<_>| Value::s(t.map_or("0001-01-01T00:00:00Z".to_string(), rfc3339_nano));
        let state = Value::obj(vec![
            ("Status", Value::s(status)),
            ("Running", Value::Bool(running)),
            ("Paused", Value::Bool(false)),
            ("Restarting", Value::Bool(false)),
            ("OOMKilled", Value::Bool(false)),
            ("Dead", Value::Bool(false)),
            ("Pid", Value::Int(pid)),
            ("ExitCode", Value::Int(i64::from(code))),
            ("Error", Value::s("")),
            ("StartedAt", time(started)),
            ("FinishedAt", time(finished)),
        ]);
        let cmd_line = c.command_line();
        Value::obj(vec![
            ("Id", Value::s(c.id.clone())),
            ("Created", Value::s(rfc3339_nano(c.created))),
            ("Path", Value::s(cmd_line.first().cloned().unwrap_or_default())),
            ("Args", Value::strs(cmd_line.get(1..).unwrap_or(&[]))),
            ("State", state),
            ("Image", Value::s(c.image_id.clone())),
            (
                "ResolvConfPath",
                Value::s(format!("/var/lib/docker/containers/{}/resolv.conf", c.id)),
            ),
            ("HostnamePath", Value::s(format!("/var/lib/docker/containers/{}/hostname", c.id))),
            ("HostsPath", Value::s(format!("/var/lib/docker/containers/{}/hosts", c.id))),
            ("Name", Value::s(format!("/{}", c.name))),
            ("RestartCount", Value::Int(0)),
            ("Driver", Value::s("overlay2")),
            ("Platform", Value::s("linux")),
            ("HostConfig", self.host_config_value(c)),
            ("Config", config_value(c)),
            ("NetworkSettings", self.network_settings_value(c)),
        ])
    }

    fn host_config_value(&self, c: &Container) -> Value {
        let mut bindings: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for s in &c.publish {
            let key = format!("{}/{}", s.container_port, s.proto);
            bindings.entry(key).or_default().push(Value::obj(vec![
                ("HostIp", Value::s(s.host_ip.map(|i| i.to_string()).unwrap_or_default())),
                ("HostPort", Value::s(s.host_port.map(|p| p.to_string()).unwrap_or_default())),
            ]));
        }
        Value::obj(vec![
            ("NetworkMode", Value::s(c.network_mode.clone())),
            (
                "PortBindings",
                Value::Map(bindings.into_iter().map(|(k, v)| (k, Value::List(v))).collect()),
            ),
            ("AutoRemove", Value::Bool(c.auto_remove)),
        ])
    }

    fn network_settings_value(&self, c: &Container) -> Value {
        let eps: Vec<(&Network, Option<&Endpoint>)> = c
            .networks
            .iter()
            .filter_map(|a| self.networks.get(&a.network_id))
            .map(|n| (n, n.endpoints.get(&c.id)))
            .collect();
        let mut nets = BTreeMap::new();
        for (att, (n, ep)) in c.networks.iter().zip(&eps) {
            nets.insert(
                n.name.clone(),
                Value::Ptr(att.ptr, Box::new(endpoint_settings(att, n, *ep))),
            );
        }
        // The top-level fields describe the default bridge endpoint only.
        let bridge_ep = eps.iter().find(|(n, _)| n.default_bridge).and_then(|(_, e)| *e);
        let s = |f: &dyn Fn(&Endpoint) -> String| Value::s(bridge_ep.map(f).unwrap_or_default());
        let sb = c.sandbox.as_ref();
        Value::obj(vec![
            ("Bridge", Value::s("")),
            ("SandboxID", Value::s(sb.map(|s| s.id.clone()).unwrap_or_default())),
            ("HairpinMode", Value::Bool(false)),
            ("Ports", self.ports_value(c)),
            (
                "SandboxKey",
                Value::s(
                    sb.map(|s| format!("/var/run/docker/netns/{}", s.key)).unwrap_or_default(),
                ),
            ),
            ("EndpointID", s(&|e| e.id.clone())),
            (
                "Gateway",
                Value::s(
                    bridge_ep
                        .and_then(|_| eps.iter().find(|(n, _)| n.default_bridge)?.0.gateway)
                        .map(|g| g.to_string())
                        .unwrap_or_default(),
                ),
            ),
            ("IPAddress", s(&|e| e.addr.addr().to_string())),
            ("IPPrefixLen", Value::Int(bridge_ep.map_or(0, |e| i64::from(e.addr.prefix_len())))),
            ("MacAddress", s(&|e| e.mac.to_string())),
            ("Networks", Value::Map(nets)),
        ])
    }

    fn ports_value(&self, c: &Container) -> Value {
        let mut m: BTreeMap<String, Value> = BTreeMap::new();
        if c.sandbox.is_none() {
            return Value::Map(m);
        }
        for e in &c.exposed {
            m.insert(e.clone(), Value::Null);
        }
        for ep in self.networks.values().filter_map(|n| n.endpoints.get(&c.id)) {
            for b in &ep.ports {
                let key = format!("{}/{}", b.container_port, b.proto);
                let mut list = match m.remove(&key) {
                    Some(Value::List(l)) => l,
                    _ => Vec::new(),
                };
                for ip in [b.host_ip.to_string(), "::".to_string()] {
                    if ip == "::" && !b.host_ip.is_unspecified() {
                        continue;
                    }
                    list.push(Value::obj(vec![
                        ("HostIp", Value::s(ip)),
                        ("HostPort", Value::s(b.host_port.to_string())),
                    ]));
                }
                m.insert(key, Value::List(list));
            }
        }
        Value::Map(m)
    }
}

/// `Containers` of a network: each endpoint (`buildEndpointResource`) under its sandbox's
/// container ID, which for the daemon's own sandboxes is `lb-<net>` or `ingress-sbox`; the
/// name is the endpoint's (a container's own name, `gateway_…`, `<net>-endpoint`).
fn endpoint_resources<'a>(eps: impl Iterator<Item = &'a Endpoint>) -> Value {
    let resources = eps.map(|e| {
        let v = Value::obj(vec![
            ("Name", Value::s(e.name.clone())),
            ("EndpointID", Value::s(e.id.clone())),
            ("MacAddress", Value::s(e.mac.to_string())),
            ("IPv4Address", Value::s(e.addr.to_string())),
            ("IPv6Address", Value::s("")),
        ]);
        (e.container_id.clone(), v)
    });
    Value::Map(resources.collect())
}

fn endpoint_settings(
    att: &super::container::Attachment,
    n: &Network,
    ep: Option<&Endpoint>,
) -> Value {
    let s = |f: &dyn Fn(&Endpoint) -> String| Value::s(ep.map(f).unwrap_or_default());
    let aliases = match ep {
        Some(e) if n.is_user_defined() => Value::strs(&e.aliases),
        _ if !att.aliases.is_empty() => Value::strs(&att.aliases),
        _ => Value::Null,
    };
    Value::obj(vec![
        (
            "IPAMConfig",
            att.ip.map_or(Value::Null, |ip| {
                Value::obj(vec![("IPv4Address", Value::s(ip.to_string()))])
            }),
        ),
        ("Links", Value::Null),
        ("Aliases", aliases),
        ("NetworkID", Value::s(n.id.clone())),
        ("EndpointID", s(&|e| e.id.clone())),
        ("Gateway", Value::s(ep.and(n.gateway).map(|g| g.to_string()).unwrap_or_default())),
        ("IPAddress", s(&|e| e.addr.addr().to_string())),
        ("IPPrefixLen", Value::Int(ep.map_or(0, |e| i64::from(e.addr.prefix_len())))),
        ("IPv6Gateway", Value::s("")),
        ("GlobalIPv6Address", Value::s("")),
        ("GlobalIPv6PrefixLen", Value::Int(0)),
        ("MacAddress", s(&|e| e.mac.to_string())),
        ("DriverOpts", Value::Null),
    ])
}

/// `Config` (`container.Config`), the fields modelled, in declaration order: `ExposedPorts`
/// is `omitempty`; `Labels` are always a map, `{}` for a container without any (the CLI
/// sends an empty one), the swarm's `com.docker.swarm.*` labels on a task's container.
fn config_value(c: &Container) -> Value {
    let entry = if c.entrypoint.is_empty() { Value::Null } else { Value::strs(&c.entrypoint) };
    let mut f = vec![
        ("Hostname", Value::s(c.hostname.clone())),
        ("Domainname", Value::s("")),
        ("User", Value::s("")),
        ("AttachStdin", Value::Bool(c.open_stdin)),
    ];
    if !c.exposed.is_empty() {
        let ports = c.exposed.iter().map(|e| (e.clone(), Value::Map(BTreeMap::new())));
        f.push(("ExposedPorts", Value::Map(ports.collect())));
    }
    f.extend([
        ("Tty", Value::Bool(c.tty)),
        ("OpenStdin", Value::Bool(c.open_stdin)),
        ("Env", Value::strs(&c.env)),
        ("Cmd", Value::strs(&c.cmd)),
        ("Image", Value::s(c.image.given.clone())),
        ("Entrypoint", entry),
        ("Labels", Value::str_map(&c.labels)),
    ]);
    Value::obj(f)
}

/// `[…]` JSON, or one template result per object; errors after what was found.
fn render_found(found: Vec<Value>, format: Option<&str>, mut out: DockerOutcome) -> DockerOutcome {
    match format {
        None => out.stdout = to_json_indent(&Value::List(found)) + "\n",
        Some(t) => {
            for v in &found {
                match execute(t, v) {
                    Ok(s) => out.stdout += &(s + "\n"),
                    Err(e) => return DockerOutcome::err(format!("{e}\n"), 1),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::docker::swarm::store::Os;
    use crate::docker::HostInfo;
    use crate::engine::{SimDuration, SimTime, Streams};
    use crate::wire::MacAddr;

    fn daemon() -> Daemon {
        let host = HostInfo {
            hostname: "docker-host-1".into(),
            interfaces: vec![("eth0".into(), "10.0.0.4/24".parse().unwrap())],
            nameservers: vec![Ipv4Addr::new(168, 63, 129, 16)],
            os: Os::Linux,
            engine_version: "20.10.7".into(),
        };
        Daemon::start(host, Streams::new(7).stream("host/docker-host-1/docker")).0
    }

    fn run(d: &mut Daemon, argv: &[&str]) -> DockerOutcome {
        let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
        d.handle(SimTime::ZERO + SimDuration::from_secs(1), &argv)
    }

    fn endpoint(container_id: &str, name: &str, addr: [u8; 4], prefix: u8) -> Endpoint {
        Endpoint {
            id: format!("{name}-id"),
            container_id: container_id.into(),
            name: name.into(),
            addr: ipnet::Ipv4Net::new(addr.into(), prefix).unwrap(),
            mac: MacAddr([2, 0x42, addr[0], addr[1], addr[2], addr[3]]),
            host_veth: "veth0".into(),
            ifname: "eth0".into(),
            aliases: vec![],
            ports: vec![],
        }
    }

    #[test]
    fn containers_are_keyed_by_sandbox_and_named_by_endpoint() {
        let eps = [
            endpoint("lb-red-overlay", "red-overlay-endpoint", [10, 0, 1, 6], 24),
            endpoint("cee122d1469f", "web-service.2.l3c984s1ie6m", [10, 0, 1, 4], 24),
            endpoint("ingress-sbox", "gateway_ingress-sbox", [172, 18, 0, 2], 16),
        ];
        assert_eq!(
            crate::docker::render::to_json(&endpoint_resources(eps.iter())),
            [
                r#"{"cee122d1469f":{"Name":"web-service.2.l3c984s1ie6m","#,
                r#""EndpointID":"web-service.2.l3c984s1ie6m-id","MacAddress":"02:42:0a:00:01:04","#,
                r#""IPv4Address":"10.0.1.4/24","IPv6Address":""},"#,
                r#""ingress-sbox":{"Name":"gateway_ingress-sbox","#,
                r#""EndpointID":"gateway_ingress-sbox-id","MacAddress":"02:42:ac:12:00:02","#,
                r#""IPv4Address":"172.18.0.2/16","IPv6Address":""},"#,
                r#""lb-red-overlay":{"Name":"red-overlay-endpoint","#,
                r#""EndpointID":"red-overlay-endpoint-id","MacAddress":"02:42:0a:00:01:06","#,
                r#""IPv4Address":"10.0.1.6/24","IPv6Address":""}}"#,
            ]
            .concat()
        );
    }

    #[test]
    fn config_labels_are_a_map_even_empty() {
        let mut d = daemon();
        run(&mut d, &["run", "-d", "--name", "plain", "alpine", "sleep", "1000"]);
        let labels = ["inspect", "-f", "{{json .Config.Labels}}", "plain"];
        assert_eq!(run(&mut d, &labels).stdout, "{}\n");
        let fields = ["inspect", "-f", "{{json .Config}}", "plain"];
        let config = run(&mut d, &fields).stdout;
        assert!(!config.contains("ExposedPorts"), "omitempty: {config}");
        assert!(config.contains(r#""Entrypoint":null,"Labels":{}}"#), "{config}");
        let id = d.container("plain").unwrap().id.clone();
        d.containers[&id].labels = vec![
            ("com.docker.swarm.task.name".into(), "web.1.x".into()),
            ("com.docker.swarm.service.name".into(), "web".into()),
        ];
        assert_eq!(
            run(&mut d, &labels).stdout,
            "{\"com.docker.swarm.service.name\":\"web\",\"com.docker.swarm.task.name\":\"web.1.x\"}\n"
        );
        let json = run(&mut d, &["inspect", "plain"]).stdout;
        assert!(json.contains(
            "\"Labels\": {\n                \"com.docker.swarm.service.name\": \"web\",\n"
        ));
    }
}

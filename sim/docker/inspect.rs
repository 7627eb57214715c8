//! `docker inspect` and `docker network inspect`: the API objects as value trees, in the
//! field order of the Engine 20.10 API types (`types.NetworkResource`,
//! `types.ContainerJSON`). The container object is a subset: the fields networking labs
//! read (State, Config, HostConfig.NetworkMode/PortBindings, NetworkSettings).

use std::collections::BTreeMap;

use super::cli::Parsed;
use super::container::{Container, ContainerState};
use super::daemon::Daemon;
use super::format::rfc3339_nano;
use super::network::{Driver, Network};
use super::render::{execute, to_json_indent, Value};
use super::DockerOutcome;

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
            (None, Driver::Bridge) => vec![Value::obj(vec![
                ("Subnet", Value::s(n.subnet().expect("bridge subnet").to_string())),
                ("Gateway", Value::s(n.gateway.expect("bridge gateway").to_string())),
            ])],
            (None, _) => Vec::new(),
        };
        let ipam_opts = n.ipam_options.as_deref().map_or(Value::Null, Value::str_map);
        let containers: BTreeMap<String, Value> = n
            .endpoints
            .values()
            .map(|e| {
                let v = Value::obj(vec![
                    ("Name", Value::s(e.name.clone())),
                    ("EndpointID", Value::s(e.id.clone())),
                    ("MacAddress", Value::s(e.mac.to_string())),
                    ("IPv4Address", Value::s(e.addr.to_string())),
                    ("IPv6Address", Value::s("")),
                ]);
                (e.container_id.clone(), v)
            })
            .collect();
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
            ("Containers", Value::Map(containers)),
            ("Options", Value::str_map(&n.options)),
            ("Labels", Value::str_map(&n.labels)),
        ])
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
        let eps: Vec<(&Network, Option<&super::network::Endpoint>)> = c
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
        let s = |f: &dyn Fn(&super::network::Endpoint) -> String| {
            Value::s(bridge_ep.map(f).unwrap_or_default())
        };
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

fn endpoint_settings(
    att: &super::container::Attachment,
    n: &Network,
    ep: Option<&super::network::Endpoint>,
) -> Value {
    let s =
        |f: &dyn Fn(&super::network::Endpoint) -> String| Value::s(ep.map(f).unwrap_or_default());
    let aliases = match ep {
        Some(e) if n.is_user_defined_bridge() => Value::strs(&e.aliases),
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

fn config_value(c: &Container) -> Value {
    let exposed: BTreeMap<String, Value> =
        c.exposed.iter().map(|e| (e.clone(), Value::Map(BTreeMap::new()))).collect();
    let entry = if c.entrypoint.is_empty() { Value::Null } else { Value::strs(&c.entrypoint) };
    Value::obj(vec![
        ("Hostname", Value::s(c.hostname.clone())),
        ("Domainname", Value::s("")),
        ("User", Value::s("")),
        ("AttachStdin", Value::Bool(c.open_stdin)),
        ("Tty", Value::Bool(c.tty)),
        ("OpenStdin", Value::Bool(c.open_stdin)),
        ("ExposedPorts", if exposed.is_empty() { Value::Null } else { Value::Map(exposed) }),
        ("Env", Value::strs(&c.env)),
        ("Cmd", Value::strs(&c.cmd)),
        ("Image", Value::s(c.image.given.clone())),
        ("Entrypoint", entry),
    ])
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

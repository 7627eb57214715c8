//! From a parsed `docker swarm|node|service …` command line (and `docker network create -d
//! overlay`) to the [`SwarmRequest`] the node serves.
//!
//! Contract: every check the docker CLI makes before talking to the daemon is made here,
//! with the CLI's texts (pflag value errors exit 125, `RunE` errors exit 1). Checks the
//! daemon makes on the request alone, without the cluster's state (constraint syntax,
//! endpoint mode, DNSRR with ingress ports, role and availability names), are made here
//! too, with the daemon's texts, so the node only checks what needs the store.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

use super::request::{AddrSpec, InspectFormat, ServiceChanges, ServiceRequest, SwarmRequest};
use super::store::{
    Availability, Constraint, EndpointMode, PortConfig, Protocol, PublishMode, Role, ServiceMode,
};
use crate::docker::cli::{bad_flag_value, not_simulated, CliError, CliErrorKind, Parsed};
use crate::docker::render::TemplateError;
use crate::docker::{PortSpec, Proto};

/// The swarm management port (`defaultListenAddr`).
pub const SWARM_PORT: u16 = 2377;

/// The request a swarm command line makes.
pub fn request(p: &Parsed) -> Result<SwarmRequest, CliError> {
    let args = || p.args.clone();
    Ok(match p.spec.id {
        "swarm init" => SwarmRequest::Init {
            advertise_addr: addr_flag(p, "advertise-addr")?,
            listen_addr: addr_flag(p, "listen-addr")?,
        },
        "swarm join" => join(p)?,
        "swarm join-token" => SwarmRequest::JoinToken {
            role: token_role(&p.args[0])?,
            quiet: p.flag("quiet"),
            rotate: p.flag("rotate"),
        },
        "swarm leave" => SwarmRequest::Leave { force: p.flag("force") },
        "swarm update" => SwarmRequest::Update { task_history_limit: history_limit(p)? },
        "node ls" => SwarmRequest::NodeLs { quiet: p.flag("quiet") },
        "node inspect" => SwarmRequest::NodeInspect { nodes: args(), pretty: p.flag("pretty") },
        "node update" => node_update(p)?,
        "node promote" => SwarmRequest::NodePromote(args()),
        "node demote" => SwarmRequest::NodeDemote(args()),
        "node rm" => SwarmRequest::NodeRm { nodes: args(), force: p.flag("force") },
        "service create" => service_create(p)?,
        "service ls" => SwarmRequest::ServiceLs { quiet: p.flag("quiet") },
        "service ps" => SwarmRequest::ServicePs(super::ps::args(p)?),
        "service inspect" => {
            SwarmRequest::ServiceInspect { services: args(), format: inspect_format(p)? }
        }
        "service scale" => service_scale(p)?,
        "service update" => service_update(p)?,
        "service rm" => SwarmRequest::ServiceRm(args()),
        other => panic!("'{other}' is not a swarm command"),
    })
}

/// `docker network create -d overlay …` as a request to the swarm.
pub fn overlay_network(p: &Parsed) -> Result<SwarmRequest, CliError> {
    for label in p.values("label") {
        if !label.contains('=') {
            return Err(bad_flag_value(
                p,
                "label",
                label,
                &format!("bad attribute format: {label}"),
            ));
        }
    }
    if p.value("gateway").is_some() || p.value("ip-range").is_some() {
        return Err(not_simulated(p.path, "--gateway and --ip-range on overlay networks"));
    }
    let subnet = match p.values("subnet").as_slice() {
        [] => None,
        [s] => Some(
            s.parse::<Ipv4Net>().map_err(|_| plain_error(format!("invalid CIDR address: {s}")))?,
        ),
        _ => return Err(not_simulated(p.path, "more than one subnet per network")),
    };
    Ok(SwarmRequest::NetworkCreate {
        name: p.args[0].clone(),
        options: key_values(p.values("opt")),
        labels: key_values(p.values("label")),
        attachable: p.flag("attachable"),
        internal: p.flag("internal"),
        subnet,
    })
}

/// `service inspect`'s `--pretty`/`--format`, checked as `RunE` and `runInspect` do before
/// any request: both flags together, a `pretty` with more after it, a template that does
/// not parse (exit 64, `inspect.Inspect`). `raw` is a prefix `NewFormat` strips.
fn inspect_format(p: &Parsed) -> Result<InspectFormat, CliError> {
    let format = p.value("format").unwrap_or_default();
    if p.flag("pretty") && !format.is_empty() {
        return Err(plain_error("--format is incompatible with human friendly format".into()));
    }
    let f = if p.flag("pretty") { "pretty" } else { format };
    if f.starts_with("pretty") && f != "pretty" {
        let msg = "Cannot supply extra formatting options to the pretty template";
        return Err(plain_error(msg.into()));
    }
    if f == "pretty" {
        return Ok(InspectFormat::Pretty);
    }
    let tmpl = f.strip_prefix("raw").unwrap_or(f);
    if tmpl.is_empty() {
        return Ok(InspectFormat::Json);
    }
    match crate::docker::render::check(tmpl) {
        Ok(()) => Ok(InspectFormat::Template(tmpl.to_string())),
        Err(e @ TemplateError::Parse(_)) => {
            Err(CliError { exit_code: 64, ..plain_error(e.to_string()) })
        }
        Err(TemplateError::NotSimulated(what)) => {
            Err(not_simulated(p.path, &format!("the Go template feature {what}")))
        }
    }
}

/// An error the CLI's `RunE` returns: printed as is, exit status 1.
fn plain_error(message: String) -> CliError {
    CliError {
        kind: CliErrorKind::BadValue,
        message,
        exit_code: 1,
        hint: "the docker CLI refuses this value".into(),
    }
}

/// An error the daemon returns for the request alone.
pub fn daemon_error(message: &str) -> CliError {
    CliError {
        kind: CliErrorKind::BadValue,
        message: format!("Error response from daemon: {message}"),
        exit_code: 1,
        hint: "the daemon refuses this request".into(),
    }
}

/// A swarmkit control API refusal as the CLI prints it.
pub fn rpc_error(code: &str, desc: &str) -> CliError {
    daemon_error(&format!("rpc error: code = {code} desc = {desc}"))
}

use crate::docker::network::key_values;

/// `<ip>[:2377]`; interface names and other ports are not simulated.
fn addr_flag(p: &Parsed, flag: &str) -> Result<Option<AddrSpec>, CliError> {
    let Some(v) = p.value(flag) else { return Ok(None) };
    let (host, port) = match v.rsplit_once(':') {
        Some((h, port)) => (h, Some(port)),
        None => (v, None),
    };
    if port.is_some_and(|port| port != "2377") {
        return Err(not_simulated(p.path, &format!("a --{flag} port other than 2377")));
    }
    Ok(Some(match host.parse() {
        Ok(ip) => AddrSpec::Ip(ip),
        Err(_) => AddrSpec::Interface(host.to_string()),
    }))
}

fn join(p: &Parsed) -> Result<SwarmRequest, CliError> {
    let remote = &p.args[0];
    let (host, port) = match remote.rsplit_once(':') {
        Some((h, port)) => (h, port.parse::<u16>().ok()),
        None => (remote.as_str(), Some(SWARM_PORT)),
    };
    let (Ok(ip), Some(port)) = (host.parse::<Ipv4Addr>(), port) else {
        return Err(not_simulated(p.path, &format!("joining {remote} (only IPv4:port)")));
    };
    Ok(SwarmRequest::Join {
        token: p.value("token").unwrap_or("").to_string(),
        remote: (ip, port),
        advertise_addr: addr_flag(p, "advertise-addr")?,
    })
}

/// `join_token.go`: anything but worker or manager is `unknown role X`.
fn token_role(role: &str) -> Result<Role, CliError> {
    match role {
        "worker" => Ok(Role::Worker),
        "manager" => Ok(Role::Manager),
        other => Err(plain_error(format!("unknown role {other}"))),
    }
}

fn history_limit(p: &Parsed) -> Result<Option<u32>, CliError> {
    let Some(v) = p.value("task-history-limit") else { return Ok(None) };
    let n = go_parse_int(v).map_err(|e| bad_flag_value(p, "task-history-limit", v, &e))?;
    u32::try_from(n)
        .map(Some)
        .map_err(|_| not_simulated(p.path, "a negative or huge --task-history-limit"))
}

/// `strconv.ParseUint(s, 10, 64)`, with Go's error text.
pub(crate) fn go_parse_uint(s: &str, bits: u32) -> Result<u64, String> {
    let err = |why: &str| format!("strconv.ParseUint: parsing \"{s}\": {why}");
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("invalid syntax"));
    }
    let max = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    s.parse::<u64>().ok().filter(|n| *n <= max).ok_or_else(|| err("value out of range"))
}

/// `strconv.ParseInt(s, 10, 64)`, with Go's error text.
fn go_parse_int(s: &str) -> Result<i64, String> {
    let err = |why: &str| format!("strconv.ParseInt: parsing \"{s}\": {why}");
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("invalid syntax"));
    }
    s.parse::<i64>().map_err(|_| err("value out of range"))
}

/// `node update`: the daemon checks role and availability names (`convert.NodeSpecToGRPC`),
/// case-insensitively.
fn node_update(p: &Parsed) -> Result<SwarmRequest, CliError> {
    let availability = match p.value("availability") {
        None => None,
        Some(a) => Some(match a.to_ascii_lowercase().as_str() {
            "active" => Availability::Active,
            "pause" => Availability::Pause,
            "drain" => Availability::Drain,
            _ => return Err(daemon_error(&format!("invalid Availability: \"{a}\""))),
        }),
    };
    let role = match p.value("role") {
        None => None,
        Some(r) => Some(match r.to_ascii_lowercase().as_str() {
            "worker" => Role::Worker,
            "manager" => Role::Manager,
            _ => return Err(daemon_error(&format!("invalid Role: \"{r}\""))),
        }),
    };
    Ok(SwarmRequest::NodeUpdate {
        node: p.args[0].clone(),
        availability,
        role,
        label_add: key_values(p.values("label-add")),
        label_rm: p.values("label-rm").into_iter().map(String::from).collect(),
    })
}

fn replicas(p: &Parsed) -> Result<Option<u64>, CliError> {
    let Some(v) = p.value("replicas") else { return Ok(None) };
    go_parse_uint(v, 64).map(Some).map_err(|e| bad_flag_value(p, "replicas", v, &e))
}

/// `ToServiceMode` (`cli/command/service/opts.go`).
fn service_mode(p: &Parsed) -> Result<ServiceMode, CliError> {
    let replicas = replicas(p)?;
    match p.value("mode").unwrap_or("replicated") {
        "replicated" => Ok(ServiceMode::Replicated { replicas: replicas.unwrap_or(1) }),
        "global" if replicas.is_some() => Err(plain_error(
            "replicas can only be used with replicated or replicated-job mode".into(),
        )),
        "global" => Ok(ServiceMode::Global),
        "replicated-job" | "global-job" => Err(not_simulated(p.path, "job services")),
        other => {
            Err(plain_error(format!("Unknown mode: {other}, only replicated and global supported")))
        }
    }
}

/// swarmkit `constraint.Parse`: `key==value` or `key!=value`, `==` tried first.
pub fn constraint(expr: &str) -> Result<Constraint, String> {
    for (op, equals) in [("==", true), ("!=", false)] {
        let Some((key, value)) = expr.split_once(op) else { continue };
        let (key, value) = (key.trim(), value.trim());
        let key_ok = key.len() > 1
            && key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !key_ok {
            return Err(format!("key '{key}' is invalid"));
        }
        let value_ok = !value.is_empty()
            && value.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || c.is_ascii_whitespace()
                    || ":-_.*()?+[]\\^$|/".contains(c)
            });
        if !value_ok {
            return Err(format!("value '{value}' is invalid"));
        }
        return Ok(Constraint { key: key.into(), equals, value: value.into() });
    }
    Err("constraint expected one operator from ==, !=".into())
}

/// Constraints as the manager's `validateTaskSpec` refuses them.
fn constraints(items: Vec<&str>) -> Result<Vec<Constraint>, CliError> {
    items.into_iter().map(|c| constraint(c).map_err(|e| rpc_error("InvalidArgument", &e))).collect()
}

/// One `--publish` value (`opts.PortOpt.Set`): long `published=8080,target=80,mode=host`
/// or short `8080:80[/udp]`, `80`.
pub fn publish(value: &str) -> Result<PortConfig, String> {
    let long = value.split(',').any(|f| {
        f.split_once('=').is_some_and(|(k, v)| {
            k.ends_with(|c: char| c.is_alphanumeric() || c == '_')
                && v.starts_with(|c: char| c.is_alphanumeric() || c == '_')
        })
    });
    if long {
        return publish_long(value);
    }
    let spec = PortSpec::parse(value)?;
    if spec.host_ip.is_some() {
        return Err("hostip is not supported".into());
    }
    Ok(PortConfig {
        protocol: match spec.proto {
            Proto::Tcp => Protocol::Tcp,
            Proto::Udp => Protocol::Udp,
        },
        target: spec.container_port,
        published: spec.host_port.unwrap_or(0),
        mode: PublishMode::Ingress,
    })
}

fn publish_long(value: &str) -> Result<PortConfig, String> {
    let mut pc =
        PortConfig { protocol: Protocol::Tcp, target: 0, published: 0, mode: PublishMode::Ingress };
    for field in value.split(',') {
        let Some((key, val)) = field.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(format!("invalid field {field}"));
        };
        let port = |v: &str| go_parse_uint(v, 16).map(|n| n as u16);
        match key {
            "protocol" => {
                pc.protocol = match val {
                    "tcp" => Protocol::Tcp,
                    "udp" => Protocol::Udp,
                    "sctp" => Protocol::Sctp,
                    _ => return Err(format!("invalid protocol value {val}")),
                }
            }
            "mode" => {
                pc.mode = match val {
                    "ingress" => PublishMode::Ingress,
                    "host" => PublishMode::Host,
                    _ => return Err(format!("invalid publish mode value {val}")),
                }
            }
            "target" => pc.target = port(val)?,
            "published" => pc.published = port(val)?,
            _ => return Err(format!("invalid field key {key}")),
        }
    }
    if pc.target == 0 {
        return Err("missing mandatory field \"target\"".into());
    }
    Ok(pc)
}

fn ports(p: &Parsed, flag: &str) -> Result<Vec<PortConfig>, CliError> {
    p.values(flag)
        .into_iter()
        .map(|v| {
            publish(v).map_err(|e| match e.strip_prefix("swarmsim: ") {
                Some(what) => not_simulated(p.path, what),
                None => bad_flag_value(p, flag, v, &e),
            })
        })
        .collect()
}

/// Network names; the long syntax (`name=…,alias=…`) is not simulated.
fn networks(p: &Parsed, flag: &str) -> Result<Vec<String>, CliError> {
    p.values(flag)
        .into_iter()
        .map(|n| match n.contains('=') {
            true => Err(not_simulated(p.path, "the long --network syntax")),
            false => Ok(n.to_string()),
        })
        .collect()
}

/// `--endpoint-mode`, lowercased by the CLI and checked by the daemon.
fn endpoint_mode(p: &Parsed) -> Result<EndpointMode, CliError> {
    let mode = p.value("endpoint-mode").unwrap_or("vip").to_ascii_lowercase();
    match mode.as_str() {
        "vip" => Ok(EndpointMode::Vip),
        "dnsrr" => Ok(EndpointMode::Dnsrr),
        _ => Err(daemon_error(&format!("invalid resolution mode: \"{mode}\""))),
    }
}

/// Fact 34: swarmkit's `validateEndpointSpec`.
pub const DNSRR_INGRESS: &str =
    "EndpointSpec: port published with ingress mode can't be used with dnsrr mode";

fn service_create(p: &Parsed) -> Result<SwarmRequest, CliError> {
    for label in p.values("label") {
        if !label.contains('=') {
            return Err(bad_flag_value(
                p,
                "label",
                label,
                &format!("bad attribute format: {label}"),
            ));
        }
    }
    let service = ServiceRequest {
        name: p.value("name").map(String::from),
        image: p.args[0].clone(),
        args: p.args[1..].to_vec(),
        env: p.values("env").into_iter().map(String::from).collect(),
        labels: key_values(p.values("label")),
        mode: service_mode(p)?,
        constraints: constraints(p.values("constraint"))?,
        networks: networks(p, "network")?,
        endpoint_mode: endpoint_mode(p)?,
        ports: ports(p, "publish")?,
    };
    let ingress = service.ports.iter().any(|pc| pc.mode == PublishMode::Ingress);
    if service.endpoint_mode == EndpointMode::Dnsrr && ingress {
        return Err(rpc_error("InvalidArgument", DNSRR_INGRESS));
    }
    Ok(SwarmRequest::ServiceCreate { service, detach: p.flag("detach"), quiet: p.flag("quiet") })
}

/// `scaleArgs` and `runScale`: every argument is `SERVICE=N`.
fn service_scale(p: &Parsed) -> Result<SwarmRequest, CliError> {
    let mut pairs = Vec::new();
    for arg in &p.args {
        let (svc, n) = arg.split_once('=').filter(|(k, v)| !k.is_empty() && !v.is_empty()).ok_or_else(|| {
            let use_line = p.spec.uses[0];
            plain_error(format!(
                "Invalid scale specifier '{arg}'.\nSee 'docker service scale --help'.\n\nUsage:  docker {use_line}\n\n{}",
                p.spec.short
            ))
        })?;
        let n = go_parse_uint(n, 64)
            .map_err(|e| plain_error(format!("{svc}: invalid replicas value {n}: {e}")))?;
        pairs.push((svc.to_string(), n));
    }
    Ok(SwarmRequest::ServiceScale { pairs, detach: p.flag("detach") })
}

/// `--publish-rm`: a target port, optionally `/proto`.
fn publish_rm(p: &Parsed) -> Result<Vec<u16>, CliError> {
    p.values("publish-rm")
        .into_iter()
        .map(|v| {
            let port = v.split_once('/').map_or(v, |(port, _)| port);
            go_parse_uint(port, 16).map(|n| n as u16).map_err(|_| {
                bad_flag_value(p, "publish-rm", v, &format!("Invalid containerPort: {port}"))
            })
        })
        .collect()
}

fn service_update(p: &Parsed) -> Result<SwarmRequest, CliError> {
    let strings = |flag: &str| p.values(flag).into_iter().map(String::from).collect::<Vec<_>>();
    let changes = ServiceChanges {
        replicas: replicas(p)?,
        image: p.value("image").map(String::from),
        constraint_add: constraints(p.values("constraint-add"))?,
        constraint_rm: strings("constraint-rm"),
        publish_add: ports(p, "publish-add")?,
        publish_rm: publish_rm(p)?,
        network_add: networks(p, "network-add")?,
        network_rm: strings("network-rm"),
        env_add: strings("env-add"),
        force: p.flag("force"),
    };
    Ok(SwarmRequest::ServiceUpdate {
        service: p.args[0].clone(),
        changes,
        detach: p.flag("detach"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::cli::{parse, Invocation};

    fn req(s: &str) -> Result<SwarmRequest, CliError> {
        let argv: Vec<String> = s.split_whitespace().map(String::from).collect();
        match parse(&argv)? {
            Invocation::Command(p) => match p.spec.id {
                "network create" => overlay_network(&p),
                _ => request(&p),
            },
            Invocation::Help(_) => panic!("help"),
        }
    }
    fn msg(s: &str) -> (String, i32) {
        let e = req(s).unwrap_err();
        (e.message, e.exit_code)
    }

    #[test]
    fn the_labs_commands() {
        assert_eq!(
            req("swarm init --advertise-addr=172.16.24.4").unwrap(),
            SwarmRequest::Init {
                advertise_addr: Some(AddrSpec::Ip([172, 16, 24, 4].into())),
                listen_addr: None
            }
        );
        let token =
            "SWMTKN-1-5y4llc1jq1eowsq42pkxrmjl01z50299uszrqaajvh79r33bkq-27wum03xpatfo65av02ufiexd";
        assert_eq!(
            req(&format!("swarm join --token {token} 172.16.24.4")).unwrap(),
            SwarmRequest::Join {
                token: token.into(),
                remote: ([172, 16, 24, 4].into(), 2377),
                advertise_addr: None
            }
        );
        let SwarmRequest::ServiceCreate { service, detach: false, quiet: false } = req(
            "service create -p 8080:80 --name web-service --replicas=2 --network red-overlay nginxdemos/hello",
        )
        .unwrap() else {
            panic!("not a create")
        };
        assert_eq!(service.name.as_deref(), Some("web-service"));
        assert_eq!(service.mode, ServiceMode::Replicated { replicas: 2 });
        assert_eq!(service.networks, ["red-overlay"]);
        assert_eq!(
            service.ports,
            [PortConfig {
                protocol: Protocol::Tcp,
                target: 80,
                published: 8080,
                mode: PublishMode::Ingress
            }]
        );
        assert_eq!(
            req("network create -d overlay green-overlay --opt encyrpted").unwrap(),
            SwarmRequest::NetworkCreate {
                name: "green-overlay".into(),
                options: vec![("encyrpted".into(), String::new())],
                labels: vec![],
                attachable: false,
                internal: false,
                subnet: None,
            }
        );
    }

    #[test]
    fn arguments_after_the_image_belong_to_the_container() {
        let SwarmRequest::ServiceCreate { service, detach, .. } =
            req("service create -d --mode global alpine ping -c 1 --name x").unwrap()
        else {
            panic!("not a create")
        };
        assert!(detach);
        assert_eq!(service.mode, ServiceMode::Global);
        assert_eq!(service.args, ["ping", "-c", "1", "--name", "x"]);
        assert_eq!(service.name, None);
    }

    #[test]
    fn flag_value_errors_are_pflags() {
        assert_eq!(msg("service create --replicas x nginx"), ("invalid argument \"x\" for \"--replicas\" flag: strconv.ParseUint: parsing \"x\": invalid syntax\nSee 'docker service create --help'.".into(), 125));
        assert_eq!(msg("service create -p published=8080 nginx").0, "invalid argument \"published=8080\" for \"-p, --publish\" flag: missing mandatory field \"target\"\nSee 'docker service create --help'.");
        assert_eq!(msg("service create -p 127.0.0.1:80:80 nginx").0, "invalid argument \"127.0.0.1:80:80\" for \"-p, --publish\" flag: hostip is not supported\nSee 'docker service create --help'.");
        assert_eq!(msg("service create -p abc nginx").0, "invalid argument \"abc\" for \"-p, --publish\" flag: Invalid containerPort: abc\nSee 'docker service create --help'.");
        assert_eq!(msg("service update --publish-add target=99999 web").0, "invalid argument \"target=99999\" for \"--publish-add\" flag: strconv.ParseUint: parsing \"99999\": value out of range\nSee 'docker service update --help'.");
        assert_eq!(msg("service create -l foo nginx").0, "invalid argument \"foo\" for \"-l, --label\" flag: bad attribute format: foo\nSee 'docker service create --help'.");
    }

    #[test]
    fn publish_long_and_short_forms() {
        let host = publish("mode=host,target=1433").unwrap();
        assert_eq!((host.target, host.published, host.mode), (1433, 0, PublishMode::Host));
        let udp = publish("53:53/udp").unwrap();
        assert_eq!((udp.protocol, udp.target, udp.published), (Protocol::Udp, 53, 53));
        assert_eq!(publish("80").unwrap().published, 0);
        assert_eq!(publish("target=80,foo=1").unwrap_err(), "invalid field key foo");
        assert_eq!(publish("target=80,protocol=icmp").unwrap_err(), "invalid protocol value icmp");
    }

    #[test]
    fn constraints_parse_like_swarmkit() {
        let c = constraint("node.hostname == worker1").unwrap();
        assert_eq!(
            (c.key.as_str(), c.equals, c.value.as_str()),
            ("node.hostname", true, "worker1")
        );
        assert!(!constraint("node.role!=manager").unwrap().equals);
        assert_eq!(
            constraint("node.role=manager").unwrap_err(),
            "constraint expected one operator from ==, !="
        );
        assert_eq!(constraint("1node==x").unwrap_err(), "key '1node' is invalid");
        assert_eq!(constraint("node.id==a,b").unwrap_err(), "value 'a,b' is invalid");
        assert_eq!(
            msg("service create --constraint node.role=manager nginx"),
            ("Error response from daemon: rpc error: code = InvalidArgument desc = constraint expected one operator from ==, !=".into(), 1)
        );
    }

    #[test]
    fn command_errors_are_the_clis_and_the_daemons() {
        assert_eq!(msg("swarm join-token admin"), ("unknown role admin".into(), 1));
        assert_eq!(
            msg("node update --availability off n1").0,
            "Error response from daemon: invalid Availability: \"off\""
        );
        assert_eq!(
            msg("service create --mode global --replicas 2 nginx").0,
            "replicas can only be used with replicated or replicated-job mode"
        );
        assert_eq!(
            msg("service create --mode foo nginx").0,
            "Unknown mode: foo, only replicated and global supported"
        );
        assert_eq!(msg("service create --endpoint-mode dnsrr -p 80:80 nginx").0, "Error response from daemon: rpc error: code = InvalidArgument desc = EndpointSpec: port published with ingress mode can't be used with dnsrr mode");
        assert!(
            req("service create --endpoint-mode dnsrr --publish mode=host,target=1433 db").is_ok()
        );
        assert_eq!(msg("service scale web").0, "Invalid scale specifier 'web'.\nSee 'docker service scale --help'.\n\nUsage:  docker service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]\n\nScale one or multiple replicated services");
        assert_eq!(
            msg("service scale web=x").0,
            "web: invalid replicas value x: strconv.ParseUint: parsing \"x\": invalid syntax"
        );
        assert_eq!(msg("service create").0, "\"docker service create\" requires at least 1 argument.\nSee 'docker service create --help'.\n\nUsage:  docker service create [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nCreate a new service");
        assert_eq!(msg("swarm update --task-history-limit x").0, "invalid argument \"x\" for \"--task-history-limit\" flag: strconv.ParseInt: parsing \"x\": invalid syntax\nSee 'docker swarm update --help'.");
        assert_eq!(
            req("swarm init --advertise-addr eth0:2377").unwrap(),
            SwarmRequest::Init {
                advertise_addr: Some(AddrSpec::Interface("eth0".into())),
                listen_addr: None
            }
        );
    }

    #[test]
    fn node_and_service_updates() {
        assert_eq!(
            req("node update --availability DRAIN --label-add zone=a --label-add ssd worker1")
                .unwrap(),
            SwarmRequest::NodeUpdate {
                node: "worker1".into(),
                availability: Some(Availability::Drain),
                role: None,
                label_add: vec![("zone".into(), "a".into()), ("ssd".into(), String::new())],
                label_rm: vec![],
            }
        );
        let SwarmRequest::ServiceUpdate { changes, .. } =
            req("service update --publish-rm 80/tcp --replicas 3 --force web").unwrap()
        else {
            panic!("not an update")
        };
        assert_eq!(
            (changes.publish_rm, changes.replicas, changes.force),
            (vec![80], Some(3), true)
        );
        assert_eq!(
            req("service scale web=15 api=0 -d").unwrap(),
            SwarmRequest::ServiceScale {
                pairs: vec![("web".into(), 15), ("api".into(), 0)],
                detach: true
            }
        );
    }

    #[test]
    fn service_inspect_formats_are_checked_like_the_cli() {
        let inspect = |flags: &[&str]| {
            let mut argv = vec!["service".to_string(), "inspect".to_string()];
            argv.extend(flags.iter().map(|f| f.to_string()));
            argv.push("web".into());
            match parse(&argv).map(|i| match i {
                Invocation::Command(p) => request(&p),
                Invocation::Help(_) => panic!("help"),
            }) {
                Ok(Ok(SwarmRequest::ServiceInspect { format, .. })) => Ok(format),
                Ok(Ok(other)) => panic!("{other:?}"),
                Ok(Err(e)) | Err(e) => Err((e.message, e.exit_code)),
            }
        };
        assert_eq!(inspect(&[]), Ok(InspectFormat::Json));
        assert_eq!(inspect(&["--format", "raw"]), Ok(InspectFormat::Json));
        assert_eq!(inspect(&["--pretty"]), Ok(InspectFormat::Pretty));
        assert_eq!(inspect(&["-f", "pretty"]), Ok(InspectFormat::Pretty));
        assert_eq!(
            inspect(&["-f", "{{json .Endpoint.VirtualIPs}}"]),
            Ok(InspectFormat::Template("{{json .Endpoint.VirtualIPs}}".into()))
        );
        assert_eq!(
            inspect(&["--format=raw{{.ID}}"]),
            Ok(InspectFormat::Template("{{.ID}}".into()))
        );
        assert_eq!(
            inspect(&["--pretty", "-f", "{{.ID}}"]),
            Err(("--format is incompatible with human friendly format".into(), 1))
        );
        assert_eq!(
            inspect(&["-f", "pretty{{.ID}}"]),
            Err(("Cannot supply extra formatting options to the pretty template".into(), 1))
        );
        assert_eq!(
            inspect(&["-f", "{{foo .ID}}"]),
            Err(("Template parsing error: template: :1: function \"foo\" not defined".into(), 64))
        );
        let (msg, code) = inspect(&["-f", "{{if .ID}}x{{end}}"]).unwrap_err();
        assert_eq!(code, 125);
        assert!(msg.starts_with("swarmsim: the Go template feature the if action"), "{msg}");
    }
}

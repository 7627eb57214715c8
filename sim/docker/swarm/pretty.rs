//! `docker node inspect --pretty` and `docker service inspect --pretty`, as docker/cli 20.10
//! renders them: `nodeInspectPrettyTemplate` (`cli/command/node/formatter.go`) and
//! `serviceInspectPrettyTemplate` (`cli/command/service/formatter.go`), executed by
//! `formatter.Context.Write`, which appends one `\n` per object and writes the buffer as is
//! (no tabwriter: the tabs stay tabs).
//!
//! Contract: pure functions of the store objects, showing the same values as
//! `render::node_inspect_json` and `render::service_inspect_json` do. Sections of the
//! templates whose fields swarmsim does not model (node name, TLS info, update status, mounts,
//! secrets, log driver, healthcheck, resource limits, capabilities) are left out, as the CLI
//! leaves them out when the field is empty; the lines printed here read the same in every
//! docker/cli release from 19.03 on.

use super::render::{
    availability_name, plugins, pretty as pp, protocol_name, reachability, state_name,
};
use super::store::{EndpointMode, Node, Os, PublishMode, Service, ServiceMode, Store};
use super::MembershipView;
use crate::docker::format::{bytes_size, rfc3339_nano};
use crate::engine::SimTime;

/// `formatter.PrettyPrint(time.Time)`: Go's `Time.String()` in UTC, lowercased after the
/// first character (`2021-07-08 10:00:00.5 +0000 utc`).
fn pretty_time(t: SimTime) -> String {
    let rfc = rfc3339_nano(t);
    let body = rfc.trim_end_matches('Z').replacen('T', " ", 1);
    pp(&format!("{body} +0000 UTC"))
}

/// A Go map ranged over by a template: sorted by key.
fn sorted(pairs: &[(String, String)]) -> Vec<&(String, String)> {
    let mut v: Vec<_> = pairs.iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// `{{ $k }}{{if $v }}={{ $v }}{{ end }}`.
fn key_value(k: &str, v: &str) -> String {
    if v.is_empty() {
        k.to_string()
    } else {
        format!("{k}={v}")
    }
}

/// `docker node inspect --pretty` for the nodes in argument order. `view` says who leads and
/// who is reachable, as for the JSON form.
pub fn node_pretty(nodes: &[&Node], view: &MembershipView) -> String {
    nodes.iter().map(|n| node_text(n, view) + "\n").collect()
}

fn node_text(n: &Node, view: &MembershipView) -> String {
    let d = &n.description;
    let mut s = format!("ID:\t\t\t{}", n.id);
    if !n.labels.is_empty() {
        s += "\nLabels:";
        for (k, v) in sorted(&n.labels) {
            s += &format!("\n - {}", key_value(k, v));
        }
    }
    s += &format!("\nHostname:              \t{}", d.hostname);
    s += &format!("\nJoined at:             \t{}", pretty_time(n.meta.created_at));
    s += &format!("\nStatus:\n State:\t\t\t{}", pp(state_name(n.state)));
    if !n.message.is_empty() {
        s += &format!("\n Message:              \t{}", pp(&n.message));
    }
    s += &format!("\n Availability:         \t{}", pp(availability_name(n.availability)));
    s += &format!("\n Address:\t\t{}", n.addr);
    if let (Some(ms), Some((leader, reach))) = (&n.manager, reachability(n, view)) {
        s += &format!("\nManager Status:\n Address:\t\t{}:{}", ms.addr.0, ms.addr.1);
        s += &format!("\n Raft Status:\t\t{}", pp(reach));
        s += if leader { "\n Leader:\t\tYes" } else { "\n Leader:\t\tNo" };
    }
    s +=
        &format!("\nPlatform:\n Operating System:\t{}\n Architecture:\t\t{}", d.os, d.architecture);
    let memory = if d.memory_bytes == 0 { String::new() } else { bytes_size(d.memory_bytes) };
    s +=
        &format!("\nResources:\n CPUs:\t\t\t{}\n Memory:\t\t{memory}", d.nano_cpus / 1_000_000_000);
    s += &plugins_text(d.os);
    s += &format!("\nEngine Version:\t\t{}", d.engine_version);
    if !d.engine_labels.is_empty() {
        s += "\nEngine Labels:";
        for (k, v) in sorted(&d.engine_labels) {
            s += &format!("\n - {}", key_value(k, v));
        }
    }
    s
}

/// `Plugins:`, one line per type (sorted), the names joined in the engine's order.
fn plugins_text(os: Os) -> String {
    let all = plugins(os);
    let mut types: Vec<&str> = all.iter().map(|(t, _)| *t).collect();
    types.sort_unstable();
    types.dedup();
    let mut s = String::from("\nPlugins:");
    for t in types {
        let names: Vec<&str> = all.iter().filter(|(pt, _)| *pt == t).map(|(_, n)| *n).collect();
        s += &format!("\n {t}:\t\t{}", names.join(", "));
    }
    s
}

/// `docker service inspect --pretty` for the services in argument order. Network targets are
/// shown by name where `store` knows the network, as the CLI resolves them.
pub fn service_pretty(services: &[&Service], store: &Store) -> String {
    services.iter().map(|s| service_text(s, store) + "\n").collect()
}

fn service_text(svc: &Service, store: &Store) -> String {
    let spec = &svc.spec;
    let mut s = format!("\nID:\t\t{}\nName:\t\t{}", svc.id, spec.name);
    if !spec.labels.is_empty() {
        s += "\nLabels:";
        for (k, v) in sorted(&spec.labels) {
            s += &format!("\n {}", key_value(k, v));
        }
    }
    s += &match spec.mode {
        ServiceMode::Global => "\nService Mode:\tGlobal".to_string(),
        ServiceMode::Replicated { replicas } => {
            format!("\nService Mode:\tReplicated\n Replicas:\t{replicas}")
        }
    };
    s += "\nPlacement:";
    if !spec.constraints.is_empty() {
        let cs: Vec<String> = spec.constraints.iter().map(ToString::to_string).collect();
        s += &format!("\n Constraints:\t[{}]", cs.join(" "));
    }
    s += &update_configs();
    s += &container_spec_text(spec);
    if !spec.networks.is_empty() {
        s += "\nNetworks:";
        for id in &spec.networks {
            s += &format!(" {}", store.networks.get(id).map_or(id.as_str(), |n| n.name.as_str()));
        }
        s += " ";
    }
    let mode = if spec.endpoint_mode == EndpointMode::Dnsrr { "dnsrr" } else { "vip" };
    s += &format!("\nEndpoint Mode:\t{mode}");
    s += &ports_text(svc);
    s + "\n"
}

/// `UpdateConfig` and `RollbackConfig`: the daemon's defaults (`api/defaults/service.go`),
/// the ones the JSON form shows; a zero `Delay` is not printed.
fn update_configs() -> String {
    let body =
        "\n Parallelism:\t1\n On failure:\tpause\n Monitoring Period: 5s\n Max failure ratio: 0";
    format!(
        "\nUpdateConfig:{body}\n Update order:      stop-first\nRollbackConfig:{body}\n Rollback order:    stop-first"
    )
}

/// `ContainerSpec:` (each argument and variable followed by a space, as the template ranges
/// them) and the `Resources:` heading, present but empty without limits or reservations.
fn container_spec_text(spec: &super::store::ServiceSpec) -> String {
    let mut s = format!("\nContainerSpec:\n Image:\t\t{}", spec.image);
    if !spec.args.is_empty() {
        s += "\n Args:\t\t";
        s += &spec.args.iter().map(|a| format!("{a} ")).collect::<String>();
    }
    if !spec.env.is_empty() {
        s += "\n Env:\t\t";
        s += &spec.env.iter().map(|e| format!("{e} ")).collect::<String>();
    }
    s + "\n Init:\t\tfalse\nResources:"
}

/// `Ports:` from `Endpoint.Ports` (published ports filled in), with the template's trailing
/// space after the last one.
fn ports_text(svc: &Service) -> String {
    let Some(ports) = svc.endpoint.as_ref().map(|e| &e.ports).filter(|p| !p.is_empty()) else {
        return String::new();
    };
    let mut s = String::from("\nPorts:");
    for p in ports {
        let mode = if p.mode == PublishMode::Host { "host" } else { "ingress" };
        s += &format!(
            "\n PublishedPort = {}\n  Protocol = {}\n  TargetPort = {}\n  PublishMode = {mode}",
            p.published,
            protocol_name(p.protocol),
            p.target
        );
    }
    s + " "
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::swarm::store::{
        fixtures, Availability, Constraint, Meta, Network, NodeState, PortConfig, Protocol,
        ServiceEndpoint, ServiceSpec, VirtualIp,
    };
    use crate::engine::SimDuration;

    fn at(nanos: u64) -> SimTime {
        SimTime::ZERO + SimDuration::from_nanos(nanos)
    }

    fn node(id: &str, host: &str, addr: [u8; 4], raft: Option<u64>) -> Node {
        let mut n = fixtures::node(id, host, addr, raft);
        n.meta = Meta::new(at(934_967_791));
        n
    }

    const PLUGIN_LINES: &str = "Plugins:\n Log:\t\tawslogs, fluentd, gcplogs, gelf, journald, json-file, local, logentries, splunk, syslog\n Network:\t\tbridge, host, ipvlan, macvlan, null, overlay\n Volume:\t\tlocal\n";

    #[test]
    fn leader_shows_manager_status_and_labels() {
        let mut n = node("im1clp7aw6n6qqv8lcs3u3hxe", "docker-host-1", [172, 16, 24, 4], Some(1));
        n.labels = vec![("zone".into(), "b".into()), ("ssd".into(), String::new())];
        let view = MembershipView { leader: Some(1), reachable: vec![1] };
        assert_eq!(
            node_pretty(&[&n], &view),
            format!(
                "ID:\t\t\tim1clp7aw6n6qqv8lcs3u3hxe\n\
Labels:\n - ssd\n - zone=b\n\
Hostname:              \tdocker-host-1\n\
Joined at:             \t2021-07-08 10:00:00.934967791 +0000 utc\n\
Status:\n State:\t\t\tReady\n Availability:         \tActive\n Address:\t\t172.16.24.4\n\
Manager Status:\n Address:\t\t172.16.24.4:2377\n Raft Status:\t\tReachable\n Leader:\t\tYes\n\
Platform:\n Operating System:\tlinux\n Architecture:\t\tx86_64\n\
Resources:\n CPUs:\t\t\t2\n Memory:\t\t7.775GiB\n\
{PLUGIN_LINES}\
Engine Version:\t\t20.10.7\n"
            )
        );
    }

    #[test]
    fn worker_has_no_manager_status_and_nodes_are_not_separated() {
        let mut w = node("66lur8tr9pz53r1bdrd1ee6bj", "docker-host-2", [172, 16, 24, 5], None);
        w.state = NodeState::Down;
        w.message = "heartbeat failure".into();
        w.availability = Availability::Drain;
        w.description.engine_labels = vec![("storage".into(), "ssd".into())];
        let m2 = node("p2d4o1ldwkvkzzzrgnbwaxdt0", "docker-host-3", [172, 16, 24, 6], Some(7));
        let view = MembershipView { leader: Some(1), reachable: vec![1] };
        let worker = format!(
            "ID:\t\t\t66lur8tr9pz53r1bdrd1ee6bj\n\
Hostname:              \tdocker-host-2\n\
Joined at:             \t2021-07-08 10:00:00.934967791 +0000 utc\n\
Status:\n State:\t\t\tDown\n Message:              \tHeartbeat failure\n Availability:         \tDrain\n Address:\t\t172.16.24.5\n\
Platform:\n Operating System:\tlinux\n Architecture:\t\tx86_64\n\
Resources:\n CPUs:\t\t\t2\n Memory:\t\t7.775GiB\n\
{PLUGIN_LINES}\
Engine Version:\t\t20.10.7\nEngine Labels:\n - storage=ssd\n"
        );
        let out = node_pretty(&[&w, &m2], &view);
        assert!(out.starts_with(&format!("{worker}ID:\t\t\tp2d4o1ldwkvkzzzrgnbwaxdt0\n")), "{out}");
        assert!(
            out.contains(
                "\nManager Status:\n Address:\t\t172.16.24.6:2377\n Raft Status:\t\tUnreachable\n Leader:\t\tNo\nPlatform:"
            ),
            "{out}"
        );
    }

    #[test]
    fn sizes_and_times_format_as_go_does() {
        assert_eq!(bytes_size(1023), "1023B");
        assert_eq!(bytes_size(1024), "1KiB");
        assert_eq!(bytes_size(1_048_575), "1024KiB");
        assert_eq!(bytes_size(10_490_000), "10MiB");
        assert_eq!(bytes_size(2_147_483_648 + 536_870_912), "2.5GiB");
        assert_eq!(pretty_time(SimTime::ZERO), "2021-07-08 10:00:00 +0000 utc");
        assert_eq!(pretty_time(at(500_000_000)), "2021-07-08 10:00:00.5 +0000 utc");
    }

    fn spec(name: &str, mode: ServiceMode) -> ServiceSpec {
        ServiceSpec {
            name: name.into(),
            labels: vec![],
            image: "nginxdemos/hello:latest@sha256:ae2b".into(),
            args: vec![],
            env: vec![],
            mode,
            constraints: vec![],
            networks: vec![],
            endpoint_mode: EndpointMode::Vip,
            ports: vec![],
            restart_delay: SimDuration::from_secs(5),
        }
    }

    fn service(id: &str, spec: ServiceSpec, ports: Vec<PortConfig>) -> Service {
        Service {
            id: id.into(),
            meta: Meta::new(SimTime::ZERO),
            spec,
            previous_spec: None,
            endpoint: Some(ServiceEndpoint {
                ports,
                virtual_ips: vec![VirtualIp {
                    network_id: "oo861ktagy0blgs9myp7izku0".into(),
                    addr: "10.0.0.7/24".parse().unwrap(),
                }],
            }),
        }
    }

    fn store_with_overlay() -> Store {
        let net = Network {
            id: "54g3qcpkcpx2o5o9hyj4nroe3".into(),
            meta: Meta::new(SimTime::ZERO),
            name: "my-overlay".into(),
            driver: "overlay".into(),
            options: vec![],
            labels: vec![],
            attachable: false,
            ingress: false,
            internal: false,
            requested_subnet: None,
            allocation: None,
        };
        let mut store = Store::default();
        store.networks.insert(net.id.clone(), net);
        store
    }

    const CONFIGS: &str = "UpdateConfig:\n Parallelism:\t1\n On failure:\tpause\n Monitoring Period: 5s\n Max failure ratio: 0\n Update order:      stop-first\n\
RollbackConfig:\n Parallelism:\t1\n On failure:\tpause\n Monitoring Period: 5s\n Max failure ratio: 0\n Rollback order:    stop-first\n";

    #[test]
    fn replicated_service_with_port_and_network() {
        let mut sp = spec("web-service", ServiceMode::Replicated { replicas: 2 });
        sp.labels = vec![("tier".into(), "front".into()), ("blue".into(), String::new())];
        sp.args = vec!["sleep".into(), "3600".into()];
        sp.env = vec!["A=1".into()];
        sp.networks = vec!["54g3qcpkcpx2o5o9hyj4nroe3".into(), "zzzunknownnetwork0000000".into()];
        sp.constraints = vec![
            Constraint { key: "node.role".into(), equals: true, value: "worker".into() },
            Constraint { key: "node.hostname".into(), equals: false, value: "w3".into() },
        ];
        let published = PortConfig {
            protocol: Protocol::Tcp,
            target: 80,
            published: 8080,
            mode: PublishMode::Ingress,
        };
        let svc = service("o6mpmdcdrm6f6kvccy0f74eln", sp, vec![published]);
        assert_eq!(
            service_pretty(&[&svc], &store_with_overlay()),
            format!(
                "\nID:\t\to6mpmdcdrm6f6kvccy0f74eln\nName:\t\tweb-service\n\
Labels:\n blue\n tier=front\n\
Service Mode:\tReplicated\n Replicas:\t2\n\
Placement:\n Constraints:\t[node.role==worker node.hostname!=w3]\n\
{CONFIGS}\
ContainerSpec:\n Image:\t\tnginxdemos/hello:latest@sha256:ae2b\n Args:\t\tsleep 3600 \n Env:\t\tA=1 \n Init:\t\tfalse\n\
Resources:\n\
Networks: my-overlay zzzunknownnetwork0000000 \n\
Endpoint Mode:\tvip\n\
Ports:\n PublishedPort = 8080\n  Protocol = tcp\n  TargetPort = 80\n  PublishMode = ingress \n\n"
            )
        );
    }

    #[test]
    fn global_services_follow_each_other_with_their_blank_lines() {
        let mut sp = spec("agent", ServiceMode::Global);
        sp.endpoint_mode = EndpointMode::Dnsrr;
        let a = service("x1lpz0xaqkpnb2fhrfimwg0qs", sp.clone(), vec![]);
        let mut b = service("ml3j0mkvth6vxrnmmjzhexgtj", sp, vec![]);
        b.endpoint = None;
        let one = |id: &str| {
            format!(
                "\nID:\t\t{id}\nName:\t\tagent\nService Mode:\tGlobal\nPlacement:\n{CONFIGS}\
ContainerSpec:\n Image:\t\tnginxdemos/hello:latest@sha256:ae2b\n Init:\t\tfalse\n\
Resources:\nEndpoint Mode:\tdnsrr\n\n"
            )
        };
        assert_eq!(
            service_pretty(&[&a, &b], &Store::default()),
            one("x1lpz0xaqkpnb2fhrfimwg0qs") + &one("ml3j0mkvth6vxrnmmjzhexgtj")
        );
    }
}

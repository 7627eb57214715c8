//! The scenario loader end to end: one full valid file, then one test per error kind with
//! the exact headline, position, expectation and hint.

use std::net::Ipv4Addr;

use super::*;
use crate::docker::swarm::store::Os;
use crate::engine::SimDuration;

fn accept(_: &CommandSite) -> Result<(), CommandError> {
    Ok(())
}

/// Ten lines of valid topology; the steps appended after it start at line 11.
const BASE: &str = "name: t
underlay:
  networks:
    - {name: lan, subnet: 10.0.2.0/24, gateway: 10.0.2.1}
hosts:
  - {name: docker-host, ip: 10.0.2.15}
externals:
  - {name: client, ip: 10.0.2.100}
  - {name: www.dockercon.com, ip: 104.239.220.248, latency: 45ms, hops: 25, serves: [http, ping]}
steps:
";

fn with_steps(steps: &str) -> String {
    format!("{BASE}{steps}")
}

#[track_caller]
fn error_of(source: &str) -> ScenarioError {
    match parse(source, "t.yaml", &accept) {
        Ok(scenario) => panic!("expected an error, got {scenario:?}"),
        Err(err) => err,
    }
}

/// Asserts headline, `line:col`, expectation and hint.
#[track_caller]
fn check(
    source: &str,
    message: &str,
    at: (usize, usize),
    expected: Option<&str>,
    hint: Option<&str>,
) {
    let err = error_of(source);
    assert_eq!(err.message(), message, "{err}");
    assert_eq!(err.line_col(), Some(at), "{err}");
    assert_eq!(err.expected_text(), expected, "{err}");
    assert_eq!(err.hint_text(), hint, "{err}");
}

const FULL: &str = r#"name: bridge-networking
description: Replays "Bridge networking"
seed: 7
engine: "19.03.1"
limits: {max_events: 5000, max_time: 1h}
underlay:
  networks:
    - name: lan
      subnet: 10.0.2.0/24
      gateway: 10.0.2.1
      latency: 0.5ms
    - {name: back, subnet: 10.0.3.0/24, dns: 8.8.8.8}
hosts:
  - {name: docker-host, ip: 10.0.2.15, network: lan}
  - {name: h2, ip: 10.0.3.5, os: windows}
externals:
  - {name: client, ip: 10.0.2.100}
  - {name: www.dockercon.com, ip: 104.239.220.248, latency: 45ms, hops: 25, serves: [http, ping]}
steps:
  - on: docker-host
    run: docker run -d --name web1 nginx
  - in: web1
    run: ping -c 3 client
    expect: {output_contains: "3 received", output_lacks: [100% packet loss], exit_code: 0}
  - wait: 5s
  - capture: {on: docker-host, iface: docker0, filter: "icmp or arp", name: ping-docker0}
  - stop_capture: ping-docker0
  - expect:
      reachable: ["client -> docker-host:8080", "web1 -> www.dockercon.com:53/udp"]
      isolated: ["client -> web1"]
  - note: "free text"
  - on: client
    run: curl www.dockercon.com
    expect: {output_contains: [a, b], output_equals: "x", exit_code: 7}
"#;

#[test]
fn a_full_scenario_becomes_typed() {
    let s = parse(FULL, "full.yaml", &accept).unwrap();
    assert_eq!(
        (s.name.as_str(), s.seed, s.engine.to_string()),
        ("bridge-networking", 7, "19.03.1".into())
    );
    assert_eq!(s.limits.max_events, 5000);
    assert_eq!(s.limits.max_time.as_nanos(), 3_600_000_000_000);
    let lan = &s.networks[0];
    assert_eq!(
        (lan.gateway, lan.dns),
        (Some(Ipv4Addr::new(10, 0, 2, 1)), Some(Ipv4Addr::new(10, 0, 2, 1)))
    );
    assert_eq!(lan.link.latency, SimDuration::from_micros(500));
    assert_eq!(
        (s.networks[1].dns, s.networks[1].link.latency),
        (Some(Ipv4Addr::new(8, 8, 8, 8)), DEFAULT_LAN_LATENCY)
    );
    assert_eq!(
        s.hosts[1],
        Host { name: "h2".into(), ip: Ipv4Addr::new(10, 0, 3, 5), net: NetId(1), os: Os::Windows }
    );
    assert_eq!(s.externals[0].place, Placement::Lan(NetId(0)));
    assert_eq!(s.externals[0].serves, vec![Service::Ping]);
    let latency = SimDuration::from_millis(45);
    assert_eq!(s.externals[1].place, Placement::Internet { via: NetId(0), latency, hops: 25 });
    assert_eq!(s.externals[1].serves, vec![Service::Ping, Service::Http]);
    let web1 = Endpoint::Container { host: HostId(0), name: "web1".into() };
    let client = Endpoint::Machine(Machine::External(ExternalId(0)));
    let kinds: Vec<StepKind> = s.steps.iter().map(|step| step.kind.clone()).collect();
    assert_eq!(
        s.steps.iter().map(|step| step.line).collect::<Vec<_>>(),
        [20, 22, 25, 26, 27, 28, 31, 32]
    );
    assert_eq!(
        kinds[1],
        StepKind::Run {
            at: web1.clone(),
            command: "ping -c 3 client".into(),
            expect: CommandExpect {
                output_contains: vec!["3 received".into()],
                output_lacks: vec!["100% packet loss".into()],
                output_equals: None,
                exit_code: 0
            },
        }
    );
    assert_eq!(kinds[2], StepKind::Wait(SimDuration::from_secs(5)));
    assert_eq!(
        (&kinds[3], &kinds[4]),
        (
            &StepKind::StartCapture(CaptureId(0)),
            &StepKind::StopCapture { id: CaptureId(0), expect: None }
        )
    );
    assert_eq!(s.captures[0].filter.as_deref(), Some("icmp or arp"));
    let StepKind::Expect(expect) = &kinds[5] else { panic!("{:?}", kinds[5]) };
    assert_eq!(expect.reachable[0].probe, Probe::Tcp(8080));
    assert_eq!(expect.reachable[1].probe, Probe::Udp(53));
    let (src, dst) = (ReachEnd::Endpoint(client), ReachEnd::Endpoint(web1));
    assert_eq!(expect.isolated, vec![Reach { src, dst, probe: Probe::Icmp }]);
    assert_eq!(kinds[6], StepKind::Note("free text".into()));
    let StepKind::Run { expect, .. } = &kinds[7] else { panic!("{:?}", kinds[7]) };
    assert_eq!(expect.output_contains, ["a", "b"]);
    assert_eq!(expect.exit_code, 7);
}

#[test]
fn defaults_apply() {
    let s = parse(&with_steps("  - note: hi\n"), "t.yaml", &accept).unwrap();
    assert_eq!(
        (s.seed, s.engine, s.limits),
        (1, EngineVersion::DEFAULT, crate::engine::RunLimits::default())
    );
    assert_eq!(s.externals[1].serves, vec![Service::Ping, Service::Http]);
    assert_eq!(s.hosts[0].net, NetId(0));
}

#[test]
fn io_error_names_the_file() {
    let err = load(std::path::Path::new("/nonexistent/x.yaml"), &accept).unwrap_err();
    assert_eq!(
        err.message(),
        "cannot read the scenario file: No such file or directory (os error 2)"
    );
    assert_eq!(err.file(), "/nonexistent/x.yaml");
}

#[test]
fn syntax_error() {
    let err = error_of("name: [x\n");
    assert_eq!(
        err.message(),
        "YAML syntax error: did not find expected ',' or ']', while parsing a flow sequence at line 1 column 7"
    );
    assert_eq!(err.line_col(), Some((2, 1)));
}

#[test]
fn empty_file() {
    check(
        "# nothing\n",
        "the scenario file is empty",
        (1, 1),
        None,
        Some(serde_errors::EMPTY_HINT),
    );
}

#[test]
fn unknown_key() {
    let src = BASE.replace("{name: docker-host,", "{nmae: docker-host,");
    let expected = Some("expected one of `name`, `ip`, `network`, `os`");
    check(&src, "unknown key `nmae`", (6, 6), expected, Some("did you mean `name`?"));
}

#[test]
fn unknown_value() {
    let src = BASE.replace("serves: [http, ping]", "serves: [htp, ping]");
    let expected = Some("expected one of `ping`, `http`, `https`, `dns`");
    check(&src, "unknown value `htp`", (9, 86), expected, Some("did you mean `http`?"));
}

#[test]
fn wrong_type() {
    let src = BASE.replace("name: t\n", "name: t\nseed: abc\n");
    check(&src, "wrong type: found string \"abc\"", (2, 7), Some("expected a whole number"), None);
}

#[test]
fn missing_key() {
    let src = BASE.replace("{name: docker-host, ip: 10.0.2.15}", "{name: docker-host}");
    let hint = Some("add `ip:` to this mapping");
    check(&src, "missing required key `ip`", (6, 5), Some("this mapping is incomplete"), hint);
}

#[test]
fn duplicate_key() {
    let src = BASE.replace("name: t\n", "name: t\nname: u\n");
    check(&src, "duplicate key `name`", (2, 1), None, Some("each key may appear once per mapping"));
}

#[test]
fn bad_scenario_name() {
    let src = BASE.replace("name: t\n", "name: Bridge_Lab\n");
    let expected = Some(values::SCENARIO_NAME_EXPECTED);
    check(&src, "invalid scenario name `Bridge_Lab`", (1, 7), expected, Some("try `bridge-lab`"));
}

#[test]
fn bad_engine_version() {
    let src = BASE.replace("name: t\n", "name: t\nengine: latest\n");
    let expected = Some("expected MAJOR.MINOR.PATCH, like `20.10.7`");
    check(&src, "invalid engine version `latest`", (2, 9), expected, None);
}

#[test]
fn bad_subnet() {
    let src = BASE.replace("subnet: 10.0.2.0/24", "subnet: 10.0.2.0");
    let expected = Some("expected an IPv4 network in CIDR notation, like `10.0.2.0/24`");
    check(
        &src,
        "invalid subnet `10.0.2.0`",
        (4, 27),
        expected,
        Some("add a prefix length, like `10.0.2.0/24`"),
    );
    let src = BASE.replace("subnet: 10.0.2.0/24", "subnet: 10.0.2.7/24");
    let expected = Some("expected the network address: the host bits must be zero");
    check(
        &src,
        "invalid subnet `10.0.2.7/24`",
        (4, 27),
        expected,
        Some("did you mean `10.0.2.0/24`?"),
    );
}

#[test]
fn bad_ip() {
    let src = BASE.replace("ip: 10.0.2.15", "ip: 10.0.2.300");
    let expected = Some("expected an IPv4 address, like `10.0.2.15`");
    check(&src, "invalid IPv4 address `10.0.2.300`", (6, 29), expected, None);
}

#[test]
fn bad_duration() {
    let src = BASE.replace("latency: 45ms", "latency: 45");
    let expected = Some(values::DURATION_EXPECTED);
    check(&src, "invalid duration `45`", (9, 61), expected, Some("add a unit: `45s` or `45ms`"));
}

#[test]
fn duplicate_names() {
    let src = BASE.replace("{name: client,", "{name: docker-host,");
    let hint = Some("names must be unique; hosts and externals share one set of names");
    check(
        &src,
        "duplicate external name `docker-host`",
        (8, 12),
        Some("expected a name not used above"),
        hint,
    );
}

#[test]
fn ip_outside_subnet() {
    let src = BASE.replace("ip: 10.0.2.15", "network: lan, ip: 10.0.9.15");
    let message =
        "IP address 10.0.9.15 of host `docker-host` is outside its network's subnet 10.0.2.0/24";
    check(
        &src,
        message,
        (6, 43),
        Some("expected an address inside 10.0.2.0/24, like 10.0.2.1"),
        None,
    );
}

#[test]
fn ip_collision() {
    let src = BASE.replace("ip: 10.0.2.100", "ip: 10.0.2.1");
    let message =
        "IP address 10.0.2.1 of external `client` is already used by the gateway of network `lan`";
    check(
        &src,
        message,
        (8, 24),
        Some("expected an address no other machine or gateway uses"),
        None,
    );
}

#[test]
fn reserved_address() {
    let src = BASE.replace("ip: 10.0.2.15", "ip: 10.0.2.255");
    let expected =
        Some("expected a usable address: 10.0.2.255 is the broadcast address of 10.0.2.0/24");
    check(&src, "invalid address `10.0.2.255`", (6, 29), expected, None);
}

#[test]
fn overlapping_subnets() {
    let src = BASE.replace(
        "gateway: 10.0.2.1}\n",
        "gateway: 10.0.2.1}\n    - {name: lan2, subnet: 10.0.0.0/16}\n",
    );
    let message = "subnet 10.0.0.0/16 overlaps subnet 10.0.2.0/24 of network `lan`";
    check(&src, message, (5, 28), Some("expected a subnet of its own"), None);
}

#[test]
fn unknown_network() {
    let src = BASE.replace("ip: 10.0.2.15}", "ip: 10.0.2.15, network: lna}");
    let expected = Some("expected a network declared under `underlay: networks:`");
    check(&src, "unknown network `lna`", (6, 49), expected, Some("did you mean `lan`?"));
}

#[test]
fn internet_external_needs_a_gateway() {
    let src = BASE.replace(", gateway: 10.0.2.1", "");
    let message = "IP address 104.239.220.248 of external `www.dockercon.com` is outside its network's subnet 10.0.2.0/24";
    let hint = Some("or add a `gateway:` to network `lan` to reach addresses outside it");
    check(&src, message, (9, 35), Some("expected an address inside 10.0.2.0/24"), hint);
}

#[test]
fn lan_external_takes_no_hops() {
    let src = BASE.replace("ip: 10.0.2.100}", "ip: 10.0.2.100, hops: 3}");
    let hint = Some("external `client` is on the LAN `lan`, whose latency is set on the network");
    check(&src, "`hops` applies only to externals behind a gateway", (8, 36), None, hint);
}

#[test]
fn unknown_host() {
    let src = with_steps("  - on: docker-hots\n    run: docker network ls\n");
    let expected =
        Some("expected the name of a host or external declared under `hosts:`/`externals:`");
    check(
        &src,
        "unknown host `docker-hots`",
        (11, 9),
        expected,
        Some("did you mean `docker-host`?"),
    );
    let rendered = error_of(&src).to_string();
    assert_eq!(
        rendered,
        "error: unknown host `docker-hots`\n  --> t.yaml:11:9\n   |\n11 |   - on: docker-hots\n   |  \
         \x20      ^^^^^^^^^^^ expected the name of a host or external declared under \
         `hosts:`/`externals:`\n   = hint: did you mean `docker-host`?\n"
    );
}

#[test]
fn unknown_container() {
    let steps = "  - on: docker-host\n    run: docker run -d --name web1 nginx\n  - in: web2\n    run: ls\n";
    let expected = Some("expected a container named with `--name` by an earlier `docker run` step");
    check(
        &with_steps(steps),
        "unknown container `web2`",
        (13, 9),
        expected,
        Some("did you mean `web1`?"),
    );
    let steps = "  - in: client\n    run: ls\n";
    let hint = Some("`client` is a host or external: use `on: client`");
    check(&with_steps(steps), "unknown container `client`", (11, 9), expected, hint);
}

#[test]
fn removed_container() {
    let steps =
        "  - on: docker-host\n    run: docker run --name=c1 alpine\n  - on: docker-host\n    \
                 run: docker rm -f c1\n  - in: c1\n    run: ls\n";
    let hint = Some("container `c1` was removed by the step at line 13");
    check(&with_steps(steps), "unknown container `c1`", (15, 9), Some(IN), hint);
}
const IN: &str = "expected a container named with `--name` by an earlier `docker run` step";

#[test]
fn container_name_in_use() {
    let run = "  - on: docker-host\n    run: docker run -d --name web1 nginx\n";
    let hint = Some(
        "the container made at line 11 still exists: remove it first with `docker rm -f web1`, or choose another name",
    );
    check(
        &with_steps(&run.repeat(2)),
        "container name `web1` is already in use",
        (14, 31),
        None,
        hint,
    );
    let rm = "  - on: docker-host\n    run: docker container rm web1\n";
    assert!(parse(&with_steps(&format!("{run}{rm}{run}")), "t", &accept).is_ok());
    let failing =
        "  - on: docker-host\n    run: docker run --name web1 x\n    expect: {exit_code: 125}\n";
    assert!(parse(&with_steps(&format!("{run}{failing}")), "t", &accept).is_ok());
}

#[test]
fn step_kinds() {
    let expected =
        Some("expected one of `run` (with `on:` or `in:`), `wait`, `capture`, `stop_capture`, `expect`, `note`, `fault`");
    check(&with_steps("  - {}\n"), "step does nothing", (11, 5), expected, None);
    let hint = Some("a step does one thing: split it into one step per kind");
    check(
        &with_steps("  - wait: 1s\n    note: hi\n"),
        "step mixes `wait` and `note`",
        (12, 5),
        None,
        hint,
    );
    let hint = Some("`on:` names a host or external, `in:` a container: keep one");
    let src = with_steps("  - on: client\n    in: x\n    run: ls\n");
    check(&src, "step has both `on:` and `in:`", (12, 5), None, hint);
    let hint = Some("add `run: COMMAND`, the command to run there");
    check(&with_steps("  - on: client\n"), "missing required key `run`", (11, 5), None, hint);
    let expected = Some("expected `on: HOST` or `in: CONTAINER` next to `run:`");
    check(&with_steps("  - run: ls\n"), "`run` needs `on:` or `in:`", (11, 5), expected, None);
}

#[test]
fn empty_run() {
    let expected = Some("expected a command, like `docker network ls`");
    check(
        &with_steps("  - on: client\n    run: \"  \"\n"),
        "`run` is empty",
        (12, 10),
        expected,
        None,
    );
}

#[test]
fn misplaced_expectations() {
    let src = with_steps("  - on: client\n    run: ls\n    expect: {reachable: [\"a -> b\"]}\n");
    let hint = Some("move it to a separate step: `- expect: {reachable: [...]}`");
    check(&src, "`reachable` belongs in an `expect:` step of its own", (13, 14), None, hint);
    let src = with_steps("  - expect: {exit_code: 1}\n");
    let hint = Some("put it under the `expect:` of a step with `run:`");
    check(&src, "`exit_code` needs a command to check", (11, 14), None, hint);
    let expected = Some("expected `reachable:` or `isolated:` with at least one spec");
    check(
        &with_steps("  - expect: {reachable: []}\n"),
        "`expect:` step checks nothing",
        (11, 13),
        expected,
        None,
    );
}

#[test]
fn reach_spec_syntax() {
    let src = with_steps("  - expect:\n      reachable: [\"client -> docker-host:80/tpc\"]\n");
    let hint = Some("unknown protocol `tpc`: did you mean `tcp`?");
    let expected = Some(validate_reach_expected());
    check(
        &src,
        "invalid reachability spec `client -> docker-host:80/tpc`",
        (12, 45),
        expected,
        hint,
    );
}

fn validate_reach_expected() -> &'static str {
    "expected `SRC -> DST[:PORT][/tcp|/udp|/icmp]`"
}

#[test]
fn reach_spec_unknown_endpoint() {
    let src = with_steps("  - expect:\n      isolated: [client -> dockr-host]\n");
    let expected = Some("expected a host, an external, a container created by an earlier step, or a swarm service (`SERVICE` or `SERVICE.SLOT`)");
    check(
        &src,
        "unknown endpoint `dockr-host`",
        (12, 28),
        expected,
        Some("did you mean `docker-host`?"),
    );
}

#[test]
fn reach_specs_name_swarm_services_looked_up_at_run_time() {
    let src = with_steps("  - expect:\n      isolated: [dog-web -> cat-db.1:6379]\n");
    let s = parse(&src, "t.yaml", &accept).expect("valid");
    let StepKind::Expect(expect) = &s.steps[0].kind else { panic!("{:?}", s.steps[0]) };
    let swarm = |n: &str| ReachEnd::Swarm(n.into());
    let want = Reach { src: swarm("dog-web"), dst: swarm("cat-db.1"), probe: Probe::Tcp(6379) };
    assert_eq!(expect.isolated, vec![want]);
    assert_eq!(swarm_parts("cat-db.1"), ("cat-db", Some(1)));
    assert_eq!(swarm_parts("a.b"), ("a.b", None));
    let declared = "  - {on: docker-host, run: docker service create --name docker-hos redis}\n  - expect:\n      reachable: [client -> docker-hos]\n";
    assert!(parse(&with_steps(declared), "t.yaml", &accept).is_ok());
}

#[test]
fn captures() {
    let src = with_steps("  - capture: {on: dockerhost, iface: eth0, name: c}\n");
    check(
        &src,
        "unknown host `dockerhost`",
        (11, 19),
        Some(ON),
        Some("did you mean `docker-host`?"),
    );
    let src = with_steps("  - capture: {on: client, iface: eth0, name: c}\n  - stop_capture: d\n");
    let expected = Some("expected the name of a capture started by an earlier `capture:` step");
    check(&src, "unknown capture `d`", (12, 19), expected, Some("did you mean `c`?"));
    let src = with_steps("  - capture: {on: client, iface: eth0, name: c}\n  - stop_capture: c\n  - stop_capture: c\n");
    check(
        &src,
        "capture `c` is already stopped",
        (13, 19),
        Some("expected a capture that is still running"),
        None,
    );
    let src = with_steps("  - capture: {on: client, iface: eth0, name: Cap_1}\n");
    let expected = Some(
        "expected lowercase letters, digits and dashes only ([a-z0-9-]+): it names the pcap file",
    );
    check(&src, "invalid capture name `Cap_1`", (11, 46), expected, None);
}
#[test]
fn tcpdump_captures() {
    let src = with_steps(
        "  - capture: {on: docker-host, run: \"tcpdump -ni eth0 -c 4 port 4789\", name: vxlan}\n  - stop_capture: vxlan\n    expect: {output_contains: vni 4097}\n",
    );
    let s = parse(&src, "t.yaml", &accept).expect("valid");
    let c = &s.captures[0];
    assert_eq!((c.iface.as_str(), c.filter.as_deref()), ("eth0", Some("port 4789")));
    let run = TcpdumpRun {
        command: "tcpdump -ni eth0 -c 4 port 4789".into(),
        count: Some(4),
        link_level: false,
    };
    assert_eq!(c.tcpdump, Some(run));
    let expect = CommandExpect { output_contains: vec!["vni 4097".into()], ..Default::default() };
    assert_eq!(s.steps[1].kind, StepKind::StopCapture { id: CaptureId(0), expect: Some(expect) });

    let src = with_steps("  - capture: {on: client, run: \"tcpdump -ni eth0 -X\", name: c}\n");
    let hint = Some("supported: -n, -nn, -i IFACE, -c COUNT, -e, -l, -p and a filter");
    check(&src, "tcpdump option -X is not simulated", (11, 50), None, hint);
    let src = with_steps("  - capture: {on: client, run: \"ip addr\", name: c}\n");
    let hint = Some("a capture runs tcpdump: `run: \"tcpdump -ni eth0 port 4789\"`");
    check(&src, "expected a tcpdump command", (11, 33), None, hint);
    let src =
        with_steps("  - capture: {on: client, run: \"tcpdump -ni eth0\", iface: eth0, name: c}\n");
    let hint =
        Some("`run: \"tcpdump -ni IFACE FILTER\"` names the interface itself: drop `iface:`");
    check(&src, "capture has both `run:` and `iface:`", (11, 52), None, hint);
    let src = with_steps("  - capture: {on: client, name: c}\n");
    let expected = Some(
        "expected `run: \"tcpdump -ni eth0 FILTER\"`, or `iface: IFACE` with an optional `filter:`",
    );
    check(&src, "capture needs `run:` or `iface:`", (11, 14), expected, None);
}

const ON: &str = "expected the name of a host or external declared under `hosts:`/`externals:`";

#[test]
fn command_checker_errors_point_into_the_command() {
    let reject = |site: &CommandSite| -> Result<(), CommandError> {
        assert_eq!((site.runs_on, site.target), (RunsOn::Host, "docker-host"));
        let at = site.command.find("--nmae").map(|start| start..start + 6);
        Err(CommandError {
            message: "unknown flag: --nmae".into(),
            hint: Some("did you mean `--name`?".into()),
            at,
        })
    };
    let src = with_steps("  - on: docker-host\n    run: docker run --nmae x alpine\n");
    let err = parse(&src, "t.yaml", &reject).unwrap_err();
    assert_eq!(err.message(), "unknown flag: --nmae");
    assert_eq!(err.line_col(), Some((12, 21)));
    assert_eq!(err.hint_text(), Some("did you mean `--name`?"));
    assert!(
        err.to_string().contains(&(String::from("\n   | ") + &" ".repeat(20) + "^^^^^^\n")),
        "{err}"
    );
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        /// Any edit of a valid file either still loads or becomes an error with a position.
        #[test]
        fn on_edited_scenarios(at in 0usize..FULL.len(), cut in 0usize..40, insert in "[ -~\n\t]{0,12}") {
            let start = (0..=at).rev().find(|&i| FULL.is_char_boundary(i)).unwrap_or(0);
            let end = (start + cut..=FULL.len()).find(|&i| FULL.is_char_boundary(i)).unwrap_or(FULL.len());
            let source = format!("{}{}{}", &FULL[..start], insert, &FULL[end..]);
            if let Err(err) = parse(&source, "t.yaml", &accept) {
                prop_assert!(err.line_col().is_some());
                prop_assert!(err.to_string().starts_with("error: "));
            }
        }

        #[test]
        fn on_arbitrary_text(source in "\\PC{0,200}") {
            if let Err(err) = parse(&source, "t.yaml", &accept) {
                prop_assert!(err.line_col().is_some());
            }
        }
    }
}

#[test]
fn deep_nesting_is_refused_before_libyaml_sees_it() {
    let deep = format!("name: {}{}\n", "[".repeat(40), "]".repeat(40));
    let err = error_of(&deep);
    assert_eq!(err.message(), "YAML syntax error: nested more than 32 levels deep");
    assert_eq!(err.line_col(), Some((1, 38)));
    // Far deeper input trips saphyr's own limit, and libyaml's, before any slow path.
    let deeper = format!("name: {}{}\n", "[".repeat(20_000), "]".repeat(20_000));
    assert_eq!(error_of(&deeper).message(), "YAML syntax error: recursion limit exceeded");
}

#[test]
fn link_parameters_and_faults() {
    use crate::fabric::{Bandwidth, LinkChange, LinkParams, Loss};
    let source = "name: t
underlay:
  networks:
    - {name: lan, subnet: 10.0.2.0/24, gateway: 10.0.2.1, jitter: 1ms, loss: 0.01, bandwidth: 1Gbit}
hosts:
  - {name: docker-host, ip: 10.0.2.15}
externals:
  - {name: client, ip: 10.0.2.100}
  - {name: www.dockercon.com, ip: 104.239.220.248}
steps:
  - fault: {partition: [[docker-host], [client]]}
  - fault: heal
  - fault: {link: {network: lan, loss: 30%, latency: 5ms}}
";
    let s = parse(source, "t.yaml", &accept).unwrap_or_else(|e| panic!("{e}"));
    let link = LinkParams {
        latency: DEFAULT_LAN_LATENCY,
        jitter: SimDuration::from_millis(1),
        loss: Loss(10_000),
        bandwidth: Bandwidth::from_bits_per_sec(1_000_000_000),
    };
    assert_eq!(s.networks[0].link, link);
    let partition = Fault::Partition(vec![
        vec![Machine::Host(HostId(0))],
        vec![Machine::External(ExternalId(0))],
    ]);
    let change = LinkChange {
        latency: Some(SimDuration::from_millis(5)),
        loss: Some(Loss(300_000)),
        ..LinkChange::default()
    };
    let faults: Vec<&StepKind> = s.steps.iter().map(|st| &st.kind).collect();
    assert_eq!(
        faults,
        [
            &StepKind::Fault(partition.clone()),
            &StepKind::Fault(Fault::Heal),
            &StepKind::Fault(Fault::Link { net: NetId(0), change })
        ]
    );
    assert_eq!(partition.describe(&s), "# fault: partition [docker-host] | [client]");
    assert_eq!(Fault::Heal.describe(&s), "# fault: heal");
    let link_fault = Fault::Link { net: NetId(0), change };
    assert_eq!(link_fault.describe(&s), "# fault: link lan: latency 5ms, loss 30%");
}

#[test]
fn fault_errors() {
    let expected = Some("expected a host or external declared under `hosts:`/`externals:`");
    check(
        &with_steps("  - fault: {partition: [[docker-hots], [client]]}\n"),
        "unknown machine `docker-hots`",
        (11, 26),
        expected,
        Some("did you mean `docker-host`?"),
    );
    check(
        &with_steps("  - fault: {partition: [[client], [docker-host, client]]}\n"),
        "`client` is in two partition groups",
        (11, 49),
        None,
        Some("it is already in group 1 of this partition"),
    );
    check(
        &with_steps("  - fault: {link: {network: lan, bandwidth: 100}}\n"),
        "invalid bandwidth `100`",
        (11, 45),
        Some("expected a rate in tc's units (bit, kbit, mbit, gbit; case-insensitive), like `100mbit` or `1gbit`"),
        Some("add a unit: `100mbit` or `100gbit`"),
    );
    check(
        &with_steps("  - fault: {link: {network: lan, loss: 150%}}\n"),
        "invalid loss `150%`",
        (11, 40),
        Some("expected a percentage like `1%` or `0.5%`, or a fraction from 0 to 1 like `0.01`"),
        None,
    );
    check(
        &with_steps("  - fault: {link: {network: lna, jitter: 1ms}}\n"),
        "unknown network `lna`",
        (11, 29),
        Some("expected a network declared under `underlay: networks:`"),
        Some("did you mean `lan`?"),
    );
    check(
        &with_steps("  - fault: heall\n"),
        "unknown value `heall`",
        (11, 12),
        Some("expected `heal`, `{partition: [[A], [B, C]]}`, `{link: {network: NAME, loss: 1%}}` or `{crash: MACHINE}`"),
        Some("did you mean `heal`?"),
    );
    check(
        &with_steps("  - fault: {crash: client, partition: [[client]]}\n"),
        "fault mixes `partition` and `crash`",
        (11, 13),
        None,
        Some("a step does one thing: split it into one step per fault"),
    );
}

#[test]
fn a_crash_stops_its_machine_for_the_rest_of_the_scenario() {
    let ok = with_steps("  - {on: client, run: ping -c 1 10.0.2.15}\n  - fault: {crash: client}\n");
    let s = parse(&ok, "t.yaml", &accept).unwrap_or_else(|e| panic!("{e}"));
    let crash = Fault::Crash(Machine::External(ExternalId(0)));
    assert_eq!(s.steps[1].kind, StepKind::Fault(crash.clone()));
    assert_eq!(crash.describe(&s), "# fault: crash client");
    let hint = Some("a crashed machine runs nothing more: move this step before the crash");
    check(
        &with_steps("  - fault: {crash: client}\n  - {on: client, run: ping -c 1 10.0.2.15}\n"),
        "`client` crashed at line 11",
        (12, 10),
        None,
        hint,
    );
    check(
        &with_steps("  - fault: {crash: client}\n  - fault: {crash: client}\n"),
        "`client` crashed at line 11",
        (12, 20),
        None,
        hint,
    );
    check(
        &with_steps(
            "  - {on: docker-host, run: docker run -d --name web nginx}\n  - fault: {crash: docker-host}\n  - expect: {reachable: [\"web -> client\"]}\n",
        ),
        "`web`'s host `docker-host` crashed at line 12",
        (13, 27),
        None,
        hint,
    );
    check(
        &with_steps(
            "  - fault: {crash: client}\n  - capture: {on: client, iface: eth0, name: c}\n",
        ),
        "`client` crashed at line 11",
        (12, 19),
        None,
        hint,
    );
    check(
        &with_steps("  - fault: {crash: lan-router}\n"),
        "unknown machine `lan-router`",
        (11, 20),
        Some("expected a host or external declared under `hosts:`/`externals:`"),
        Some("routers never fail: name the machines behind them"),
    );
}

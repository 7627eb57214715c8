//! Scenario files: YAML → raw serde structs → `validate()` → a typed [`Scenario`].
//!
//! Contract: [`load`] and [`parse`] either return a `Scenario` in which every name has
//! become an id and every value is parsed, or a [`ScenarioError`] naming the file, line and
//! column, what was expected there and, where one exists, a hint (the nearest valid word for
//! misspelt keys, hosts, containers and captures). They never panic on any input.
//!
//! # The format
//!
//! ```yaml
//! name: bridge-networking       # required; [a-z0-9-]+ (names the report directory)
//! description: Replays "Bridge networking" from the Docker labs   # optional
//! seed: 1                       # optional, default 1
//! engine: "20.10.7"             # optional Docker engine version, default 20.10.7
//! limits: {max_events: 10000000, max_time: 1h}   # optional; defaults: 10M events, 1 day
//! underlay:
//!   networks:                   # at least one; subnets may not overlap
//!     - name: lan
//!       subnet: 10.0.2.0/24
//!       gateway: 10.0.2.1       # optional router to the "internet" and the other LANs
//!       dns: 10.0.2.3           # optional resolver; default the gateway
//!       latency: 0.5ms          # optional one-way latency, default 0.2ms
//!       jitter: 1ms             # optional uniform extra 0..jitter per frame, default 0
//!       loss: 1%                # optional: `N%` or a fraction `0.01`; default 0
//!       bandwidth: 100mbit      # optional: bit|kbit|mbit|gbit (any case); default unlimited
//! hosts:                        # Docker hosts; `network:` optional (found from the IP)
//!   - {name: docker-host, ip: 10.0.2.15}
//!   - {name: node3, ip: 10.0.2.16, os: windows}   # `os:` linux (default) or windows
//! externals:                    # machines without Docker
//!   - {name: client, ip: 10.0.2.100}          # inside a subnet: on that LAN
//!   - {name: www.dockercon.com, ip: 104.239.220.248, latency: 45ms, hops: 25, serves: [http, ping]}
//! steps:
//!   - on: docker-host           # a host or external …
//!     run: docker network ls
//!     expect: {output_contains: bridge, output_lacks: host, output_equals: "…", exit_code: 0}   # all optional
//!   - in: web1                  # … or a container created by an earlier `docker run --name web1`
//!     run: ping -c 3 cat-db
//!   - wait: 5s
//!   - capture: {on: docker-host, iface: docker0, filter: "icmp or arp", name: ping-docker0}
//!   - stop_capture: ping-docker0   # open captures stop at the end
//!   - capture: {on: docker-host, run: "tcpdump -ni eth0 port 4789", name: vxlan}   # as typed
//!   - stop_capture: vxlan          # Ctrl-C; `expect:` checks what tcpdump printed
//!     expect: {output_contains: "vni 4097", output_lacks: "ARP"}
//!   - expect: {reachable: ["client -> docker-host:8080"], isolated: ["c2 -> c1/icmp"]}
//!   - expect: {reachable: ["admin -> dog-db:6379"], isolated: ["dog-web -> cat-db.1"]}   # swarm
//!   - note: free text for the transcript
//!   - fault: {partition: [[docker-host], [client]]}   # unlisted machines: one more group
//!   - fault: {link: {network: lan, loss: 30%, latency: 5ms, jitter: 1ms, bandwidth: 1mbit}}
//!   - fault: heal               # removes the partition
//!   - fault: {crash: worker2}   # the machine stops for good
//! ```
//!
//! A command may paste the swarm's join tokens as `${WORKER_TOKEN}` and `${MANAGER_TOKEN}`;
//! the runner fills them in from the swarm's first manager. `$(CMD)` is command
//! substitution: CMD runs first where the command runs, and its output takes its place.
//!
//! Reachability ends are a host or external, a container declared by an earlier step, or a
//! swarm service: `web` names every running task of service `web`, `web.2` the task in slot 2
//! of a replicated service. Services are created by steps, so such a name is looked up when
//! the check runs, and a name with no running task fails the check, saying what was missing;
//! at load time a name that is neither a machine nor a container is refused only when it is
//! a removed container, or a near miss of a machine's name and no earlier `docker service
//! create --name` step named it. As a source, every task must satisfy the expectation. As a
//! destination, `reachable` means every source reaches every task, at an address on a network
//! the two share (any address when they share none); `isolated` means no source reaches any
//! address of any task, nor, for `web`, the service's virtual IPs (see `check/reach.rs`).
//!
//! Durations are a number and a unit: `ns`, `us`, `ms`, `s`, `m`, `h` (`0.5ms`, `30s`).
//! Reachability specs are `SRC -> DST[:PORT][/tcp|/udp|/icmp]`: ICMP without a port, TCP with
//! one unless `/udp`. Internet externals (outside every subnet) sit behind the gateway of
//! their `network:` or of the only network that has one; `latency` defaults to 20ms and
//! `hops` to 10, and LAN externals take neither. `serves` defaults to `[ping]`.
//!
//! Link parameters: `loss` is a percentage with up to 4 decimals (`0.5%`) or a fraction of 1
//! with up to 6 (`0.005`); `bandwidth` uses tc's SI units (`1gbit` is 10^9 bit/s), and
//! `Mbps`-style byte rates are refused. Each port sends at most `bandwidth`, frames queued
//! back to back (FIFO). Networks with a gateway reach each other through their routers (one
//! TTL per router, latencies summed). `fault:` steps act on the fabric from that moment:
//! `partition` (hosts and externals by name; routers are never partitioned, traffic routed
//! across groups is dropped at the last router) replaces any earlier partition, `heal`
//! removes it, `link` changes only the parameters it names, `crash` powers a host or external
//! off for good (no step may run on it, capture on it, or probe from it afterwards; the
//! reachability matrix leaves it out). The transcript shows each as a `# fault: …` line.
//!
//! A capture names its interface and filter either as `iface:`/`filter:`, or as the lab's
//! command line `run: "[sudo] tcpdump OPTIONS FILTER"` with the options `-n`/`-nn`
//! (required: addresses print numerically), `-i IFACE` (required), `-c COUNT`, `-e`, `-l`,
//! `-p`; any other option is an error pointing at it. A `run:` capture shows in the
//! transcript as tcpdump's terminal (see `runner/capture.rs`), and its `stop_capture` step
//! takes `expect:` as a `run:` step does (without one: exit code 0), checked against
//! everything tcpdump printed. Either way the frames go to the run's `NAME.pcap`.
//!
//! Container names are tracked as documented in `validate/containers.rs`: a host step
//! `docker run … --name X` declares `X` (unless the step expects a non-zero exit code), and
//! `docker rm X` forgets it; names are one namespace across hosts and may not equal a
//! host's or external's name.
//!
//! Commands themselves are checked by the caller's callback (the docker CLI parser), whose
//! error is reported at the `run:` value.

mod error;
mod model;
mod positions;
mod raw;
mod serde_errors;
pub mod suggest;
mod validate;
mod values;

use std::path::Path;

pub use error::{CommandError, CommandSite, ErrorKind, RunsOn, ScenarioError};
pub use model::*;
pub use validate::CommandCheck;

/// Reads and validates the scenario file at `path`, checking each command with
/// `check_command`. I/O errors become a `ScenarioError` too.
pub fn load(path: &Path, check_command: CommandCheck) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let source = std::fs::read_to_string(path)
        .map_err(|err| ScenarioError::whole_file(ErrorKind::Io(err.to_string()), &file))?;
    parse(&source, &file, check_command)
}

/// Validates the scenario in `source`; `file_name` is what errors call the file.
pub fn parse(
    source: &str,
    file_name: &str,
    check_command: CommandCheck,
) -> Result<Scenario, ScenarioError> {
    let index = positions::PositionIndex::build(source).map_err(|err| match err {
        positions::IndexError::Syntax(message, region) => {
            syntax_error(source, file_name, message, region)
        }
        positions::IndexError::TooDeep(region) => {
            let message = format!("nested more than {} levels deep", positions::MAX_DEPTH);
            ScenarioError::at(ErrorKind::Syntax(message), file_name, source, region)
        }
    })?;
    if index.is_empty() {
        let err = ScenarioError::at(ErrorKind::Empty, file_name, source, positions::Region::START);
        return Err(err.hint(Some(serde_errors::EMPTY_HINT.to_string())));
    }
    let raw: raw::RawScenario = serde_yaml::from_str(source)
        .map_err(|err| serde_errors::convert(&err, file_name, source, &index))?;
    let ctx = validate::Ctx { file: file_name, source, index: &index };
    validate::validate(raw, &ctx, check_command)
}

/// Both parsers read the file; libyaml's messages say more ("while parsing a flow mapping
/// at line 9 column 5"), so its error wins when it has one.
fn syntax_error(
    source: &str,
    file: &str,
    message: String,
    region: positions::Region,
) -> ScenarioError {
    match serde_yaml::from_str::<serde_yaml::Value>(source) {
        Err(err) if err.location().is_some() => {
            serde_errors::convert(&err, file, source, &positions::PositionIndex::default())
        }
        _ => ScenarioError::at(ErrorKind::Syntax(message), file, source, region),
    }
}

#[cfg(test)]
mod tests;

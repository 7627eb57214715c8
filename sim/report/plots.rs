//! The report's plots: SVG pictures of what a run did over time, drawn with plotters.
//!
//! Contract: a plot is rendered in memory from the `Outcome` alone, so the same outcome
//! always gives the same bytes; the HTML report embeds each one and `report::write` stores
//! it as `<name>.svg` beside the report ([`files`]). [`plots`] gives only the plots the run
//! has data for, always in this order:
//!
//! | name | shows |
//! |---|---|
//! | `underlay-traffic` | packets each machine's NIC sent onto the underlay, per second |
//! | `vxlan-tunnels` | VXLAN (or ESP) packets from each host to each other, per second |
//! | `membership` | each node's memberlist view of every other node: alive, suspect, dead, left |
//! | `raft` | each manager's raft role, with its term |
//! | `networkdb-entries` | the NetworkDB table entries each node holds |
//! | `load-spread` | the connections IPVS scheduled to each task, so far |

pub mod draw;

use plotters::style::RGBColor;

use crate::engine::SimTime;
use crate::proto::raft::Role;
use crate::proto::swim::State;
use crate::runner::timeline::{RaftState, Rate, Timeline, Track};
use crate::runner::Outcome;
use draw::{Bar, Category, Series, TimeAxes};

/// One rendered plot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plot {
    /// The file stem, e.g. `link-traffic` (written as `link-traffic.svg`).
    pub name: String,
    /// The caption shown above it.
    pub title: String,
    /// The whole SVG document.
    pub svg: String,
}

/// Every plot the run has data for.
pub fn plots(outcome: &Outcome) -> Vec<Plot> {
    let t = &outcome.timeline;
    let builders: [fn(&Timeline) -> Option<Plot>; 6] =
        [underlay_traffic, vxlan_tunnels, membership, raft, networkdb_entries, load_spread];
    builders.iter().filter_map(|build| build(t)).collect()
}

/// The plots as report files: (`<name>.svg`, the SVG's bytes).
pub fn files(plots: &[Plot]) -> Vec<(String, Vec<u8>)> {
    plots.iter().map(|p| (format!("{}.svg", p.name), p.svg.clone().into_bytes())).collect()
}

fn plot(name: &str, title: &str, svg: String) -> Option<Plot> {
    Some(Plot { name: name.to_string(), title: title.to_string(), svg })
}

/// A plot of lines over the run's time; none without lines.
fn line_plot(
    name: &str,
    title: &str,
    y_desc: &str,
    end: SimTime,
    lines: &[Series],
) -> Option<Plot> {
    if lines.is_empty() {
        return None;
    }
    let svg = draw::time_lines(&TimeAxes { end_secs: secs(end), y_desc }, lines);
    plot(name, title, svg)
}

fn secs(t: SimTime) -> f64 {
    t.as_nanos() as f64 / 1e9
}

fn underlay_traffic(t: &Timeline) -> Option<Plot> {
    let title = "Packets each NIC sent onto the underlay, per second";
    let lines = rate_lines(&t.nic_packets);
    line_plot("underlay-traffic", title, "packets sent per second", t.end, &lines)
}

fn vxlan_tunnels(t: &Timeline) -> Option<Plot> {
    let title = "VXLAN packets from each host to each other, per second";
    let lines = rate_lines(&t.tunnel_packets);
    line_plot("vxlan-tunnels", title, "VXLAN packets per second", t.end, &lines)
}

fn networkdb_entries(t: &Timeline) -> Option<Plot> {
    let any = t.networkdb_entries.iter().flat_map(|k| &k.changes).any(|(_, v)| v.unwrap_or(0) > 0);
    if !any {
        return None;
    }
    let title = "NetworkDB table entries each node holds";
    let lines = count_lines(&t.networkdb_entries, t.end, |n| n as f64);
    line_plot("networkdb-entries", title, "NetworkDB entries held", t.end, &lines)
}

fn load_spread(t: &Timeline) -> Option<Plot> {
    let mut tasks = t.task_connections.clone();
    // Tasks of a service next to each other, in slot order (`web.2` before `web.10`).
    tasks.sort_by_key(|k| task_order(&k.label));
    let title = "Connections IPVS scheduled to each task, so far";
    let lines = count_lines(&tasks, t.end, |n| n as f64);
    line_plot("load-spread", title, "connections so far", t.end, &lines)
}

fn task_order(label: &str) -> (String, u64, String) {
    let (service, slot) = label.rsplit_once('.').unwrap_or((label, ""));
    (service.to_string(), slot.parse().unwrap_or(u64::MAX), slot.to_string())
}

/// A rate as a step line: each second's count held across that second.
fn rate_lines(rates: &[Rate]) -> Vec<Series> {
    rates
        .iter()
        .map(|r| {
            (r.label.clone(), steps(r.per_second.iter().map(|&n| f64::from(n)).collect::<Vec<_>>()))
        })
        .collect()
}

/// Points of a step line through per-second values, with a corner only where it changes.
fn steps(per_second: Vec<f64>) -> Vec<(f64, f64)> {
    let mut points = vec![(0.0, per_second.first().copied().unwrap_or(0.0))];
    for (i, pair) in per_second.windows(2).enumerate() {
        if pair[0] != pair[1] {
            let x = (i + 1) as f64;
            points.extend([(x, pair[0]), (x, pair[1])]);
        }
    }
    points.push((per_second.len() as f64, per_second.last().copied().unwrap_or(0.0)));
    points
}

/// Count tracks as step lines from zero seconds to `end`; before its first value, and
/// wherever it has none, a count is zero.
fn count_lines<T: Copy>(tracks: &[Track<T>], end: SimTime, y: fn(T) -> f64) -> Vec<Series> {
    let line = |k: &Track<T>| {
        let mut points = vec![(0.0, 0.0)];
        let mut before = 0.0;
        for &(at, v) in &k.changes {
            let y = v.map_or(0.0, y);
            points.extend([(secs(at), before), (secs(at), y)]);
            before = y;
        }
        points.push((secs(end), before));
        (k.label.clone(), points)
    };
    tracks.iter().map(line).collect()
}

const GREEN: RGBColor = RGBColor(44, 160, 44);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const RED: RGBColor = RGBColor(214, 39, 40);
const GREY: RGBColor = RGBColor(150, 150, 150);
const BLUE: RGBColor = RGBColor(31, 119, 180);

fn membership(t: &Timeline) -> Option<Plot> {
    let categories = [
        Category { name: "alive", color: GREEN },
        Category { name: "suspect", color: ORANGE },
        Category { name: "dead", color: RED },
        Category { name: "left", color: GREY },
    ];
    let style = |s: &State| {
        let category = match s {
            State::Alive => 0,
            State::Suspect => 1,
            State::Dead => 2,
            State::Left => 3,
        };
        (category, None)
    };
    let title = "How each node's memberlist sees the others (A → B: A's view of B)";
    state_plot("membership", title, &t.membership, t.end, &categories, style)
}

fn raft(t: &Timeline) -> Option<Plot> {
    let categories = [
        Category { name: "follower", color: BLUE },
        Category { name: "candidate", color: ORANGE },
        Category { name: "leader", color: GREEN },
    ];
    let style = |s: &RaftState| {
        let category = match s.role {
            Role::Follower => 0,
            Role::Candidate => 1,
            Role::Leader => 2,
        };
        (category, Some(format!("term {}", s.term)))
    };
    state_plot("raft", "Each manager's raft role and term", &t.raft, t.end, &categories, style)
}

/// A plot of tracks as rows of bars, coloured by the category `style` gives each value
/// (with a note); none without tracks.
fn state_plot<T>(
    name: &str,
    title: &str,
    tracks: &[Track<T>],
    end: SimTime,
    categories: &[Category],
    style: impl Fn(&T) -> (usize, Option<String>),
) -> Option<Plot> {
    if tracks.is_empty() {
        return None;
    }
    let (rows, bars) = state_bars(tracks, end, style);
    plot(name, title, draw::state_rows(secs(end), &rows, categories, &bars))
}

/// Tracks as rows of bars: one bar per stretch with a value, up to `end`, its category and
/// note from `style`.
fn state_bars<T>(
    tracks: &[Track<T>],
    end: SimTime,
    style: impl Fn(&T) -> (usize, Option<String>),
) -> (Vec<String>, Vec<Bar>) {
    let rows = tracks.iter().map(|k| k.label.clone()).collect();
    let mut bars = Vec::new();
    for (row, k) in tracks.iter().enumerate() {
        let ends = k.changes.iter().skip(1).map(|(at, _)| *at).chain([end]);
        for ((from, value), to) in k.changes.iter().zip(ends) {
            let Some(value) = value else { continue };
            let (category, note) = style(value);
            bars.push(Bar { row, from: secs(*from), to: secs(to), category, note });
        }
    }
    (rows, bars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::command::check;
    use crate::scenario;

    /// A scenario on two hosts, host-a (10.0.2.4) and host-b (10.0.2.5), on one LAN.
    fn two_hosts(steps: &str) -> String {
        let lan = "underlay:\n  networks: [{name: lan, subnet: 10.0.2.0/24, gateway: 10.0.2.1}]\n";
        let hosts = "hosts:\n  - {name: host-a, ip: 10.0.2.4}\n  - {name: host-b, ip: 10.0.2.5}\n";
        format!("name: plots\n{lan}{hosts}steps:\n{steps}")
    }

    /// They form a swarm and run a two-replica service on an overlay, published on 8080;
    /// four requests go through the routing mesh.
    const SWARM: &str = "\
- {on: host-a, run: docker swarm init --advertise-addr=10.0.2.4}
- {on: host-b, run: 'docker swarm join --token ${WORKER_TOKEN} 10.0.2.4:2377'}
- {on: host-a, run: docker network create -d overlay red}
- {on: host-a, run: docker service create -p 8080:80 --name web --replicas=2 --network red nginxdemos/hello}
- wait: 5s
- {on: host-a, run: curl -s 10.0.2.4:8080}
- {on: host-a, run: curl -s 10.0.2.4:8080}
- {on: host-b, run: curl -s 10.0.2.5:8080}
- {on: host-b, run: curl -s 10.0.2.5:8080}
";

    fn run(steps: &str) -> Outcome {
        let sc = scenario::parse(&two_hosts(steps), "plots.yaml", &check).expect("valid");
        crate::runner::run(&sc, 1).expect("runs")
    }

    fn names(plots: &[Plot]) -> Vec<&str> {
        plots.iter().map(|p| p.name.as_str()).collect()
    }

    #[test]
    fn a_swarm_run_has_every_plot_with_its_series() {
        let outcome = run(SWARM);
        let plots = plots(&outcome);
        assert_eq!(
            names(&plots),
            [
                "underlay-traffic",
                "vxlan-tunnels",
                "membership",
                "raft",
                "networkdb-entries",
                "load-spread"
            ]
        );
        let svg = |name: &str| &plots.iter().find(|p| p.name == name).expect("drawn").svg;
        let has = |name: &str, texts: &[&str]| {
            for text in texts {
                // plotters writes each text on a line of its own.
                assert!(svg(name).contains(&format!("\n{text}\n")), "{name} lacks {text}");
            }
        };
        has("underlay-traffic", &["host-a eth0", "host-b eth0", "packets sent per second"]);
        has("vxlan-tunnels", &["host-a → host-b", "host-b → host-a"]);
        has("membership", &["host-a → host-b", "host-b → host-a", "alive", "suspect"]);
        has("raft", &["host-a", "leader", "term 2"]);
        has("networkdb-entries", &["host-a", "host-b"]);
        has("load-spread", &["web.1", "web.2", "connections so far"]);
        assert!(svg("raft").starts_with("<svg"));
    }

    #[test]
    fn the_load_spread_counts_every_request_once() {
        let outcome = run(SWARM);
        let last = |k: &Track<u64>| k.changes.last().and_then(|(_, n)| *n).unwrap_or(0);
        let tasks = &outcome.timeline.task_connections;
        let spread: Vec<(&str, u64)> = tasks.iter().map(|k| (k.label.as_str(), last(k))).collect();
        assert_eq!(spread.iter().map(|(_, n)| n).sum::<u64>(), 4, "{spread:?}");
        assert_eq!(spread.iter().map(|(t, _)| *t).collect::<Vec<_>>(), ["web.1", "web.2"]);
    }

    #[test]
    fn the_swarm_is_looked_at_every_quarter_second() {
        let t = run(SWARM).timeline;
        let ms = |n: u64| SimTime(n * 1_000_000);
        let leader = RaftState { role: Role::Leader, term: 2 };
        assert_eq!(t.raft[0].label, "host-a");
        // `swarm init` ran at 0 s: the first look after it is at 250 ms.
        assert_eq!(t.raft[0].changes, [(ms(250), Some(leader))]);
        // `swarm join` ran at 1 s; the gossip exchange that follows ends after that look.
        let views: Vec<_> = t.membership.iter().map(|k| (k.label.as_str(), &k.changes)).collect();
        assert_eq!(
            views,
            [
                ("host-a → host-b", &vec![(ms(1250), Some(State::Alive))]),
                ("host-b → host-a", &vec![(ms(1250), Some(State::Alive))])
            ]
        );
        // Both nodes end up holding the same entries: the two overlays' endpoint and peer tables.
        let last = |k: &Track<usize>| k.changes.last().and_then(|(_, n)| *n);
        assert_eq!(t.networkdb_entries.iter().map(last).collect::<Vec<_>>(), [Some(14); 2]);
    }

    #[test]
    fn a_run_without_a_swarm_draws_no_swarm_plots() {
        let outcome = run("- {on: host-a, run: ping -c 3 10.0.2.5}\n");
        assert_eq!(names(&plots(&outcome)), ["underlay-traffic"]);
        // Three echo requests and an ARP request one way, three replies and the ARP reply
        // the other, all in the first second.
        let rates: Vec<_> = outcome
            .timeline
            .nic_packets
            .iter()
            .map(|r| (r.label.as_str(), r.per_second.clone()))
            .collect();
        assert_eq!(rates, [("host-a eth0", vec![2, 1, 1]), ("host-b eth0", vec![2, 1, 1])]);
    }

    #[test]
    fn the_same_outcome_draws_the_same_bytes() {
        let outcome = run(SWARM);
        assert_eq!(plots(&outcome), plots(&outcome));
        assert_eq!(plots(&outcome), plots(&run(SWARM)));
    }

    #[test]
    fn files_are_named_after_the_plots() {
        let plot = Plot { name: "raft".into(), title: "t".into(), svg: "<svg/>".into() };
        assert_eq!(files(&[plot]), [("raft.svg".to_string(), b"<svg/>".to_vec())]);
    }

    #[test]
    fn a_rate_is_a_step_line_with_corners_only_where_it_changes() {
        assert_eq!(
            steps(vec![0.0, 3.0, 3.0, 1.0]),
            [(0.0, 0.0), (1.0, 0.0), (1.0, 3.0), (3.0, 3.0), (3.0, 1.0), (4.0, 1.0)]
        );
    }

    #[test]
    fn a_count_line_starts_at_zero_and_holds_its_last_value_to_the_end() {
        let track = Track {
            label: "n".to_string(),
            changes: vec![(SimTime(1_000_000_000), Some(2u64)), (SimTime(3_000_000_000), None)],
        };
        let lines = count_lines(&[track], SimTime(4_000_000_000), |n| n as f64);
        assert_eq!(
            lines[0].1,
            [(0.0, 0.0), (1.0, 0.0), (1.0, 2.0), (3.0, 2.0), (3.0, 0.0), (4.0, 0.0)]
        );
    }
}

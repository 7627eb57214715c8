//! What a run produces: the transcript on stdout, and in the output directory `report.md`,
//! `report.html` (see [`html`]), `summary.json`, one `<plot>.svg` per plot (see [`plots`]) and
//! one `.pcap` per capture.
//!
//! Contract: everything is rendered in memory from the `Outcome` first; files are written
//! only when all of them rendered, into a fresh directory, so a failed run never leaves a
//! half-written report. The same outcome always renders to the same bytes.

mod headers;
pub mod html;
mod packets;
pub mod plots;
pub mod topology;
mod topology_svg;

use std::fmt::Write;
use std::path::Path;

use serde::Serialize;

use crate::check::{Cell, CheckResult, Matrix};
use crate::runner::Outcome;
use crate::wire::PcapWriter;

/// The transcript as the lab shows it: each prompt and command, then what it printed.
pub fn transcript(outcome: &Outcome, explain: bool) -> String {
    let mut s = String::new();
    for e in &outcome.entries {
        let _ = writeln!(s, "{}", e.prompt);
        s.push_str(&e.output);
        if !e.output.is_empty() && !e.output.ends_with('\n') {
            s.push('\n');
        }
        if explain {
            for op in &e.ops {
                let _ = writeln!(s, "    # {op}");
            }
        }
        s.push('\n');
    }
    s
}

/// The run's warnings, if any, then every check with its verdict, then the tally.
pub fn summary(outcome: &Outcome) -> String {
    let all = all_checks(outcome);
    let mut s = String::new();
    if !outcome.warnings.is_empty() {
        s += "Warnings:\n";
        for w in &outcome.warnings {
            let _ = writeln!(s, "  {w}");
        }
    }
    s += "Checks:\n";
    for c in &all {
        let mark = if c.held { "ok  " } else { "FAIL" };
        let _ = write!(s, "  {mark} line {:>3}: {}", c.line, c.what);
        if !c.held && !c.detail.is_empty() {
            let _ = write!(s, " — {}", c.detail.trim_end());
        }
        s.push('\n');
    }
    let failed = all.iter().filter(|c| !c.held).count();
    let _ = writeln!(
        s,
        "{} passed, {failed} failed (seed {}, {} events, simulated {})",
        all.len() - failed,
        outcome.seed,
        outcome.events,
        outcome.end
    );
    s
}

pub(crate) fn all_checks(outcome: &Outcome) -> Vec<&CheckResult> {
    let mut all: Vec<&CheckResult> =
        outcome.entries.iter().flat_map(|e| &e.checks).chain(&outcome.checks).collect();
    all.sort_by_key(|c| c.line);
    all
}

#[derive(Serialize)]
struct Summary<'a> {
    scenario: &'a str,
    seed: u64,
    passed: bool,
    events: u64,
    simulated_ns: u64,
    checks: Vec<&'a CheckResult>,
    warnings: &'a [String],
    captures: Vec<CaptureSummary<'a>>,
    reachability: &'a Matrix,
}

#[derive(Serialize)]
struct CaptureSummary<'a> {
    name: &'a str,
    iface: &'a str,
    packets: usize,
    file: String,
}

/// Renders every file of the report, in memory: (file name, bytes).
pub fn render(name: &str, outcome: &Outcome, explain: bool) -> Vec<(String, Vec<u8>)> {
    let drawn = plots::plots(outcome);
    let mut files = vec![
        ("report.md".to_string(), markdown(name, outcome, explain).into_bytes()),
        ("report.html".to_string(), html::render(name, outcome, &drawn).into_bytes()),
    ];
    files.extend(plots::files(&drawn));
    let summary = Summary {
        scenario: name,
        seed: outcome.seed,
        passed: outcome.all_held(),
        events: outcome.events,
        simulated_ns: outcome.end.as_nanos(),
        checks: all_checks(outcome),
        warnings: &outcome.warnings,
        captures: outcome
            .captures
            .iter()
            .map(|c| CaptureSummary {
                name: &c.name,
                iface: &c.iface,
                packets: c.frames.len(),
                file: format!("{}.pcap", c.name),
            })
            .collect(),
        reachability: &outcome.matrix,
    };
    let json = serde_json::to_string_pretty(&summary).expect("plain data serializes") + "\n";
    files.push(("summary.json".to_string(), json.into_bytes()));
    for c in &outcome.captures {
        let mut w = PcapWriter::new(crate::engine::EPOCH_UNIX_SECS);
        for (at, frame) in &c.frames {
            w.push(*at, frame);
        }
        files.push((format!("{}.pcap", c.name), w.into_bytes()));
    }
    files
}

fn markdown(name: &str, outcome: &Outcome, explain: bool) -> String {
    let mut s = format!(
        "# {name}\n\nSeed {}; {} events; simulated time {}.\n\n",
        outcome.seed, outcome.events, outcome.end
    );
    s += "## Transcript\n\n```console\n";
    s += &transcript(outcome, explain);
    s += "```\n\n## Checks\n\n```text\n";
    s += &summary(outcome);
    s += "```\n\n## Reachability at the end of the run\n\n";
    s += &matrix_table(&outcome.matrix);
    s += "\n## Captures\n\n";
    for c in &outcome.captures {
        let _ =
            writeln!(s, "### {} ({} packets on {})\n\n```text", c.name, c.frames.len(), c.iface);
        for (at, frame) in &c.frames {
            let _ = writeln!(s, "{at} {frame}");
        }
        s += "```\n\n";
    }
    s += "## Packet walks\n\n```text\n";
    s += &walks(outcome);
    s += "```\n";
    s
}

/// The reachability matrix as a Markdown table: rows are sources, columns destinations.
/// `I` answers ICMP echo, `T80` completes a TCP handshake on port 80 (its lowest listening
/// port), `·` neither.
pub fn matrix_table(m: &Matrix) -> String {
    if m.names.is_empty() {
        return String::new();
    }
    let mut s = format!("| from \\ to | {} |\n", m.names.join(" | "));
    s += &format!("|---|{}\n", "---|".repeat(m.names.len()));
    for (name, row) in m.names.iter().zip(&m.cells) {
        let cells: Vec<String> = row.iter().map(|c| c.map_or("—".to_string(), cell_text)).collect();
        s += &format!("| {name} | {} |\n", cells.join(" | "));
    }
    s + "\n`I`: answers ICMP echo; `T<port>`: a TCP handshake completes on the destination's lowest listening port; `·`: neither.\n"
}

pub(crate) fn cell_text(c: Cell) -> String {
    let mut parts = Vec::new();
    if c.icmp {
        parts.push("I".to_string());
    }
    if let Some((port, true)) = c.tcp {
        parts.push(format!("T{port}"));
    }
    if parts.is_empty() {
        "·".to_string()
    } else {
        parts.join(" ")
    }
}

/// Every recorded hop, grouped by packet, for the packets that crossed netfilter rules or
/// were dropped (the interesting ones); packets are numbered by their first hop, as in
/// `report.html`.
pub fn walks(outcome: &Outcome) -> String {
    let mut numbers: indexmap::IndexMap<u64, bool> = indexmap::IndexMap::new();
    for h in &outcome.hops {
        let marks =
            matches!(h.hop.stage, crate::kernel::Stage::Netfilter | crate::kernel::Stage::Drop);
        *numbers.entry(h.hop.packet).or_default() |= marks;
    }
    let mut s = String::new();
    let interesting = numbers.iter().enumerate().filter(|(_, (_, marked))| **marked);
    for (n, (id, _)) in interesting.take(50) {
        let _ = writeln!(s, "Packet {}:", n + 1);
        for h in outcome.hops.iter().filter(|h| h.hop.packet == *id) {
            let hop = &h.hop;
            let _ = writeln!(
                s,
                "{} {} {} {} {}: {}",
                hop.at, h.machine, hop.ns, hop.dev, hop.stage, hop.detail
            );
        }
        s.push('\n');
    }
    s
}

/// Writes the rendered files into `dir`, replacing a previous report there.
pub fn write(dir: &Path, files: &[(String, Vec<u8>)]) -> std::io::Result<()> {
    let tmp = dir.with_extension("partial");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    for (name, bytes) in files {
        std::fs::write(tmp.join(name), bytes)?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::rename(&tmp, dir)
}

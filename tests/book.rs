//! The book is built from real runs, and stays so.
//!
//! Contract: `book/generated/<stem>.txt` holds, for every `scenarios/<stem>.yaml`, what
//! `cargo run --release -- scenarios/<stem>.yaml` prints with the scenario's own seed (the
//! transcript, the checks, the `Report:` line), with mdBook anchor lines added: delete every
//! line holding `ANCHOR:` or `ANCHOR_END:` and what is left is that stdout byte for byte.
//! The anchors let chapters include a part of a run without line numbers:
//!
//! - `all`: the whole stdout;
//! - one per command, named by the slug of the command as the scenario writes it, without
//!   its `$(…)` (`docker network ls` → `docker-network-ls`, at most 64 characters, `-2`,
//!   `-3`… for repeats): the prompt line and what the command printed;
//! - `note-<slug>`: every command from a `note:` step to the next note;
//! - `checks`: the warnings, the checks and the tally.
//!
//! It also holds `reference/docker-cli.md`, the table of docker commands and flags that the
//! simulator's CLI parser knows (`docker::commands::COMMANDS`), for the reference chapter.
//!
//! `generated_outputs_are_fresh` fails when a scenario has no generated file, a generated
//! file has no scenario, or a run prints something else; `SWARMSIM_BLESS=1` rewrites the
//! files instead. `includes_resolve` fails when a chapter includes a file, anchor or line
//! that does not exist (mdBook would print an empty block). `mdbook_builds_and_tests` runs
//! `mdbook build` and `mdbook test`, and fails when mdbook is not installed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use swarmsim::docker::commands::{FlagSpec, COMMANDS};
use swarmsim::scenario::{self, Scenario, StepKind};
use swarmsim::{report, runner};

const GENERATED: &str = "book/generated";
const BOOK_SRC: &str = "book/src";
/// The docker commands and flags the simulator knows, for the reference chapter.
const DOCKER_CLI: &str = "reference/docker-cli.md";
/// The mdbook that CI installs (`.ci/run`).
const MDBOOK_INSTALL: &str = "cargo install mdbook --locked --version 0.4.52";
const REGENERATE: &str = "SWARMSIM_BLESS=1 cargo test --release --test book";
/// Longest anchor slug; longer commands are cut at a word boundary.
const MAX_SLUG: usize = 64;

/// The generated file of every `scenarios/*.yaml`, by name: `NAME.txt` → the scenario.
fn scenarios_by_output() -> BTreeMap<PathBuf, PathBuf> {
    let outputs: BTreeMap<PathBuf, PathBuf> = files_under(Path::new("scenarios"))
        .into_iter()
        .filter(|p| p.parent() == Some(Path::new("scenarios")))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| {
            let stem = p.file_stem().expect("a file name").to_string_lossy();
            (PathBuf::from(format!("{stem}.txt")), p)
        })
        .collect();
    assert!(!outputs.is_empty(), "no scenarios found");
    outputs
}

/// `docker network create -d overlay net1` → `docker-network-create-d-overlay-net1`, cut at
/// the last `-` before `MAX_SLUG` characters. A `$(…)` is left out: `docker exec $(docker ps
/// -q) drill web` → `docker-exec-drill-web`, as what tells such commands apart is their end.
fn slug(text: &str) -> String {
    let words: Vec<String> = without_substitutions(text)
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut s = String::new();
    for w in words {
        if !s.is_empty() && s.len() + 1 + w.len() > MAX_SLUG {
            break;
        }
        if !s.is_empty() {
            s.push('-');
        }
        s.push_str(&w);
    }
    s.truncate(MAX_SLUG);
    if s.is_empty() {
        "step".to_string()
    } else {
        s
    }
}

/// `text` without its `$(…)` parts (nested ones included).
fn without_substitutions(text: &str) -> String {
    let mut kept = String::new();
    let mut depth = 0usize;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek() == Some(&'(') {
            chars.next();
            depth += 1;
        } else if depth > 0 && c == '(' {
            depth += 1;
        } else if depth > 0 && c == ')' {
            depth -= 1;
        } else if depth == 0 {
            kept.push(c);
        }
    }
    kept
}

/// What names the entry that the step at `line` printed: its command as written.
fn entry_name(scenario: &Scenario, line: usize, prompt: &str) -> String {
    let step = scenario.steps.iter().find(|s| s.line == line).map(|s| &s.kind);
    let capture_command = |id: &scenario::CaptureId| {
        let c = &scenario.captures[id.0];
        let command = c.tcpdump.as_ref().map(|t| &t.command);
        command.or(c.ngrep.as_ref().map(|n| &n.command)).cloned()
    };
    match step {
        Some(StepKind::Run { command, .. }) => slug(command),
        Some(StepKind::StartCapture(id)) => {
            slug(&capture_command(id).unwrap_or_else(|| format!("capture {}", prompt)))
        }
        Some(StepKind::StopCapture { id, .. }) => {
            slug(&format!("stop {}", scenario.captures[id.0].name))
        }
        Some(StepKind::Fault(fault)) => slug(&fault.describe(scenario)),
        _ => slug(prompt),
    }
}

/// Numbers repeated names: `ping-c-2-web`, `ping-c-2-web-2`, …
#[derive(Default)]
struct Names(Vec<String>);

impl Names {
    fn unique(&mut self, base: String) -> String {
        let n = self.0.iter().filter(|used| **used == base).count();
        self.0.push(base.clone());
        if n == 0 {
            base
        } else {
            format!("{base}-{}", n + 1)
        }
    }
}

/// The `note:` steps, by line: (line, anchor name).
fn notes(scenario: &Scenario, names: &mut Names) -> Vec<(usize, String)> {
    scenario
        .steps
        .iter()
        .filter_map(|s| match &s.kind {
            StepKind::Note(text) => Some((s.line, format!("note-{}", slug(text)))),
            _ => None,
        })
        .map(|(line, name)| (line, names.unique(name)))
        .collect()
}

/// What the binary prints for the scenario at `path` with its own seed, with the anchors.
fn render(path: &Path) -> String {
    let scenario = scenario::load(path, &runner::command::check)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut outcome =
        runner::run(&scenario, scenario.seed).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let report_line = format!("Report: {}\n", Path::new("reports").join(&scenario.name).display());
    let stdout = report::transcript(&outcome, false) + &report::summary(&outcome) + &report_line;
    let mut names = Names::default();
    let notes = notes(&scenario, &mut names);
    let note_of = |line: usize| notes.iter().rposition(|(at, _)| *at < line);
    let mut out = String::from("ANCHOR: all\n");
    let mut open_note: Option<usize> = None;
    let entries = std::mem::take(&mut outcome.entries);
    for entry in &entries {
        let note = note_of(entry.line);
        if note != open_note {
            if let Some(i) = open_note {
                let _ = writeln!(out, "ANCHOR_END: {}", notes[i].1);
            }
            if let Some(i) = note {
                let _ = writeln!(out, "ANCHOR: {}", notes[i].1);
            }
            open_note = note;
        }
        let name = names.unique(entry_name(&scenario, entry.line, &entry.prompt));
        // The entry alone, rendered by the same code as among the others.
        outcome.entries = vec![entry.clone()];
        let block = report::transcript(&outcome, false);
        let (body, blank) = block.split_at(block.len() - 1);
        let _ = write!(out, "ANCHOR: {name}\n{body}ANCHOR_END: {name}\n{blank}");
    }
    if let Some(i) = open_note {
        let _ = writeln!(out, "ANCHOR_END: {}", notes[i].1);
    }
    outcome.entries = entries;
    let summary = report::summary(&outcome);
    let _ = write!(out, "ANCHOR: checks\n{summary}ANCHOR_END: checks\n{report_line}");
    out += "ANCHOR_END: all\n";
    assert_eq!(without_anchors(&out), stdout, "{}: the anchors changed the text", path.display());
    out
}

/// The stdout the file holds: every anchor line removed.
fn without_anchors(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains("ANCHOR:") && !l.contains("ANCHOR_END:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The first line where `a` and `b` differ, for the failure message.
fn first_difference(a: &str, b: &str) -> String {
    let (a, b) = (without_anchors(a), without_anchors(b));
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let same = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if same == a.len() && same == b.len() {
        return "only the anchors differ".to_string();
    }
    let show = |l: Option<&&str>| l.map_or("(end)".to_string(), |l| format!("{l:?}"));
    format!(
        "line {}: the book has {}, the run prints {}",
        same + 1,
        show(a.get(same)),
        show(b.get(same))
    )
}

/// The docker CLI table of the reference chapter, from the simulator's own command table:
/// usage, description, the flags it models and the real flags it refuses as not simulated.
fn docker_cli_table() -> String {
    let flag = |f: &FlagSpec| {
        let short = f.short.map(|c| format!("-{c}, ")).unwrap_or_default();
        let value = if f.value { " VALUE" } else { "" };
        format!("`{short}--{}{value}`", f.long)
    };
    let mut out = String::from(
        "| Command | What it does | Flags modelled | Real flags refused as not simulated |\n|---|---|---|---|\n",
    );
    for spec in COMMANDS {
        // A `|` inside a cell ends it unless escaped, even in code (GitHub tables).
        let uses: Vec<String> =
            spec.uses.iter().map(|u| format!("`docker {}`", u.replace('|', "\\|"))).collect();
        let flags: Vec<String> = spec.flags.iter().map(flag).collect();
        let refused: Vec<String> = spec
            .unmodelled
            .iter()
            .map(|f| if f.len() == 1 { format!("`-{f}`") } else { format!("`--{f}`") })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            uses.join("<br>"),
            spec.short,
            if flags.is_empty() { "—".to_string() } else { flags.join(" ") },
            if refused.is_empty() { "—".to_string() } else { refused.join(" ") },
        );
    }
    out
}

/// Every generated file: (path under book/generated, contents).
fn generated() -> Vec<(PathBuf, String)> {
    let scenarios = scenarios_by_output();
    let mut all: Vec<(PathBuf, String)> = std::thread::scope(|scope| {
        let runs: Vec<_> = scenarios
            .iter()
            .map(|(output, file)| (output.clone(), scope.spawn(move || render(file))))
            .collect();
        runs.into_iter().map(|(p, h)| (p, h.join().expect("the run finished"))).collect()
    });
    all.push((PathBuf::from(DOCKER_CLI), docker_cli_table()));
    all
}

/// Compares book/generated/ with fresh runs (with `SWARMSIM_BLESS=1`, rewrites it instead),
/// once per test process: the tests that read book/generated/ wait for it, so they never
/// read a file that blessing is rewriting. The problems found, if any.
fn freshness() -> &'static [String] {
    static PROBLEMS: OnceLock<Vec<String>> = OnceLock::new();
    PROBLEMS.get_or_init(|| {
        let bless = std::env::var_os("SWARMSIM_BLESS").is_some_and(|v| v == "1");
        let expected = generated();
        let mut problems = Vec::new();
        for (name, text) in &expected {
            let path = Path::new(GENERATED).join(name);
            match std::fs::read_to_string(&path) {
                Ok(old) if old == *text => {}
                _ if bless => {
                    std::fs::create_dir_all(path.parent().expect("inside book/generated"))
                        .expect("book/generated/ can be created");
                    std::fs::write(&path, text).expect("book/generated/ is writable");
                }
                Ok(old) => problems.push(format!(
                    "{}: stale, {}",
                    path.display(),
                    first_difference(&old, text)
                )),
                Err(_) => problems.push(format!("{}: missing", path.display())),
            }
        }
        for orphan in files_under(Path::new(GENERATED)) {
            let name = orphan.strip_prefix(GENERATED).expect("under book/generated");
            if expected.iter().any(|(n, _)| n == name) {
                continue;
            }
            if bless {
                std::fs::remove_file(&orphan).expect("book/generated/ is writable");
            } else {
                problems.push(format!("{}: no scenarios/*.yaml produces it", orphan.display()));
            }
        }
        problems
    })
}

#[test]
fn generated_outputs_are_fresh() {
    let problems = freshness();
    assert!(
        problems.is_empty(),
        "the book's generated outputs are out of date:\n  {}\nRegenerate them with `{REGENERATE}` and review the diff of book/",
        problems.join("\n  ")
    );
}

/// Every file under `dir`, recursively, sorted.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.expect("readable").path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found.sort();
    found
}

/// Every `{{#include PATH[:SPEC]}}` in the chapters: (chapter, path, spec).
fn includes() -> Vec<(PathBuf, PathBuf, String)> {
    let mut found = Vec::new();
    for chapter in std::fs::read_dir(BOOK_SRC).expect("book/src/ exists") {
        let chapter = chapter.expect("readable").path();
        if chapter.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&chapter).expect("a chapter is UTF-8");
        for piece in text.split("{{#include ").skip(1) {
            let inside = piece.split("}}").next().expect("split yields one piece").trim();
            let (path, spec) = match inside.split_once(':') {
                Some((path, spec)) => (path, spec.to_string()),
                None => (inside, String::new()),
            };
            found.push((chapter.clone(), Path::new(BOOK_SRC).join(path), spec));
        }
    }
    found.sort();
    found
}

/// Why the include cannot show anything, if it cannot: mdBook prints an empty block for an
/// anchor it does not find.
fn include_problem(path: &Path, spec: &str) -> Option<String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Some(format!("{} does not exist", path.display()));
    };
    if spec.is_empty() {
        return None;
    }
    if spec.chars().all(|c| c.is_ascii_digit() || c == ':') {
        let last = spec.split(':').filter_map(|n| n.parse::<usize>().ok()).max().unwrap_or(0);
        let lines = text.lines().count();
        return (last > lines).then(|| format!("{} has {lines} lines, not {last}", path.display()));
    }
    let start = format!("ANCHOR: {spec}");
    let end = format!("ANCHOR_END: {spec}");
    let lines: Vec<&str> = text.lines().collect();
    let Some(from) = lines.iter().position(|l| *l == start) else {
        return Some(format!("{} has no anchor `{spec}`", path.display()));
    };
    let body = lines[from + 1..].iter().take_while(|l| **l != end);
    let shown = body.filter(|l| !l.contains("ANCHOR:") && !l.contains("ANCHOR_END:")).count();
    (shown == 0).then(|| format!("{}: anchor `{spec}` is empty or never ends", path.display()))
}

#[test]
fn includes_resolve() {
    freshness();
    let problems: Vec<String> = includes()
        .iter()
        .filter_map(|(chapter, path, spec)| {
            include_problem(path, spec).map(|p| format!("{}: {p}", chapter.display()))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "chapters include what does not exist (the anchors of book/generated/ are listed at the top of tests/book.rs):\n  {}",
        problems.join("\n  ")
    );
}

/// Runs `mdbook ARGS`; fails with its output, or with how to install it when it is missing.
fn mdbook(args: &[&str]) {
    let output = Command::new("mdbook").args(args).output().unwrap_or_else(|e| {
        panic!("cannot run mdbook ({e}); install it with `{MDBOOK_INSTALL}` (.ci/run does)")
    });
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && !stderr.contains("[ERROR]"),
        "`mdbook {}` failed:\n{}{stderr}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn mdbook_builds_and_tests() {
    freshness();
    let dest = Path::new(env!("CARGO_TARGET_TMPDIR")).join("book");
    mdbook(&["build", "book", "--dest-dir", dest.to_str().expect("a UTF-8 path")]);
    mdbook(&["test", "book"]);
}

//! The `swarmsim` command: replay a scenario, print the transcript and the checks, write
//! the report. Exit code 0 when every check held, 1 when one failed, 2 for bad input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use swarmsim::{report, runner, scenario};

#[derive(Parser)]
#[command(version, about = "A deterministic simulator of Docker networking that replays labs")]
struct Args {
    /// The scenario file (YAML).
    file: PathBuf,
    /// The root seed (overrides the scenario's `seed:`).
    #[arg(long)]
    seed: Option<u64>,
    /// Where to write the report (default: reports/<scenario name>/).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print only the checks, not the transcript.
    #[arg(long)]
    quiet: bool,
    /// After each command, print the kernel operations it caused.
    #[arg(long)]
    explain: bool,
    /// After the transcript, print the hop-by-hop walk of every packet that met an iptables
    /// rule or was dropped.
    #[arg(long)]
    trace: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprint!("{message}");
            ExitCode::from(2)
        }
    }
}

/// Ok(all checks held), or the message for bad input.
fn run(args: &Args) -> Result<bool, String> {
    let scenario =
        scenario::load(&args.file, &runner::command::check).map_err(|e| e.to_string())?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let outcome = runner::run(&scenario, seed).map_err(|e| format!("error: {e}\n"))?;
    let dir = args.out.clone().unwrap_or_else(|| Path::new("reports").join(&scenario.name));
    let files = report::render(&scenario.name, &outcome, args.explain);
    report::write(&dir, &files)
        .map_err(|e| format!("error: cannot write the report to {}: {e}\n", dir.display()))?;
    let mut text = String::new();
    if !args.quiet {
        text += &report::transcript(&outcome, args.explain);
    }
    if args.trace {
        text += &report::walks(&outcome);
    }
    text += &report::summary(&outcome);
    text += &format!("Report: {}\n", dir.display());
    emit(&text)?;
    Ok(outcome.all_held())
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn emit(text: &str) -> Result<(), String> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("error: {e}\n")),
        _ => Ok(()),
    }
}

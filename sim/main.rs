//! The `swarmsim` command: replay a scenario, print the transcript and the checks, write
//! the report. Exit code 0 when every check held, 1 when one failed, 2 for bad input.
//! `swarmsim experiment NAME` runs an experiment instead (exit 0, or 2 for bad input).
//! `swarmsim trace FILE --from SRC --to DST` follows one probe hop by hop (exit 0 when it was
//! delivered and answered, 1 when not, 2 for bad input).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use swarmsim::experiment::{election, lifeguard, networkdb, swim};
use swarmsim::{report, runner, scenario, trace};

/// `swarmsim trace …`: told apart from a scenario file by its first argument.
#[derive(Parser)]
#[command(
    name = "swarmsim trace",
    bin_name = "swarmsim trace",
    about = "Run a scenario, then follow one probe from SRC to DST and print every hop"
)]
struct TraceArgs {
    /// The scenario file (YAML).
    file: PathBuf,
    /// A machine, a container or task (`<service>.<slot>`), or an address: a machine's, or a
    /// free one on an underlay subnet (a temporary client is put there).
    #[arg(long, value_name = "SRC")]
    from: String,
    /// A name or an address, optionally with `:PORT` (a published port, a service port);
    /// without a port, the destination's lowest listening port.
    #[arg(long, value_name = "DST")]
    to: String,
    /// The root seed (overrides the scenario's `seed:`).
    #[arg(long)]
    seed: Option<u64>,
    /// The probe: a TCP connection (SYN, SYN-ACK, ACK), one UDP datagram, or one ICMP echo.
    #[arg(long, default_value = "tcp", value_name = "tcp|udp|icmp")]
    proto: trace::Proto,
    /// Run the scenario only up to this step (not included): a line number of the file, or
    /// words of one of its `note:` steps (e.g. `Cleanup`).
    #[arg(long, value_name = "LINE|NOTE")]
    stop_at: Option<String>,
}

/// `swarmsim experiment …`: told apart from a scenario file by its first argument.
#[derive(Parser)]
#[command(name = "swarmsim experiment", about = "Run an experiment and write its results")]
struct ExperimentArgs {
    #[command(subcommand)]
    which: Experiment,
}

#[derive(clap::Subcommand)]
enum Experiment {
    /// The Raft paper's leader-election figure (Ongaro & Ousterhout 2014, Figure 16).
    Election {
        /// Trials per election-timeout range.
        #[arg(long, default_value_t = 1000)]
        trials: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write election.md and the CDF plots.
        #[arg(long, default_value = "reports/experiments")]
        out: PathBuf,
        /// Turn on CheckQuorum (swarmkit does; the paper's LogCabin has no such lease).
        #[arg(long)]
        check_quorum: bool,
        /// The Raft tick, in µs.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
        tick_us: u64,
    },
    /// The SWIM paper's scalability claims on memberlist: first detection of a crash and
    /// load per member, for 8 to 1000 members.
    Swim {
        /// Trials per cluster size.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
        trials: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Cluster sizes, comma-separated (default 8,16,32,64,128,256,512,1000).
        #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(2..=5000))]
        sizes: Vec<u64>,
        /// Where to write swim.md and the plots.
        #[arg(long, default_value = "reports/experiments")]
        out: PathBuf,
    },
    /// The Lifeguard paper's experiment on memberlist: false dead declarations with slow
    /// members, each Lifeguard mechanism on or off, and the time to detect a real crash.
    Lifeguard {
        /// Trials (seeds) per configuration and number of slow members.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
        trials: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(10..=1000))]
        members: u64,
        /// Numbers of slow members, comma-separated (default 1,2,4,8).
        #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(1..=990))]
        slow: Vec<u64>,
        /// The largest extra lag, in ms, with which a slow member handles what it receives.
        #[arg(long, default_value_t = 3000, value_parser = clap::value_parser!(u64).range(1..=60_000))]
        max_lag_ms: u64,
        /// Simulated minutes per trial before the crash.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
        minutes: u64,
        /// Where to write lifeguard.md and the plots.
        #[arg(long, default_value = "reports/experiments")]
        out: PathBuf,
    },
    /// Experiment 8b: how fast one NetworkDB table entry reaches 30, 1,000 and 10,000 nodes,
    /// with 0 % and 10 % UDP loss, beside serf's convergence model.
    Networkdb {
        /// Trials per size and loss.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
        trials: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Network sizes, comma-separated (default 30,1000,10000).
        #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u64).range(2..=100_000))]
        sizes: Vec<u64>,
        /// Where to write networkdb.md and the plots.
        #[arg(long, default_value = "reports/experiments")]
        out: PathBuf,
    },
}

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
    if std::env::args_os().nth(1).is_some_and(|a| a == "trace") {
        let args = TraceArgs::parse_from(std::env::args_os().skip(1));
        return match run_trace(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(message) => {
                eprint!("{message}");
                ExitCode::from(2)
            }
        };
    }
    if std::env::args_os().nth(1).is_some_and(|a| a == "experiment") {
        let args = ExperimentArgs::parse_from(std::env::args_os().skip(1));
        return match experiment(&args.which) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprint!("{message}");
                ExitCode::from(2)
            }
        };
    }
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

/// Ok(the probe was delivered and answered), or the message for bad input.
fn run_trace(args: &TraceArgs) -> Result<bool, String> {
    let scenario =
        scenario::load(&args.file, &runner::command::check).map_err(|e| e.to_string())?;
    let seed = args.seed.unwrap_or(scenario.seed);
    let request = trace::Request {
        from: args.from.clone(),
        to: args.to.clone(),
        proto: args.proto,
        stop_at: args.stop_at.clone(),
    };
    let traced = trace::trace(&scenario, seed, &request).map_err(|e| format!("error: {e}\n"))?;
    emit(&traced.text)?;
    Ok(traced.verdict.delivered())
}

fn experiment(which: &Experiment) -> Result<(), String> {
    let (trials, seed, out, check_quorum, tick_us) = match which {
        Experiment::Election { trials, seed, out, check_quorum, tick_us } => {
            (trials, seed, out, check_quorum, tick_us)
        }
        Experiment::Swim { trials, seed, sizes, out } => {
            return swim_experiment(*trials, *seed, sizes, out)
        }
        Experiment::Networkdb { trials, seed, sizes, out } => {
            return networkdb_experiment(*trials, *seed, sizes, out)
        }
        Experiment::Lifeguard { trials, seed, members, slow, max_lag_ms, minutes, out } => {
            let mut settings = lifeguard::Settings {
                trials: *trials as usize,
                seed: *seed,
                members: *members as usize,
                max_lag_ms: *max_lag_ms,
                minutes: *minutes,
                ..lifeguard::Settings::default()
            };
            if !slow.is_empty() {
                settings.slow = slow.iter().map(|&k| k as usize).collect();
            }
            return lifeguard_experiment(&settings, out);
        }
    };
    if *trials == 0 {
        return Err("error: --trials must be at least 1\n".to_string());
    }
    let settings = election::Settings {
        trials: *trials,
        seed: *seed,
        check_quorum: *check_quorum,
        tick_us: *tick_us,
        ..election::Settings::default()
    };
    let rows = election::run(&settings);
    let files = election::write(&rows, &settings, out).map_err(|e| format!("error: {e}\n"))?;
    let mut text = election::markdown(&rows);
    for f in files {
        text += &format!("Wrote {}\n", f.display());
    }
    emit(&text)
}

fn swim_experiment(trials: u64, seed: u64, sizes: &[u64], out: &Path) -> Result<(), String> {
    let mut settings =
        swim::Settings { trials: trials as usize, seed, ..swim::Settings::default() };
    if !sizes.is_empty() {
        settings.sizes = sizes.iter().map(|&n| n as usize).collect();
    }
    let rows = swim::run(&settings);
    let files = swim::write(&rows, &settings, out).map_err(|e| format!("error: {e}\n"))?;
    let mut text = swim::markdown(&rows);
    for f in files {
        text += &format!("Wrote {}\n", f.display());
    }
    emit(&text)
}

fn lifeguard_experiment(settings: &lifeguard::Settings, out: &Path) -> Result<(), String> {
    if let Some(k) = settings.slow.iter().find(|&&k| k + 2 > settings.members) {
        return Err(format!(
            "error: --slow {k} leaves fewer than 2 healthy members of {}\n",
            settings.members
        ));
    }
    let rows = lifeguard::run(settings);
    let files = lifeguard::write(&rows, settings, out).map_err(|e| format!("error: {e}\n"))?;
    let mut text = lifeguard::markdown(&rows);
    for f in files {
        text += &format!("Wrote {}\n", f.display());
    }
    emit(&text)
}

fn networkdb_experiment(trials: u64, seed: u64, sizes: &[u64], out: &Path) -> Result<(), String> {
    let mut settings =
        networkdb::Settings { trials: trials as usize, seed, ..networkdb::Settings::default() };
    if !sizes.is_empty() {
        settings.sizes = sizes.iter().map(|&n| n as usize).collect();
    }
    let rows = networkdb::run(&settings);
    let files = networkdb::write(&rows, &settings, out).map_err(|e| format!("error: {e}\n"))?;
    let mut text = networkdb::markdown(&rows);
    for f in files {
        text += &format!("Wrote {}\n", f.display());
    }
    emit(&text)
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn emit(text: &str) -> Result<(), String> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("error: {e}\n")),
        _ => Ok(()),
    }
}

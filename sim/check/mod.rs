//! Checks, computed outside the components: a command's expectations (output, exit code)
//! and reachability/isolation between endpoints, probed with real packets through the
//! model so every verdict has a packet walk behind it.

pub mod peer;
mod reach;
mod uniqueness;

pub(crate) use reach::{matrix, reachability};
pub use reach::{Cell, Matrix};
pub use uniqueness::uniqueness;

use serde::Serialize;

use crate::scenario::CommandExpect;

/// One check and whether it held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    /// The scenario line the check comes from.
    pub line: usize,
    pub what: String,
    pub held: bool,
    /// What was seen, when it did not hold (or how it held, for probes).
    pub detail: String,
}

/// A step's `expect:` against what the command printed and returned.
pub fn command_expectations(
    output: &str,
    exit_code: i32,
    expect: &CommandExpect,
    line: usize,
) -> Vec<CheckResult> {
    let mut checks = vec![CheckResult {
        line,
        what: format!("exit code {}", expect.exit_code),
        held: exit_code == i32::from(expect.exit_code),
        detail: format!("exit code {exit_code}"),
    }];
    for needle in &expect.output_contains {
        checks.push(CheckResult {
            line,
            what: format!("output contains {needle:?}"),
            held: output.contains(needle.as_str()),
            detail: String::new(),
        });
    }
    for needle in &expect.output_lacks {
        checks.push(CheckResult {
            line,
            what: format!("output lacks {needle:?}"),
            held: !output.contains(needle.as_str()),
            detail: String::new(),
        });
    }
    if let Some(exact) = &expect.output_equals {
        checks.push(CheckResult {
            line,
            what: "output equals the expected text".to_string(),
            held: output == exact,
            detail: if output == exact { String::new() } else { format!("got:\n{output}") },
        });
    }
    checks
}

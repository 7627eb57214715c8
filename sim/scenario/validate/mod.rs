//! Stage two: raw structs → typed [`Scenario`]. Each check reports the first problem it
//! finds as a [`ScenarioError`] at the offending value's line and column.
//!
//! Order: the top-level fields, then the underlay networks, hosts and externals
//! (`topology`), then the steps in order (`steps`), which track containers and captures as
//! they come into being.

mod containers;
mod faults;
mod reach;
mod steps;
mod topology;

use std::ops::Range;

use super::error::{CommandError, CommandSite, ErrorKind, ScenarioError};
use super::model::{EngineVersion, Scenario};
use super::positions::{Path, PositionIndex, Region};
use super::raw::{RawLimits, RawScenario};
use super::values;
use crate::engine::{RunLimits, SimTime};

/// The caller's command checker (the docker CLI parser, in the binary).
pub type CommandCheck<'a> = &'a dyn Fn(&CommandSite) -> Result<(), CommandError>;

/// The source being validated, for locating errors.
pub(crate) struct Ctx<'a> {
    pub file: &'a str,
    pub source: &'a str,
    pub index: &'a PositionIndex,
}

impl Ctx<'_> {
    /// An error underlining the value at `path`.
    pub fn at_value(&self, path: &Path, kind: ErrorKind) -> ScenarioError {
        ScenarioError::at(kind, self.file, self.source, self.index.value(path))
    }

    /// An error underlining the key of the entry at `path`.
    pub fn at_key(&self, path: &Path, kind: ErrorKind) -> ScenarioError {
        ScenarioError::at(kind, self.file, self.source, self.index.key(path))
    }

    /// An error underlining `range` (bytes) of the string `value` found at `path`, when the
    /// source spells the value literally on one line; the whole value otherwise.
    pub fn at_part(
        &self,
        path: &Path,
        value: &str,
        range: Range<usize>,
        kind: ErrorKind,
    ) -> ScenarioError {
        let whole = self.index.value(path);
        let region = self.part_region(whole, value, range).unwrap_or(whole);
        ScenarioError::at(kind, self.file, self.source, region)
    }

    fn part_region(&self, whole: Region, value: &str, range: Range<usize>) -> Option<Region> {
        let line = self.source.lines().nth(whole.line.checked_sub(1)?)?;
        let start = line.char_indices().nth(whole.column - 1).map(|(b, _)| b)?;
        let quote = usize::from(line[start..].starts_with(['"', '\'']));
        if !line[start + quote..].starts_with(value) || range.end > value.len() {
            return None;
        }
        let column = whole.column + quote + value.get(..range.start)?.chars().count();
        let len = value.get(range)?.chars().count().max(1);
        Some(Region { line: whole.line, column, len })
    }
}

/// Validates `raw`, calling `check` on every command.
pub(crate) fn validate(
    raw: RawScenario,
    ctx: &Ctx,
    check: CommandCheck,
) -> Result<Scenario, ScenarioError> {
    let root = Path::root();
    if !values::is_slug(&raw.name) {
        let kind = ErrorKind::Invalid { what: "scenario name", text: raw.name.clone() };
        let hint = Some(format!("try `{}`", values::slugify(&raw.name)));
        return Err(ctx
            .at_value(&root.key("name"), kind)
            .expected(values::SCENARIO_NAME_EXPECTED)
            .hint(hint));
    }
    let engine = match &raw.engine {
        None => EngineVersion::DEFAULT,
        Some(text) => EngineVersion::parse(text).ok_or_else(|| {
            let kind = ErrorKind::Invalid { what: "engine version", text: text.clone() };
            ctx.at_value(&root.key("engine"), kind)
                .expected("expected MAJOR.MINOR.PATCH, like `20.10.7`")
        })?,
    };
    let limits = run_limits(raw.limits.as_ref(), ctx)?;
    let topology = topology::build(&raw, ctx)?;
    let (captures, steps) = steps::build(&raw.steps, &topology, ctx, check)?;
    Ok(Scenario {
        name: raw.name,
        description: raw.description,
        seed: raw.seed.unwrap_or(1),
        engine,
        limits,
        networks: topology.networks,
        hosts: topology.hosts,
        externals: topology.externals,
        captures,
        steps,
    })
}

fn run_limits(raw: Option<&RawLimits>, ctx: &Ctx) -> Result<RunLimits, ScenarioError> {
    let mut limits = RunLimits::default();
    let Some(raw) = raw else { return Ok(limits) };
    if let Some(max_events) = raw.max_events {
        limits.max_events = max_events;
    }
    if let Some(text) = &raw.max_time {
        let path = Path::root().key("limits").key("max_time");
        limits.max_time = SimTime(duration(text, &path, ctx)?.as_nanos());
    }
    Ok(limits)
}

/// A duration value, or an error at `path`.
pub(crate) fn duration(
    text: &str,
    path: &Path,
    ctx: &Ctx,
) -> Result<crate::engine::SimDuration, ScenarioError> {
    values::parse_duration(text).ok_or_else(|| {
        let kind = ErrorKind::Invalid { what: "duration", text: text.to_string() };
        let hint =
            text.parse::<f64>().is_ok().then(|| format!("add a unit: `{text}s` or `{text}ms`"));
        ctx.at_value(path, kind).expected(values::DURATION_EXPECTED).hint(hint)
    })
}

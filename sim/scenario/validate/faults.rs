//! Link parameters (on a network, or changed by a `fault: {link: …}` step) and the fault
//! steps: `partition`, `heal`, `link`, `crash`.
//!
//! Checks: loss and bandwidth parse (see `values`); a partition names only hosts and
//! externals, each at most once, in non-empty groups; `link` names a declared network and
//! changes at least one parameter; `crash` names one host or external (whether it is still
//! running is the step walk's concern).

use indexmap::IndexMap;

use super::topology::Topology;
use super::{duration, Ctx};
use crate::engine::SimDuration;
use crate::fabric::{Bandwidth, LinkChange, Loss};
use crate::scenario::error::{ErrorKind, ScenarioError};
use crate::scenario::model::{Fault, Machine, StepKind};
use crate::scenario::positions::Path;
use crate::scenario::raw::{RawFault, RawFaultMap, RawLinkChange, Scalar};
use crate::scenario::suggest::did_you_mean;
use crate::scenario::values::{self, BANDWIDTH_EXPECTED, LOSS_EXPECTED};

const FAULT_EXPECTED: &str = "expected `heal`, `{partition: [[A], [B, C]]}`, `{link: {network: NAME, loss: 1%}}` or `{crash: MACHINE}`";

/// The four link values as written, each optional, under `path`.
pub(crate) struct RawLink<'r> {
    pub latency: Option<&'r str>,
    pub jitter: Option<&'r str>,
    pub loss: Option<&'r Scalar>,
    pub bandwidth: Option<&'r str>,
}

/// The link values given, parsed; absent ones stay `None`.
pub(crate) fn link_change(
    raw: &RawLink,
    path: &Path,
    ctx: &Ctx,
) -> Result<LinkChange, ScenarioError> {
    let time = |text: Option<&str>, key: &str| -> Result<Option<SimDuration>, ScenarioError> {
        text.map(|t| duration(t, &path.key(key), ctx)).transpose()
    };
    Ok(LinkChange {
        latency: time(raw.latency, "latency")?,
        jitter: time(raw.jitter, "jitter")?,
        loss: raw.loss.map(|l| loss(&l.0, &path.key("loss"), ctx)).transpose()?,
        bandwidth: raw.bandwidth.map(|b| bandwidth(b, &path.key("bandwidth"), ctx)).transpose()?,
    })
}

fn loss(text: &str, path: &Path, ctx: &Ctx) -> Result<Loss, ScenarioError> {
    values::parse_loss(text).ok_or_else(|| {
        let kind = ErrorKind::Invalid { what: "loss", text: text.to_string() };
        let hint = text
            .parse::<f64>()
            .is_ok_and(|v| v > 1.0 && v <= 100.0)
            .then(|| format!("a bare number is a fraction of 1: for a percentage write `{text}%`"));
        ctx.at_value(path, kind).expected(LOSS_EXPECTED).hint(hint)
    })
}

fn bandwidth(text: &str, path: &Path, ctx: &Ctx) -> Result<Bandwidth, ScenarioError> {
    values::parse_bandwidth(text).ok_or_else(|| {
        let kind = ErrorKind::Invalid { what: "bandwidth", text: text.to_string() };
        ctx.at_value(path, kind).expected(BANDWIDTH_EXPECTED).hint(values::bandwidth_hint(text))
    })
}

/// A `fault:` step.
pub(crate) fn fault(
    raw: &RawFault,
    path: &Path,
    topo: &Topology,
    ctx: &Ctx,
) -> Result<StepKind, ScenarioError> {
    let fault = match raw {
        RawFault::Word(word) if word == "heal" => Fault::Heal,
        RawFault::Word(word) => {
            let kind = ErrorKind::UnknownValue(word.clone());
            let hint = did_you_mean(word, ["heal"]);
            return Err(ctx.at_value(path, kind).expected(FAULT_EXPECTED).hint(hint));
        }
        RawFault::Map(map) => match (&map.partition, &map.link, &map.crash) {
            (Some(groups), None, None) => {
                Fault::Partition(partition(groups, &path.key("partition"), topo, ctx)?)
            }
            (None, Some(link), None) => self::link(link, &path.key("link"), topo, ctx)?,
            (None, None, Some(name)) => {
                Fault::Crash(fault_member(name, &path.key("crash"), topo, ctx)?)
            }
            (None, None, None) => {
                let kind = ErrorKind::Step("`fault:` does nothing".into());
                return Err(ctx.at_value(path, kind).expected(FAULT_EXPECTED));
            }
            _ => return Err(mixed(map, path, ctx)),
        },
    };
    Ok(StepKind::Fault(fault))
}

/// A fault map with more than one key: reported at the second.
fn mixed(map: &RawFaultMap, path: &Path, ctx: &Ctx) -> ScenarioError {
    let given = [
        ("partition", map.partition.is_some()),
        ("link", map.link.is_some()),
        ("crash", map.crash.is_some()),
    ];
    let mut keys = given.iter().filter(|(_, g)| *g).map(|(k, _)| *k);
    let (first, second) = (keys.next().expect("two keys"), keys.next().expect("two keys"));
    let kind = ErrorKind::Step(format!("fault mixes `{first}` and `{second}`"));
    let hint = Some("a step does one thing: split it into one step per fault".into());
    ctx.at_key(&path.key(second), kind).hint(hint)
}

fn partition(
    groups: &[Vec<String>],
    path: &Path,
    topo: &Topology,
    ctx: &Ctx,
) -> Result<Vec<Vec<Machine>>, ScenarioError> {
    if groups.is_empty() {
        let kind = ErrorKind::Step("`partition` lists no groups".into());
        let expected = "expected groups of machines, like `[[host-a], [host-b, host-c]]`";
        return Err(ctx.at_value(path, kind).expected(expected));
    }
    // Machine name → the group that listed it first, for duplicate messages.
    let mut seen: IndexMap<&str, usize> = IndexMap::new();
    let mut out = Vec::with_capacity(groups.len());
    for (g, group) in groups.iter().enumerate() {
        let group_path = path.index(g);
        if group.is_empty() {
            let kind = ErrorKind::Step("partition group is empty".into());
            let expected = "expected at least one host or external";
            return Err(ctx.at_value(&group_path, kind).expected(expected));
        }
        let mut machines = Vec::with_capacity(group.len());
        for (i, name) in group.iter().enumerate() {
            let at = group_path.index(i);
            if let Some(first) = seen.insert(name, g) {
                let kind = ErrorKind::Step(format!("`{name}` is in two partition groups"));
                let hint = Some(format!("it is already in group {} of this partition", first + 1));
                return Err(ctx.at_value(&at, kind).hint(hint));
            }
            machines.push(fault_member(name, &at, topo, ctx)?);
        }
        out.push(machines);
    }
    Ok(out)
}

/// A machine a partition or crash names: hosts and externals, never routers.
fn fault_member(
    name: &str,
    path: &Path,
    topo: &Topology,
    ctx: &Ctx,
) -> Result<Machine, ScenarioError> {
    topo.machine(name).ok_or_else(|| {
        let kind = ErrorKind::Unknown { what: "machine", name: name.to_string() };
        let router = topo.networks.iter().find(|n| format!("{}-router", n.name) == name);
        let hint = match router {
            Some(_) => Some("routers never fail: name the machines behind them".into()),
            None => did_you_mean(name, topo.machine_names()),
        };
        let expected = "expected a host or external declared under `hosts:`/`externals:`";
        ctx.at_value(path, kind).expected(expected).hint(hint)
    })
}

fn link(
    raw: &RawLinkChange,
    path: &Path,
    topo: &Topology,
    ctx: &Ctx,
) -> Result<Fault, ScenarioError> {
    let net = topo.network(&raw.network, &path.key("network"), ctx)?;
    let values = RawLink {
        latency: raw.latency.as_deref(),
        jitter: raw.jitter.as_deref(),
        loss: raw.loss.as_ref(),
        bandwidth: raw.bandwidth.as_deref(),
    };
    let change = link_change(&values, path, ctx)?;
    if change.is_empty() {
        let kind = ErrorKind::Step("`fault: link` changes nothing".into());
        let expected = "expected at least one of `latency`, `jitter`, `loss`, `bandwidth`";
        return Err(ctx.at_value(path, kind).expected(expected));
    }
    Ok(Fault::Link { net, change })
}

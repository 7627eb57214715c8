//! Parsers for the scalar values of a scenario file: durations, link loss and bandwidth,
//! names, engine versions. Each returns what was expected on failure, for the error's caret
//! line.

use crate::engine::SimDuration;
use crate::fabric::{Bandwidth, Loss};

/// Nanoseconds per unit, longest suffix first so `ms` is not read as `m` + garbage.
const UNITS: [(&str, u64); 7] = [
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

pub const DURATION_EXPECTED: &str =
    "expected a number and a unit (ns, us, ms, s, m, h), like `500ms`, `0.5ms` or `30s`";

/// `500ms`, `0.5ms`, `30s`, `1m`, `1h`, `10us`: exact, in integer nanoseconds.
pub fn parse_duration(text: &str) -> Option<SimDuration> {
    let number_end = text.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = text.split_at(number_end);
    let (_, unit_ns) = UNITS.iter().find(|(name, _)| *name == unit)?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || (number.contains('.') && fraction.is_empty()) {
        return None;
    }
    let whole_ns = whole.parse::<u64>().ok()?.checked_mul(*unit_ns)?;
    let scale = 10u64.checked_pow(u32::try_from(fraction.len()).ok()?)?;
    let fraction_value = if fraction.is_empty() { 0 } else { fraction.parse::<u64>().ok()? };
    let fraction_scaled = fraction_value.checked_mul(*unit_ns)?;
    // A fraction finer than a nanosecond cannot be represented exactly: refuse it.
    if fraction_scaled % scale != 0 {
        return None;
    }
    Some(SimDuration::from_nanos(whole_ns.checked_add(fraction_scaled / scale)?))
}

/// `digits` fixed decimals: `"1.25"` with 3 is 1250. `None` when it has more decimals than
/// that (it could not be exact), is not a plain decimal, or overflows.
fn fixed_point(text: &str, digits: u32) -> Option<u128> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let plain = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty()
        || !plain(whole)
        || !plain(fraction)
        || (text.contains('.') && fraction.is_empty())
    {
        return None;
    }
    if fraction.len() > digits as usize {
        return None;
    }
    let scale = 10u128.pow(digits);
    let fraction_scaled = match fraction {
        "" => 0,
        f => f.parse::<u128>().ok()? * 10u128.pow(digits - f.len() as u32),
    };
    whole.parse::<u128>().ok()?.checked_mul(scale)?.checked_add(fraction_scaled)
}

pub const LOSS_EXPECTED: &str =
    "expected a percentage like `1%` or `0.5%`, or a fraction from 0 to 1 like `0.01`";

/// `30%`, `0.5%` (up to 4 decimals), or a fraction `0.01` (up to 6), at most 100%.
pub fn parse_loss(text: &str) -> Option<Loss> {
    let ppm = match text.strip_suffix('%') {
        Some(percent) => fixed_point(percent.trim_end(), 4)?,
        None => fixed_point(text, 6)?,
    };
    u32::try_from(ppm).ok().filter(|p| *p <= Loss::ALL.0).map(Loss)
}

pub const BANDWIDTH_EXPECTED: &str =
    "expected a rate in tc's units (bit, kbit, mbit, gbit; case-insensitive), like `100mbit` or `1gbit`";

/// tc's rate units in bits per second: SI multiples, as `tc` reads them.
const RATE_UNITS: [(&str, u128); 4] =
    [("kbit", 1_000), ("mbit", 1_000_000), ("gbit", 1_000_000_000), ("bit", 1)];

/// `100mbit`, `1Gbit`, `1.5mbit`, `64kbit`: a whole, non-zero number of bits per second.
pub fn parse_bandwidth(text: &str) -> Option<Bandwidth> {
    let lower = text.to_ascii_lowercase();
    let (unit, scale) = RATE_UNITS.iter().find(|(u, _)| lower.ends_with(u))?;
    let number = lower[..lower.len() - unit.len()].trim_end();
    let nano_bits = fixed_point(number, 9)?.checked_mul(*scale)?;
    if nano_bits % 1_000_000_000 != 0 {
        return None;
    }
    Bandwidth::from_bits_per_sec(u64::try_from(nano_bits / 1_000_000_000).ok()?)
}

/// Why a rate in bytes (`10MBps`, `10mbps`) is refused: tc reads `mbps` as megabytes per
/// second, which most people mean as megabits.
pub fn bandwidth_hint(text: &str) -> Option<String> {
    let lower = text.to_ascii_lowercase();
    let number = lower.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    if lower.ends_with("bps") {
        Some(format!("tc reads `bps` as bytes per second; for megabits write `{number}mbit`"))
    } else if fixed_point(number.trim(), 9).is_some() && number.len() == lower.len() {
        Some(format!("add a unit: `{number}mbit` or `{number}gbit`"))
    } else {
        None
    }
}

pub const SCENARIO_NAME_EXPECTED: &str =
    "expected lowercase letters, digits and dashes only ([a-z0-9-]+): it names the report directory";

/// The scenario name and capture names become file names: `[a-z0-9-]+`.
pub fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What a slug for `text` would look like, for the hint.
pub fn slugify(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' })
        .collect();
    mapped.split('-').filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-")
}

pub const MACHINE_NAME_EXPECTED: &str =
    "expected letters, digits, `.`, `_` and `-` only, like `docker-host` or `www.example.com`";

/// Host, external and network names appear in reachability specs (`a -> b:80/tcp`), so they
/// may not contain spaces, `:`, `/` or `>`.
pub fn is_machine_name(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A Docker engine version, `MAJOR.MINOR.PATCH` (e.g. 20.10.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EngineVersion {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

impl EngineVersion {
    /// The engine of the flagship lab (seeds/000).
    pub const DEFAULT: EngineVersion = EngineVersion { major: 20, minor: 10, patch: 7 };

    pub fn parse(text: &str) -> Option<EngineVersion> {
        let mut parts = text.split('.').map(|p| p.parse::<u16>().ok());
        let version =
            EngineVersion { major: parts.next()??, minor: parts.next()??, patch: parts.next()?? };
        parts.next().is_none().then_some(version)
    }
}

impl std::fmt::Display for EngineVersion {
    /// Since 17.03 Docker versions are YY.MM.patch, with a two-digit month (`19.03.1`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.major >= 17 {
            write!(f, "{}.{:02}.{}", self.major, self.minor, self.patch)
        } else {
            write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_exactly() {
        let ns = |t: &str| parse_duration(t).map(SimDuration::as_nanos);
        assert_eq!(ns("500ms"), Some(500_000_000));
        assert_eq!(ns("0.5ms"), Some(500_000));
        assert_eq!(ns("30s"), Some(30_000_000_000));
        assert_eq!(ns("1m"), Some(60_000_000_000));
        assert_eq!(ns("1h"), Some(3_600_000_000_000));
        assert_eq!(ns("10us"), Some(10_000));
        assert_eq!(ns("1.25s"), Some(1_250_000_000));
    }

    #[test]
    fn bad_durations_are_refused() {
        for bad in
            ["5", "ms", "5 s", "5sec", "-1s", "1.s", ".5s", "0.5ns", "1.2.3s", "99999999999h"]
        {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn loss_is_a_percentage_or_a_fraction() {
        let ppm = |t: &str| parse_loss(t).map(|l| l.0);
        assert_eq!(ppm("1%"), Some(10_000));
        assert_eq!(ppm("30%"), Some(300_000));
        assert_eq!(ppm("0.5%"), Some(5_000));
        assert_eq!(ppm("100%"), Some(1_000_000));
        assert_eq!(ppm("0.01"), Some(10_000));
        assert_eq!(ppm("1"), Some(1_000_000));
        assert_eq!(ppm("0"), Some(0));
        for bad in ["101%", "1.5", "-1%", "%", "0.00001%", "0.0000001", "ten%", "1.%", ".5"] {
            assert_eq!(parse_loss(bad), None, "{bad}");
        }
    }

    #[test]
    fn bandwidth_takes_tc_units() {
        let bits = |t: &str| parse_bandwidth(t).map(|b| b.bits_per_sec());
        assert_eq!(bits("100mbit"), Some(100_000_000));
        assert_eq!(bits("1Gbit"), Some(1_000_000_000));
        assert_eq!(bits("1.5mbit"), Some(1_500_000));
        assert_eq!(bits("64kbit"), Some(64_000));
        assert_eq!(bits("9600bit"), Some(9_600));
        for bad in ["100", "10mbps", "0mbit", "1.5bit", "mbit", "1 gigabit", "-1kbit"] {
            assert_eq!(parse_bandwidth(bad), None, "{bad}");
        }
        assert_eq!(
            bandwidth_hint("10Mbps").as_deref(),
            Some("tc reads `bps` as bytes per second; for megabits write `10mbit`")
        );
        assert_eq!(bandwidth_hint("100").as_deref(), Some("add a unit: `100mbit` or `100gbit`"));
    }

    #[test]
    fn names_and_versions() {
        assert!(is_slug("bridge-networking-2"));
        assert!(!is_slug("Bridge_networking"));
        assert_eq!(slugify("Bridge_Networking lab"), "bridge-networking-lab");
        assert!(is_machine_name("www.dockercon.com"));
        assert!(!is_machine_name("a b"));
        assert_eq!(EngineVersion::parse("20.10.7"), Some(EngineVersion::DEFAULT));
        assert_eq!(EngineVersion::parse("20.10"), None);
        assert_eq!(EngineVersion::DEFAULT.to_string(), "20.10.7");
        assert_eq!(EngineVersion::parse("19.03.1").unwrap().to_string(), "19.03.1");
        assert_eq!(EngineVersion::parse("1.12.6").unwrap().to_string(), "1.12.6");
    }
}

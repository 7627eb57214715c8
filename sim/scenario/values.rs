//! Parsers for the scalar values of a scenario file: durations, names, engine versions.
//! Each returns what was expected on failure, for the error's caret line.

use crate::engine::SimDuration;

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

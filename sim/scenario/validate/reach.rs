//! Reachability specs: `SRC -> DST[:PORT][/tcp|/udp|/icmp]`.
//!
//! Without a port the probe is ICMP echo; with one it is TCP unless `/udp` says otherwise.
//! `/icmp` takes no port and `/tcp`, `/udp` need one.

use std::ops::Range;

use crate::scenario::model::Probe;

/// A spec split into its parts, with the byte ranges of the two names in the spec.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SpecParts<'a> {
    pub src: (&'a str, Range<usize>),
    pub dst: (&'a str, Range<usize>),
    pub probe: Probe,
}

/// Why a spec does not parse: a hint, and the byte range of the offending part.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SpecError {
    pub hint: String,
    pub at: Range<usize>,
}

pub const SPEC_EXPECTED: &str = "expected `SRC -> DST[:PORT][/tcp|/udp|/icmp]`";

pub(crate) fn parse(spec: &str) -> Result<SpecParts<'_>, SpecError> {
    let whole = 0..spec.len();
    let Some(arrow) = spec.find("->") else {
        return Err(SpecError {
            hint: "write an arrow `->` between the two names".into(),
            at: whole,
        });
    };
    let src = trimmed(spec, 0..arrow);
    let right = trimmed(spec, arrow + 2..spec.len());
    let (dst_end, proto) = match spec[right.clone()].rfind('/') {
        Some(slash) => (right.start + slash, Some(right.start + slash + 1..right.end)),
        None => (right.end, None),
    };
    let (dst, port) = match spec[right.start..dst_end].rfind(':') {
        Some(colon) => (right.start..right.start + colon, Some(right.start + colon + 1..dst_end)),
        None => (right.start..dst_end, None),
    };
    for (part, side) in [(&src, "source"), (&dst, "destination")] {
        if part.is_empty()
            || spec[part.clone()].contains(char::is_whitespace)
            || spec[part.clone()].contains("->")
        {
            let at = if part.is_empty() { whole.clone() } else { part.clone() };
            return Err(SpecError { hint: format!("the {side} must be one name"), at });
        }
    }
    let probe = probe(spec, port, proto)?;
    Ok(SpecParts { src: (&spec[src.clone()], src), dst: (&spec[dst.clone()], dst), probe })
}

fn probe(
    spec: &str,
    port: Option<Range<usize>>,
    proto: Option<Range<usize>>,
) -> Result<Probe, SpecError> {
    let port = match port {
        None => None,
        Some(at) => match spec[at.clone()].parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => return Err(SpecError { hint: "a port is a number from 1 to 65535".into(), at }),
        },
    };
    let proto_text = proto.as_ref().map(|at| &spec[at.clone()]);
    match (proto_text, port) {
        (None, None) | (Some("icmp"), None) => Ok(Probe::Icmp),
        (None, Some(p)) | (Some("tcp"), Some(p)) => Ok(Probe::Tcp(p)),
        (Some("udp"), Some(p)) => Ok(Probe::Udp(p)),
        (Some("icmp"), Some(_)) => Err(SpecError {
            hint: "ICMP has no ports: drop the `:PORT` or use `/tcp`".into(),
            at: 0..spec.len(),
        }),
        (Some(p @ ("tcp" | "udp")), None) => Err(SpecError {
            hint: format!("`/{p}` needs a port, like `web:80/{p}`"),
            at: 0..spec.len(),
        }),
        (Some(other), _) => {
            let at = proto.unwrap_or(0..spec.len());
            let near = crate::scenario::suggest::nearest(other, ["tcp", "udp", "icmp"]);
            let hint = match near {
                Some(n) => format!("unknown protocol `{other}`: did you mean `{n}`?"),
                None => format!("unknown protocol `{other}`: use `tcp`, `udp` or `icmp`"),
            };
            Err(SpecError { hint, at })
        }
    }
}

/// `range` without its leading and trailing whitespace.
fn trimmed(text: &str, range: Range<usize>) -> Range<usize> {
    let part = &text[range.clone()];
    let start = range.start + (part.len() - part.trim_start().len());
    start..start + part.trim().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_default_by_port() {
        let p = |s| parse(s).map(|parts| parts.probe);
        assert_eq!(p("a -> b"), Ok(Probe::Icmp));
        assert_eq!(p("a -> b/icmp"), Ok(Probe::Icmp));
        assert_eq!(p("a -> b:8080"), Ok(Probe::Tcp(8080)));
        assert_eq!(p("a->b:53/udp"), Ok(Probe::Udp(53)));
        let parts = parse("client -> www.dockercon.com:80/tcp").unwrap();
        assert_eq!(parts.src, ("client", 0..6));
        assert_eq!(parts.dst, ("www.dockercon.com", 10..27));
    }

    #[test]
    fn malformed_specs_say_why() {
        let hint = |s| parse(s).unwrap_err().hint;
        assert_eq!(hint("a to b"), "write an arrow `->` between the two names");
        assert_eq!(hint(" -> b"), "the source must be one name");
        assert_eq!(hint("a -> b c"), "the destination must be one name");
        assert_eq!(hint("a -> b:http"), "a port is a number from 1 to 65535");
        assert_eq!(hint("a -> b:0"), "a port is a number from 1 to 65535");
        assert_eq!(hint("a -> b:80/icmp"), "ICMP has no ports: drop the `:PORT` or use `/tcp`");
        assert_eq!(hint("a -> b/tcp"), "`/tcp` needs a port, like `web:80/tcp`");
        assert_eq!(hint("a -> b:80/tpc"), "unknown protocol `tpc`: did you mean `tcp`?");
        assert_eq!(parse("a -> b:80/tpc").unwrap_err().at, 10..13);
    }
}

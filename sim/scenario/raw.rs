//! The scenario file as written: serde structs that mirror the YAML one to one.
//!
//! Every struct denies unknown keys, so a misspelt key is an error with a location rather
//! than a silently ignored line. Values whose syntax we check ourselves (addresses,
//! durations, names) stay strings here, so their errors can say what was expected.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScenario {
    pub name: String,
    pub description: Option<String>,
    pub seed: Option<u64>,
    pub engine: Option<String>,
    pub limits: Option<RawLimits>,
    pub underlay: RawUnderlay,
    #[serde(default)]
    pub hosts: Vec<RawHost>,
    #[serde(default)]
    pub externals: Vec<RawExternal>,
    #[serde(default)]
    pub steps: Vec<RawStep>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub max_events: Option<u64>,
    pub max_time: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUnderlay {
    pub networks: Vec<RawNetwork>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNetwork {
    pub name: String,
    pub subnet: String,
    pub gateway: Option<String>,
    pub dns: Option<String>,
    pub latency: Option<String>,
    pub jitter: Option<String>,
    pub loss: Option<Scalar>,
    pub bandwidth: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHost {
    pub name: String,
    pub ip: String,
    pub network: Option<String>,
    pub os: Option<RawOs>,
}

/// A Docker host's platform. Spelled here once so serde's "unknown variant" error lists the
/// valid words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawOs {
    Linux,
    Windows,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExternal {
    pub name: String,
    pub ip: String,
    pub network: Option<String>,
    pub latency: Option<String>,
    pub hops: Option<u8>,
    pub serves: Option<Vec<RawService>>,
}

/// What an external machine answers. Spelled here once so serde's "unknown variant" error
/// lists the valid words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RawService {
    Ping,
    Http,
    Https,
    Dns,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    pub on: Option<String>,
    #[serde(rename = "in")]
    pub in_container: Option<String>,
    pub run: Option<String>,
    pub expect: Option<RawExpect>,
    pub wait: Option<String>,
    pub capture: Option<RawCapture>,
    pub stop_capture: Option<String>,
    pub note: Option<String>,
    pub fault: Option<RawFault>,
}

/// `fault: heal`, or a map saying which fault.
#[derive(Debug)]
pub enum RawFault {
    Word(String),
    Map(RawFaultMap),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFaultMap {
    pub partition: Option<Vec<Vec<String>>>,
    pub link: Option<RawLinkChange>,
    pub crash: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLinkChange {
    pub network: String,
    pub latency: Option<String>,
    pub jitter: Option<String>,
    pub loss: Option<Scalar>,
    pub bandwidth: Option<String>,
}

impl<'de> Deserialize<'de> for RawFault {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawFaultVisitor)
    }
}

struct RawFaultVisitor;

impl<'de> Visitor<'de> for RawFaultVisitor {
    type Value = RawFault;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("`heal`, or a map with `partition`, `link` or `crash`")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawFault, E> {
        Ok(RawFault::Word(v.to_string()))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<RawFault, A::Error> {
        RawFaultMap::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawFault::Map)
    }
}

/// A scalar kept as its text, whether YAML typed it as a string or a number (`loss: 0.01`
/// and `loss: 1%` are both fine).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a number or a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar(v.to_string()))
    }
}

/// Both kinds of expectation share one struct so that a misspelt key gets a hint from
/// all of them; validation checks which ones fit the step.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExpect {
    pub output_contains: Option<OneOrMany>,
    pub output_lacks: Option<OneOrMany>,
    pub output_equals: Option<String>,
    pub exit_code: Option<u8>,
    pub reachable: Option<Vec<String>>,
    pub isolated: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapture {
    pub on: String,
    pub iface: Option<String>,
    pub filter: Option<String>,
    /// The lab's command line instead of `iface`/`filter`: `tcpdump -ni eth0 port 4789`.
    pub run: Option<String>,
    pub name: String,
}

/// A string or a list of strings (`output_contains`, `output_lacks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOrMany(pub Vec<String>);

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OneOrManyVisitor)
    }
}

struct OneOrManyVisitor;

impl<'de> Visitor<'de> for OneOrManyVisitor {
    type Value = OneOrMany;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string or a list of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<OneOrMany, E> {
        Ok(OneOrMany(vec![v.to_string()]))
    }

    /// `output_contains: 0` means the text "0", not a type error.
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<OneOrMany, E> {
        Ok(OneOrMany(vec![v.to_string()]))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<OneOrMany, E> {
        Ok(OneOrMany(vec![v.to_string()]))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OneOrMany, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(OneOrMany(items))
    }
}

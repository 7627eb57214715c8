//! PLACEHOLDER until the netfilter helper lands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConntrackEntry {}

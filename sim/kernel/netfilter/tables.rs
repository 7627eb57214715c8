//! PLACEHOLDER until the netfilter helper lands: accepts everything.

use super::*;

#[derive(Debug, Clone, Default)]
pub struct Netfilter {}

impl Netfilter {
    pub fn new() -> Self {
        Netfilter {}
    }
    pub fn run_command(&mut self, _args: &[String]) -> Result<String, IptablesError> {
        Ok(String::new())
    }
    pub fn hook(
        &mut self,
        _now: SimTime,
        _hook: Hook,
        _pkt: &mut PacketMeta,
        _ctx: &HookCtx,
    ) -> HookOutcome {
        HookOutcome { accepted: true, ct_state: CtState::New, hits: vec![], nat: None }
    }
    pub fn save(&self) -> String {
        String::new()
    }
    pub fn conntrack_entries(&self) -> Vec<ConntrackEntry> {
        vec![]
    }
}

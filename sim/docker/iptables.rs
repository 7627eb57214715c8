//! The iptables calls libnetwork makes, with the existence checks it makes first.
//!
//! libnetwork never flushes and rebuilds: it asks `iptables -C` whether a rule exists and only
//! then inserts, appends or deletes it (`iptables/iptables.go`: `ProgramRule`, `NewChain`,
//! `AddReturnRule`, `EnsureJumpRule`). To emit the same mutating commands in the same order,
//! this model keeps the set of chains and rules Docker itself created in one namespace and
//! answers those checks from it. Only the mutating commands become `KernelOp::Iptables`.
//!
//! Docker prefixes every call with `--wait` (the xtables lock); the simulator has no lock
//! contention, so the ops leave it out.

use std::collections::BTreeSet;

use crate::kernel::{KernelOp, NsRef};

/// `-A`, `-I` or `-D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Append,
    Insert,
    Delete,
}

impl Action {
    fn flag(self) -> &'static str {
        match self {
            Action::Append => "-A",
            Action::Insert => "-I",
            Action::Delete => "-D",
        }
    }
}

/// How a call names its table: libnetwork passes `-t filter` in some calls and nothing
/// (the default table) in others; the argv keeps that difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Nat,
    Filter,
    /// The filter table, without `-t filter` on the command line.
    DefaultFilter,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Nat => "nat",
            Table::Filter | Table::DefaultFilter => "filter",
        }
    }
    fn prefix(self) -> Vec<String> {
        match self {
            Table::DefaultFilter => Vec::new(),
            t => vec!["-t".into(), t.name().into()],
        }
    }
}

type RuleKey = (String, String, Vec<String>);

/// The chains and rules Docker created in one network namespace.
#[derive(Debug, Clone)]
pub(crate) struct Firewall {
    ns: NsRef,
    chains: BTreeSet<(String, String)>,
    rules: BTreeSet<RuleKey>,
    /// Whether `bridge-nf-call-iptables` has been switched on.
    bridge_nf_on: bool,
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

impl Firewall {
    /// Bridged IPv4 must traverse iptables (br_netfilter): switched on once, by the module
    /// load at driver start or by `setupBridgeNetFiltering`, whichever comes first.
    pub(crate) fn enable_bridge_netfilter(&mut self, out: &mut Vec<KernelOp>) {
        if !self.bridge_nf_on {
            self.bridge_nf_on = true;
            out.push(KernelOp::Sysctl {
                ns: self.ns.clone(),
                key: "net.bridge.bridge-nf-call-iptables".into(),
                value: "1".into(),
            });
        }
    }

    pub(crate) fn new(ns: NsRef) -> Self {
        Firewall { ns, chains: BTreeSet::new(), rules: BTreeSet::new(), bridge_nf_on: false }
    }

    fn key(table: Table, chain: &str, args: &[String]) -> RuleKey {
        (table.name().to_string(), chain.to_string(), args.to_vec())
    }

    /// `iptables -C`: does this exact rule exist?
    pub(crate) fn exists(&self, table: Table, chain: &str, args: &[&str]) -> bool {
        self.rules.contains(&Self::key(table, chain, &strings(args)))
    }

    fn emit(&self, out: &mut Vec<KernelOp>, args: Vec<String>) {
        out.push(KernelOp::Iptables { ns: self.ns.clone(), args });
    }

    /// One unconditional rule command (libnetwork's `Raw`), recorded in the model.
    pub(crate) fn raw(
        &mut self,
        out: &mut Vec<KernelOp>,
        table: Table,
        action: Action,
        chain: &str,
        args: &[&str],
    ) {
        let args = strings(args);
        let key = Self::key(table, chain, &args);
        if action == Action::Delete {
            self.rules.remove(&key);
        } else {
            self.rules.insert(key);
        }
        let mut argv = table.prefix();
        argv.push(action.flag().into());
        argv.push(chain.into());
        argv.extend(args);
        self.emit(out, argv);
    }

    /// `ProgramRule`/`programChainRule`: add only if absent, delete only if present.
    pub(crate) fn program(
        &mut self,
        out: &mut Vec<KernelOp>,
        table: Table,
        action: Action,
        chain: &str,
        args: &[&str],
    ) {
        if self.exists(table, chain, args) != (action == Action::Delete) {
            return;
        }
        self.raw(out, table, action, chain, args);
    }

    /// `NewChain`: `-N` unless the chain is already there.
    pub(crate) fn new_chain(&mut self, out: &mut Vec<KernelOp>, table: Table, name: &str) {
        if self.chains.insert((table.name().to_string(), name.to_string())) {
            let mut argv = table.prefix();
            argv.extend(["-N".into(), name.into()]);
            self.emit(out, argv);
        }
    }

    /// `AddReturnRule`: a final `-j RETURN` in a filter chain.
    pub(crate) fn add_return_rule(&mut self, out: &mut Vec<KernelOp>, chain: &str) {
        self.program(out, Table::DefaultFilter, Action::Append, chain, &["-j", "RETURN"]);
    }

    /// `EnsureJumpRule`: delete the jump if present, then insert it at the top.
    pub(crate) fn ensure_jump_rule(&mut self, out: &mut Vec<KernelOp>, from: &str, to: &str) {
        if self.exists(Table::DefaultFilter, from, &["-j", to]) {
            self.raw(out, Table::DefaultFilter, Action::Delete, from, &["-j", to]);
        }
        self.raw(out, Table::DefaultFilter, Action::Insert, from, &["-j", to]);
    }

    /// `SetDefaultPolicy`: `-t filter -P CHAIN POLICY`.
    pub(crate) fn set_policy(&mut self, out: &mut Vec<KernelOp>, chain: &str, policy: &str) {
        let argv = strings(&["-t", "filter", "-P", chain, policy]);
        self.emit(out, argv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(ops: &[KernelOp]) -> Vec<String> {
        ops.iter().map(|o| o.to_string()).collect()
    }

    #[test]
    fn ensure_jump_rule_moves_an_existing_jump_to_the_top() {
        let mut fw = Firewall::new(NsRef::Root);
        let mut ops = Vec::new();
        fw.ensure_jump_rule(&mut ops, "FORWARD", "DOCKER-USER");
        fw.ensure_jump_rule(&mut ops, "FORWARD", "DOCKER-USER");
        assert_eq!(
            render(&ops),
            [
                "iptables -I FORWARD -j DOCKER-USER",
                "iptables -D FORWARD -j DOCKER-USER",
                "iptables -I FORWARD -j DOCKER-USER",
            ]
        );
    }

    #[test]
    fn program_is_idempotent_like_iptables_check() {
        let mut fw = Firewall::new(NsRef::Root);
        let mut ops = Vec::new();
        let args = ["-o", "docker0", "-j", "DROP"];
        fw.program(&mut ops, Table::Filter, Action::Insert, "DOCKER-ISOLATION-STAGE-2", &args);
        fw.program(&mut ops, Table::Filter, Action::Insert, "DOCKER-ISOLATION-STAGE-2", &args);
        fw.new_chain(&mut ops, Table::Nat, "DOCKER");
        fw.new_chain(&mut ops, Table::Nat, "DOCKER");
        fw.program(&mut ops, Table::Filter, Action::Delete, "DOCKER-ISOLATION-STAGE-2", &args);
        fw.program(&mut ops, Table::Filter, Action::Delete, "DOCKER-ISOLATION-STAGE-2", &args);
        assert_eq!(
            render(&ops),
            [
                "iptables -t filter -I DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP",
                "iptables -t nat -N DOCKER",
                "iptables -t filter -D DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP",
            ]
        );
    }
}

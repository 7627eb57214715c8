//! The tables of one namespace and the iptables commands that change and show them.
//!
//! Layout follows the legacy (x_tables) kernel and libiptc:
//! - a table's built-in chains come first in hook order, user chains follow sorted by name
//!   (libiptc keeps them sorted), which is the order `-S`, `-L` and `iptables-save` print;
//! - a table exists in a namespace only once something used it (the kernel instantiates
//!   x_tables per namespace on first use); `iptables-save` prints only those tables, the
//!   most recently instantiated first, because the kernel adds each table at the head of
//!   the list `/proc/net/ip_tables_names` is read from. A fresh namespace saves to nothing.
//!   Packets do not traverse a table that does not exist yet (its policy counters stay 0);
//! - a change is committed like `iptc_commit`: the new table is checked the way the kernel's
//!   `translate_table` does (each NAT target only reachable from hooks it supports, `-m tcp`
//!   only with `-p tcp`, no jump to a built-in chain) and refused whole with "Invalid
//!   argument" otherwise.

use super::conntrack::{self, Conntrack, ConntrackEntry};
use super::parse::{self, kernel_error, param_error, Command, Invocation, RuleRef};
use super::render;
use super::rule::*;
use super::*;

/// A chain's policy (built-in chains only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    Accept,
    Drop,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::Accept => "ACCEPT",
            Policy::Drop => "DROP",
        }
    }
}

/// A rule with its counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleEntry {
    pub rule: Rule,
    pub counters: Counters,
}

/// A chain; `policy` is `Some` exactly for built-in chains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chain {
    pub name: String,
    pub policy: Option<Policy>,
    pub policy_counters: Counters,
    pub rules: Vec<RuleEntry>,
}

/// One table: its chains in print order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableState {
    pub table: Table,
    pub chains: Vec<Chain>,
}

/// The built-in chains of each table, in hook order.
pub(crate) fn builtin_chains(table: Table) -> &'static [(&'static str, Hook)] {
    match table {
        Table::Filter => {
            &[("INPUT", Hook::Input), ("FORWARD", Hook::Forward), ("OUTPUT", Hook::Output)]
        }
        Table::Nat => &[
            ("PREROUTING", Hook::Prerouting),
            ("INPUT", Hook::Input),
            ("OUTPUT", Hook::Output),
            ("POSTROUTING", Hook::Postrouting),
        ],
        Table::Mangle => &[
            ("PREROUTING", Hook::Prerouting),
            ("INPUT", Hook::Input),
            ("FORWARD", Hook::Forward),
            ("OUTPUT", Hook::Output),
            ("POSTROUTING", Hook::Postrouting),
        ],
    }
}

/// The longest chain name iptables accepts is 28 characters (XT_EXTENSION_MAXNAMELEN - 1).
const CHAIN_NAME_MAX: usize = 28;

/// Names `-N` refuses because `-j NAME` would mean the target.
const TARGET_NAMES: [&str; 9] =
    ["ACCEPT", "DROP", "RETURN", "QUEUE", "DNAT", "SNAT", "MASQUERADE", "REDIRECT", "MARK"];

impl TableState {
    pub fn new(table: Table) -> TableState {
        let chains = builtin_chains(table)
            .iter()
            .map(|(name, _)| Chain {
                name: name.to_string(),
                policy: Some(Policy::Accept),
                policy_counters: Counters::default(),
                rules: Vec::new(),
            })
            .collect();
        TableState { table, chains }
    }

    pub fn chain_index(&self, name: &str) -> Option<usize> {
        self.chains.iter().position(|c| c.name == name)
    }

    fn chain_mut(&mut self, name: &str) -> Result<&mut Chain, IptablesError> {
        let i = self.chain_index(name).ok_or_else(no_such_chain)?;
        Ok(&mut self.chains[i])
    }

    /// How many rules jump to `name` (the "N references" of `-L`).
    pub fn references(&self, name: &str) -> usize {
        let jumps = |e: &&RuleEntry| matches!(&e.rule.target, Target::Jump(t) if t == name);
        self.chains.iter().map(|c| c.rules.iter().filter(jumps).count()).sum()
    }

    fn insert_user_chain(&mut self, name: &str) {
        let builtins = builtin_chains(self.table).len();
        let at = self.chains[builtins..]
            .iter()
            .position(|c| c.name.as_str() > name)
            .map_or(self.chains.len(), |i| builtins + i);
        let chain = Chain {
            name: name.to_string(),
            policy: None,
            policy_counters: Counters::default(),
            rules: Vec::new(),
        };
        self.chains.insert(at, chain);
    }
}

fn no_such_chain() -> IptablesError {
    kernel_error("No chain/target/match by that name")
}

/// Netfilter state of one network namespace.
#[derive(Debug, Clone)]
pub struct Netfilter {
    pub(crate) tables: Vec<TableState>,
    /// Tables instantiated in this namespace, in order of first use.
    pub(crate) used: Vec<Table>,
    pub(crate) conntrack: Conntrack,
    /// Whether conntrack runs in this namespace (see `tracking_enabled`).
    pub(crate) tracking: bool,
}

impl Default for Netfilter {
    fn default() -> Self {
        Self::new()
    }
}

impl Netfilter {
    /// filter, nat and mangle with their built-in chains and ACCEPT policies.
    pub fn new() -> Self {
        let tables = [Table::Filter, Table::Nat, Table::Mangle].map(TableState::new).to_vec();
        Netfilter { tables, used: Vec::new(), conntrack: Conntrack::default(), tracking: false }
    }

    pub(crate) fn table(&self, table: Table) -> &TableState {
        self.tables.iter().find(|t| t.table == table).expect("all three tables exist")
    }

    pub(crate) fn table_mut(&mut self, table: Table) -> &mut TableState {
        self.tables.iter_mut().find(|t| t.table == table).expect("all three tables exist")
    }

    pub(crate) fn is_used(&self, table: Table) -> bool {
        self.used.contains(&table)
    }

    /// Executes `iptables ARGS` (args after the program name). Ok(stdout) or the iptables
    /// error (its stderr text and exit status).
    pub fn run_command(&mut self, args: &[String]) -> Result<String, IptablesError> {
        let Invocation { table, command } = parse::parse(args)?;
        if !self.is_used(table) {
            self.used.push(table);
        }
        let mut next = self.table(table).clone();
        let out = execute(&mut next, command)?;
        if next != *self.table(table) {
            validate(&next)?;
            *self.table_mut(table) = next;
        }
        self.tracking = self.tracking_enabled();
        Ok(out)
    }

    /// `iptables-save` output, without the `# Generated by`/`# Completed on` comment lines
    /// (they carry the wall-clock date, which the simulator does not have).
    pub fn save(&self) -> String {
        self.used.iter().rev().map(|t| render::save_table(self.table(*t))).collect()
    }

    /// `iptables-save` output with its comment lines, `date` as iptables-save prints it
    /// (`Sat Nov 21 12:56:08 2026`); the caller supplies it because nothing here has a clock.
    pub fn save_dated(&self, date: &str) -> String {
        let v = parse::VERSION;
        self.used
            .iter()
            .rev()
            .map(|t| {
                format!(
                    "# Generated by iptables-save v{v} on {date}\n{}# Completed on {date}\n",
                    render::save_table(self.table(*t))
                )
            })
            .collect()
    }

    /// The confirmed conntrack entries, oldest first.
    pub fn conntrack_entries(&self) -> Vec<ConntrackEntry> {
        self.conntrack.confirmed().cloned().collect()
    }

    /// `conntrack -L` as printed on stdout at `now`.
    pub fn conntrack_list(&self, now: SimTime) -> String {
        conntrack::list(&self.conntrack, now)
    }

    /// The `conntrack -L` line of the entry a packet belongs to (its `conntrack_id`), for
    /// packet walks.
    pub fn conntrack_line(&self, conntrack_id: u64, now: SimTime) -> Option<String> {
        let entry = self.conntrack.get(conntrack_id >> 3)?;
        Some(conntrack::entry_line(entry, now))
    }

    /// The line `conntrack -L` prints on stderr after the entries.
    pub fn conntrack_summary(&self, now: SimTime) -> String {
        conntrack::summary(&self.conntrack, now)
    }

    /// Whether the namespace tracks connections: Linux registers conntrack in a namespace
    /// only when something needs it, here the nat table or a rule matching on ct state.
    fn tracking_enabled(&self) -> bool {
        self.is_used(Table::Nat)
            || self.tables.iter().flat_map(|t| &t.chains).flat_map(|c| &c.rules).any(|e| {
                e.rule.matches.iter().any(|m| matches!(m, Match::Conntrack(_) | Match::State(_)))
            })
    }
}

fn execute(t: &mut TableState, command: Command) -> Result<String, IptablesError> {
    match command {
        Command::Append(chain, rule) => add_rule(t, &chain, None, rule),
        Command::Insert(chain, n, rule) => add_rule(t, &chain, Some(n), rule),
        Command::Replace(chain, n, rule) => replace_rule(t, &chain, n, rule),
        Command::Delete(chain, what) => delete_rule(t, &chain, what),
        Command::Check(chain, rule) => {
            let c = t.chain_mut(&chain)?;
            c.rules.iter().find(|e| e.rule == rule).map(|_| String::new()).ok_or_else(bad_rule)
        }
        Command::NewChain(name) => new_chain(t, &name),
        Command::DeleteChain(name) => delete_chains(t, name),
        Command::Flush(name) => for_chains(t, name, |c| c.rules.clear()),
        Command::Zero(name) => for_chains(t, name, |c| {
            c.policy_counters = Counters::default();
            c.rules.iter_mut().for_each(|e| e.counters = Counters::default());
        }),
        Command::Policy(chain, policy) => set_policy(t, &chain, &policy),
        Command::Rename(old, new) => rename_chain(t, &old, &new),
        Command::ListRules(chain, num) => render::list_rules(t, chain.as_deref(), num),
        Command::List(chain, num, opts) => render::list(t, chain.as_deref(), num, opts),
    }
}

fn bad_rule() -> IptablesError {
    kernel_error("Bad rule (does a matching rule exist in that chain?)")
}

/// `-j NAME` for a name that is neither a target nor a chain of this table.
fn check_jump(t: &TableState, rule: &Rule) -> Result<(), IptablesError> {
    match &rule.target {
        Target::Jump(name) if t.chain_index(name).is_none() => {
            Err(param_error(&format!("Couldn't load target `{name}':No such file or directory\n")))
        }
        _ => Ok(()),
    }
}

fn add_rule(
    t: &mut TableState,
    chain: &str,
    at: Option<usize>,
    rule: Rule,
) -> Result<String, IptablesError> {
    check_jump(t, &rule)?;
    let c = t.chain_mut(chain)?;
    let index = match at {
        None => c.rules.len(),
        Some(n) if n <= c.rules.len() + 1 => n - 1,
        Some(_) => return Err(kernel_error("Index of insertion too big")),
    };
    c.rules.insert(index, RuleEntry { rule, counters: Counters::default() });
    Ok(String::new())
}

fn replace_rule(
    t: &mut TableState,
    chain: &str,
    n: usize,
    rule: Rule,
) -> Result<String, IptablesError> {
    check_jump(t, &rule)?;
    let c = t.chain_mut(chain)?;
    let entry = c
        .rules
        .get_mut(n.wrapping_sub(1))
        .ok_or_else(|| kernel_error("Index of replacement too big"))?;
    *entry = RuleEntry { rule, counters: Counters::default() };
    Ok(String::new())
}

fn delete_rule(t: &mut TableState, chain: &str, what: RuleRef) -> Result<String, IptablesError> {
    if let RuleRef::Spec(rule) = &what {
        check_jump(t, rule)?;
    }
    let c = t.chain_mut(chain)?;
    let index = match what {
        RuleRef::Num(n) if n <= c.rules.len() => n - 1,
        RuleRef::Num(_) => return Err(kernel_error("Index of deletion too big")),
        RuleRef::Spec(rule) => c.rules.iter().position(|e| e.rule == rule).ok_or_else(bad_rule)?,
    };
    c.rules.remove(index);
    Ok(String::new())
}

fn check_chain_name(name: &str) -> Result<(), IptablesError> {
    if name.len() > CHAIN_NAME_MAX {
        return Err(param_error(&format!(
            "chain name `{name}' too long (must be under {} chars)",
            CHAIN_NAME_MAX + 1
        )));
    }
    if let Some(c) = name.chars().next().filter(|c| *c == '-' || *c == '!') {
        return Err(param_error(&format!("chain name not allowed to start with `{c}'\n")));
    }
    if TARGET_NAMES.contains(&name) {
        return Err(param_error("chain name may not clash with target name"));
    }
    if name.chars().any(char::is_whitespace) {
        return Err(param_error(&format!("Invalid chain name `{name}'")));
    }
    Ok(())
}

fn new_chain(t: &mut TableState, name: &str) -> Result<String, IptablesError> {
    check_chain_name(name)?;
    if t.chain_index(name).is_some() {
        return Err(kernel_error("Chain already exists"));
    }
    t.insert_user_chain(name);
    Ok(String::new())
}

/// `-X CHAIN`, or `-X` alone: every user chain (which fails on the first one in use).
fn delete_chains(t: &mut TableState, name: Option<String>) -> Result<String, IptablesError> {
    let names: Vec<String> = match name {
        Some(n) => vec![n],
        None => t.chains.iter().filter(|c| c.policy.is_none()).map(|c| c.name.clone()).collect(),
    };
    for name in names {
        let i = t.chain_index(&name).ok_or_else(no_such_chain)?;
        if t.chains[i].policy.is_some() {
            return Err(parse::invalid_argument());
        }
        if t.references(&name) > 0 {
            return Err(kernel_error("Too many links"));
        }
        if !t.chains[i].rules.is_empty() {
            return Err(kernel_error("Directory not empty"));
        }
        t.chains.remove(i);
    }
    Ok(String::new())
}

fn for_chains(
    t: &mut TableState,
    name: Option<String>,
    f: impl Fn(&mut Chain),
) -> Result<String, IptablesError> {
    match name {
        Some(n) => f(t.chain_mut(&n)?),
        None => t.chains.iter_mut().for_each(f),
    }
    Ok(String::new())
}

fn set_policy(t: &mut TableState, chain: &str, policy: &str) -> Result<String, IptablesError> {
    let policy = match policy {
        "ACCEPT" => Policy::Accept,
        "DROP" => Policy::Drop,
        _ => return Err(kernel_error("Bad policy name. Run `dmesg' for more information")),
    };
    let c = t.chain_mut(chain)?;
    let slot = c.policy.as_mut().ok_or_else(|| kernel_error("Bad built-in chain name"))?;
    *slot = policy;
    Ok(String::new())
}

fn rename_chain(t: &mut TableState, old: &str, new: &str) -> Result<String, IptablesError> {
    check_chain_name(new)?;
    if t.chain_index(new).is_some() {
        return Err(kernel_error("File exists"));
    }
    let i = t.chain_index(old).ok_or_else(no_such_chain)?;
    if t.chains[i].policy.is_some() {
        return Err(parse::invalid_argument());
    }
    let mut chain = t.chains.remove(i);
    chain.name = new.to_string();
    for e in t.chains.iter_mut().flat_map(|c| c.rules.iter_mut()) {
        if matches!(&e.rule.target, Target::Jump(n) if n == old) {
            e.rule.target = Target::Jump(new.to_string());
        }
    }
    t.insert_user_chain(new);
    let j = t.chain_index(new).expect("just inserted");
    t.chains[j].rules = chain.rules;
    Ok(String::new())
}

/// The kernel's checks on a table being committed (`translate_table`/`check_entry`).
fn validate(t: &TableState) -> Result<(), IptablesError> {
    for chain in &t.chains {
        let hooks = reachable_hooks(t, &chain.name);
        for e in &chain.rules {
            if !rule_valid(t.table, &e.rule, &hooks) {
                return Err(parse::invalid_argument());
            }
        }
    }
    Ok(())
}

/// The hooks from which a chain can be reached by jumps (a built-in chain: its own hook).
fn reachable_hooks(t: &TableState, chain: &str) -> Vec<Hook> {
    let mut hooks = Vec::new();
    for (name, hook) in builtin_chains(t.table) {
        let mut seen = vec![name.to_string()];
        let mut stack = vec![name.to_string()];
        while let Some(c) = stack.pop() {
            if c == chain {
                hooks.push(*hook);
                break;
            }
            let i = t.chain_index(&c).expect("jump targets exist");
            for e in &t.chains[i].rules {
                if let Target::Jump(next) = &e.rule.target {
                    if !seen.contains(next) {
                        seen.push(next.clone());
                        stack.push(next.clone());
                    }
                }
            }
        }
    }
    hooks
}

fn rule_valid(table: Table, rule: &Rule, hooks: &[Hook]) -> bool {
    let proto = rule.proto.as_ref().filter(|p| !p.inverted).map(|p| p.value);
    let matches_ok = rule.matches.iter().all(|m| match m {
        Match::Tcp(_) => proto == Some(Proto::TCP),
        Match::Udp(_) => proto == Some(Proto::UDP),
        Match::Icmp(_) => proto == Some(Proto::ICMP),
        Match::U32(e) => e.as_ref().is_none_or(|e| e.value.kernel_accepts()),
        _ => true,
    });
    let allowed: &[Hook] = match &rule.target {
        Target::Dnat(_) | Target::Redirect(_) => &[Hook::Prerouting, Hook::Output],
        Target::Snat(_) => &[Hook::Postrouting, Hook::Input],
        Target::Masquerade(_) => &[Hook::Postrouting],
        Target::Jump(name) if builtin_chains(table).iter().any(|(n, _)| n == name) => &[],
        _ => return matches_ok,
    };
    let nat_target = !matches!(rule.target, Target::Jump(_));
    matches_ok && (!nat_target || table == Table::Nat) && hooks.iter().all(|h| allowed.contains(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn run(nf: &mut Netfilter, line: &str) -> Result<String, IptablesError> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        nf.run_command(&args)
    }

    #[track_caller]
    fn fails(nf: &mut Netfilter, line: &str, message: &str, exit_code: i32) {
        let e = run(nf, line).expect_err(line);
        assert_eq!((e.message.as_str(), e.exit_code), (message, exit_code), "{line}");
    }

    /// Each expected text is what iptables-legacy printed for the same command in a scratch
    /// namespace (1.8.9 binary; the version in the prefix is the 1.8.7 we model).
    #[test]
    fn chain_and_rule_errors_match_real_iptables() {
        let mut nf = Netfilter::new();
        run(&mut nf, "-N DOCKER").unwrap();
        run(&mut nf, "-A FORWARD -o docker0 -j DOCKER").unwrap();
        let no_chain = "iptables: No chain/target/match by that name.";
        fails(&mut nf, "-A NOPE -j ACCEPT", no_chain, 1);
        fails(&mut nf, "-X NOPE", no_chain, 1);
        fails(&mut nf, "-N DOCKER", "iptables: Chain already exists.", 1);
        fails(&mut nf, "-N INPUT", "iptables: Chain already exists.", 1);
        fails(&mut nf, "-X DOCKER", "iptables: Too many links.", 1);
        fails(
            &mut nf,
            "-D INPUT -s 1.2.3.4 -j ACCEPT",
            "iptables: Bad rule (does a matching rule exist in that chain?).",
            1,
        );
        fails(&mut nf, "-D INPUT 5", "iptables: Index of deletion too big.", 1);
        fails(&mut nf, "-I INPUT 50 -j ACCEPT", "iptables: Index of insertion too big.", 1);
        fails(&mut nf, "-P DOCKER DROP", "iptables: Bad built-in chain name.", 1);
        fails(
            &mut nf,
            "-A INPUT -j FOO",
            "iptables v1.8.7 (legacy): Couldn't load target `FOO':No such file or directory\n\nTry `iptables -h' or 'iptables --help' for more information.",
            2,
        );
        fails(
            &mut nf,
            "-N ACCEPT",
            "iptables v1.8.7 (legacy): chain name may not clash with target name\nTry `iptables -h' or 'iptables --help' for more information.",
            2,
        );
    }

    #[test]
    fn kernel_refuses_targets_outside_their_hooks() {
        let mut nf = Netfilter::new();
        let invalid = "iptables: Invalid argument. Run `dmesg' for more information.";
        fails(&mut nf, "-t nat -A INPUT -j DNAT --to-destination 1.2.3.4", invalid, 1);
        fails(&mut nf, "-A INPUT -j DNAT --to-destination 1.2.3.4", invalid, 1);
        fails(&mut nf, "-t nat -A PREROUTING -j MASQUERADE", invalid, 1);
        fails(&mut nf, "-t nat -A PREROUTING -j SNAT --to-source 1.2.3.4", invalid, 1);
        fails(&mut nf, "-A INPUT -m tcp --dport 80 -j ACCEPT", invalid, 1);
        run(&mut nf, "-t nat -A INPUT -j SNAT --to-source 1.2.3.4").unwrap();
        run(&mut nf, "-t nat -N D").unwrap();
        run(&mut nf, "-t nat -A D -j DNAT --to-destination 1.1.1.1").unwrap();
        fails(&mut nf, "-t nat -A POSTROUTING -j D", invalid, 1);
        run(&mut nf, "-t nat -A PREROUTING -j D").unwrap();
    }

    #[test]
    fn user_chains_are_kept_sorted_and_renamed_in_place() {
        let mut nf = Netfilter::new();
        for c in ["DOCKER-USER", "DOCKER", "DOCKER-ISOLATION-STAGE-2", "DOCKER-ISOLATION-STAGE-1"] {
            run(&mut nf, &format!("-N {c}")).unwrap();
        }
        run(&mut nf, "-A FORWARD -j DOCKER-USER").unwrap();
        run(&mut nf, "-E DOCKER-USER A-FIRST").unwrap();
        assert_eq!(
            run(&mut nf, "-S").unwrap(),
            "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-N A-FIRST\n-N DOCKER\n\
             -N DOCKER-ISOLATION-STAGE-1\n-N DOCKER-ISOLATION-STAGE-2\n-A FORWARD -j A-FIRST\n"
        );
    }

    #[test]
    fn save_lists_only_used_tables_newest_first() {
        let mut nf = Netfilter::new();
        assert_eq!(nf.save(), "");
        run(&mut nf, "-S").unwrap();
        run(&mut nf, "-t nat -N DOCKER").unwrap();
        assert_eq!(
            nf.save(),
            "*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             :POSTROUTING ACCEPT [0:0]\n:DOCKER - [0:0]\nCOMMIT\n\
             *filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n"
        );
    }
}

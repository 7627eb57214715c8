//! Engine 20.10's iptables, rule for rule and in order (docker-facts.md facts 21-22): a host
//! with the default bridge, two user-defined bridges (red, then blue) and one published
//! port. The golden file was written from libnetwork 20.10's `setup_ip_tables.go` and
//! `iptables.go` and reviewed against the facts; bridge names are random, so they are
//! mapped back to BR_RED/BR_BLUE through each subnet's MASQUERADE rule.

use std::path::Path;

use swarmsim::runner;
use swarmsim::scenario;

fn bridge_of(save: &str, subnet: &str) -> String {
    let prefix = format!("-A POSTROUTING -s {subnet} ! -o ");
    let line = save
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no MASQUERADE for {subnet}:\n{save}"));
    line[prefix.len()..].split_whitespace().next().expect("a bridge name").to_string()
}

#[test]
fn iptables_save_equals_engine_20_10() {
    let s = scenario::load(Path::new("scenarios/iptables-layout.yaml"), &runner::command::check)
        .expect("valid scenario");
    let outcome = runner::run(&s, s.seed).expect("runs");
    let save = &outcome.entries.last().expect("iptables-save ran last").output;
    let (red, blue) = (bridge_of(save, "172.30.0.0/16"), bridge_of(save, "172.31.0.0/16"));
    assert!(red.starts_with("br-") && red.len() == 15, "{red}");
    let normalized = save.replace(&red, "BR_RED").replace(&blue, "BR_BLUE");
    let golden = std::fs::read_to_string("tests/golden/iptables-layout.save").expect("golden file");
    assert_eq!(normalized, golden);
}

//! The end-of-run reachability matrix of the Pets scenario: containers reach each other only
//! on a shared user-defined bridge, every container reaches the host's published port, and
//! the LAN client reaches only the host.

use std::path::Path;

use swarmsim::check::Matrix;
use swarmsim::{runner, scenario};

fn cell(m: &Matrix, from: &str, to: &str) -> String {
    let i = m.names.iter().position(|n| n == from).expect("source");
    let j = m.names.iter().position(|n| n == to).expect("destination");
    let c = m.cells[i][j].expect("off the diagonal");
    let tcp = match c.tcp {
        Some((port, true)) => format!(" T{port}"),
        _ => String::new(),
    };
    format!("{}{tcp}", if c.icmp { "I" } else { "·" })
}

#[test]
fn the_pets_matrix_shows_bridge_isolation() {
    let s = scenario::load(Path::new("scenarios/pets-bridge.yaml"), &runner::command::check)
        .expect("valid");
    let m = runner::run(&s, s.seed).expect("runs").matrix;
    assert_eq!(cell(&m, "cat-web", "cat-db"), "I T6379");
    assert_eq!(cell(&m, "alpine_host", "cat-db"), "·");
    assert_eq!(cell(&m, "cat-db", "alpine_client"), "·");
    assert_eq!(cell(&m, "alpine_client", "alpine_host"), "I");
    assert_eq!(cell(&m, "alpine_host", "host-a"), "I T8000");
    assert_eq!(cell(&m, "client", "cat-db"), "·");
    assert_eq!(cell(&m, "host-a", "cat-db"), "I T6379");
}

//! The apps in whole runs: containers started by `docker run`, reached with `curl`.

use crate::runner::command::check as check_command;
use crate::{report, runner, scenario};

const TWO_HELLOS: &str = "
name: two-hellos
seed: 1
underlay:
  networks: [{name: lan, subnet: 10.0.2.0/24, gateway: 10.0.2.1}]
hosts:
  - {name: host-a, ip: 10.0.2.15}
steps:
  - {on: host-a, run: docker network create web}
  - {on: host-a, run: docker run -d --net web --name one --hostname one-host nginxdemos/hello}
  - {on: host-a, run: docker run -d --net web --name two nginxdemos/hello:plain-text}
  - {on: host-a, run: curl -s 172.18.0.2 | grep -i -A 1 address}
  - {on: host-a, run: 'curl -s 172.18.0.3:80/x?y=1'}
  - {on: host-a, run: curl -s 172.18.0.3 | grep -i nothing-like-this}
  - {on: host-a, run: docker network create catnet}
  - {on: host-a, run: docker run -d --net catnet --name cat-db redis}
  - {on: host-a, run: docker run -d --net catnet --name cat-web -p 8000:5000 -e 'DB=cat-db' -e 'ROLE=cat' chrch/web}
  - wait: 1s
  - {on: host-a, run: curl -s 127.0.0.1:8000 | grep container}
  - {on: host-a, run: curl -s 172.18.0.3 | grep -i address}
  - {on: host-a, run: docker run -d --net catnet --name admin -e 'DB1=cat-db' -e 'DB2=cat-db' chrch/admin}
  - wait: 1s
  - {on: host-a, run: curl -s 172.19.0.4:5000 | grep -A 1 Cats}
";

#[test]
fn each_container_answers_with_its_own_address_and_name() {
    let sc = scenario::parse(TWO_HELLOS, "two-hellos.yaml", &check_command).expect("valid");
    let outcome = runner::run(&sc, 1).expect("runs");
    let t = report::transcript(&outcome, false);
    let out = |i: usize| (outcome.entries[i].output.as_str(), outcome.entries[i].exit_code);
    let last = outcome.entries.len() - 1;
    assert_eq!(
        out(3),
        (
            "<p><span>Server&nbsp;address:</span> <span>172.18.0.2:80</span></p>\n\
             <p><span>Server&nbsp;name:</span> <span>one-host</span></p>\n",
            0
        ),
        "{t}"
    );
    let plain = out(4).0;
    let lines: Vec<&str> = plain.lines().collect();
    assert_eq!(lines[0], "Server address: 172.18.0.3:80", "{t}");
    assert_eq!(lines[1].len(), "Server name: ".len() + 12, "{t}");
    assert!(lines[2].starts_with("Date: 08/Jul/2021:10:00:"), "{t}");
    assert_eq!(lines[3], "URI: /x?y=1", "{t}");
    assert_eq!(lines[4].len(), "Request ID: ".len() + 32, "{t}");
    assert_eq!(out(5), ("", 1), "{t}");
    assert_eq!(
        out(last - 3),
        ("      <div class=\"container\">\n        <p>Delivered to you by container </p>\n", 0),
        "{t}"
    );
    // admin.html puts DB2's count in the Cats row: the one hit cat-web counted.
    assert_eq!(
        out(last),
        ("                <td>Cats</td>\n                <td>1</td>\n", 0),
        "{t}"
    );
}

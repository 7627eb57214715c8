//! Differential test for the encrypted overlay's IPsec programming: real Linux is the
//! oracle.
//!
//! The ops `overlay_crypto::setup_encryption` produces for one remote VTEP (two keys:
//! both SAs and the policy for the primary, the receive SA for the other) are applied to
//! the model and, as the `ip xfrm` commands they render to, to a real namespace created
//! here. Every command must succeed in both, and `ip xfrm policy` / `ip xfrm state` must
//! print what the model's views print.
//!
//! A kernel built without ESP or `rfc4106(gcm(aes))` (no `esp4`/`gcm` modules) refuses the
//! states; the test then says so on stderr, still compares the policies, and checks that
//! the kernel refused with one of exactly those two reasons — any other failure fails.
//!
//! Needs root and iproute2; it fails saying so without them.

use std::net::Ipv4Addr;
use std::process::{Command, Output};

use swarmsim::docker::overlay_crypto::{setup_encryption, OverlayKey};
use swarmsim::engine::Streams;
use swarmsim::kernel::{Kernel, KernelOp, NsRef};
use swarmsim::wire::MacAddr;

const H1: Ipv4Addr = Ipv4Addr::new(172, 16, 24, 4);
const H2: Ipv4Addr = Ipv4Addr::new(172, 16, 24, 5);
const KEYS: [OverlayKey; 2] =
    [OverlayKey { value: [7; 16], tag: 0x3d2 }, OverlayKey { value: [9; 16], tag: 0x3d3 }];

/// What a kernel without ESP or without the AEAD answers to `ip xfrm state add`.
const NO_ESP: [&str; 2] = ["Requested type not found", "Requested AEAD algorithm not found"];

/// A real namespace, deleted when dropped (also when the test panics).
struct RealNs(String);

impl RealNs {
    fn new() -> RealNs {
        let name = format!("swarmsim-esp-{}", std::process::id());
        let out = Command::new("ip").args(["netns", "add", &name]).output().expect("ip runs");
        assert!(out.status.success(), "ip netns add: {}", String::from_utf8_lossy(&out.stderr));
        RealNs(name)
    }

    /// Runs one rendered command (`ip xfrm …`, quoted for a shell) in the namespace.
    fn sh(&self, command: &str) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.0, "sh", "-c", command])
            .output()
            .expect("ip netns exec runs")
    }
}

impl Drop for RealNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "delete", &self.0]).output();
    }
}

fn preflight() {
    let uid = Command::new("id").arg("-u").output().expect("`id` runs");
    let uid = String::from_utf8_lossy(&uid.stdout).trim().to_string();
    assert_eq!(uid, "0", "the differential test builds network namespaces: run it as root");
    let ok = Command::new("ip").arg("-V").output().is_ok_and(|o| o.status.success());
    assert!(ok, "the differential test needs `ip`: apt-get install -y iproute2");
}

#[test]
fn ip_xfrm_agrees_with_the_model() {
    preflight();
    let mut model = Kernel::new("h1", Streams::new(1).stream("h1"));
    model.add_ethernet(
        "eth0",
        MacAddr([2, 0, 0, 0, 0, 4]),
        "172.16.24.4/24".parse().unwrap(),
        None,
    );
    let real = RealNs::new();
    let mut refused = Vec::new();
    for op in setup_encryption(H1, H1, H2, &KEYS, 4789) {
        model.apply(&op).unwrap_or_else(|e| panic!("model refused {op}: {e}"));
        let out = real.sh(&op.to_string());
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        match &op {
            KernelOp::XfrmStateAdd { .. } if !out.status.success() => {
                assert!(
                    NO_ESP.iter().any(|r| stderr.contains(r)),
                    "real kernel refused {op}: {stderr}"
                );
                refused.push(stderr);
            }
            _ => assert!(out.status.success(), "real kernel refused {op}: {stderr}"),
        }
    }
    let show = |what: &str| {
        let out = real.sh(&format!("ip xfrm {what}"));
        assert!(out.status.success(), "ip xfrm {what}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let root = model.ns(&NsRef::Root).expect("root");
    assert_eq!(show("policy"), root.xfrm.render_policies());
    if refused.is_empty() {
        assert_eq!(show("state"), root.xfrm.render_states());
    } else {
        eprintln!(
            "SKIPPED the `ip xfrm state` comparison: this kernel has no ESP/rfc4106(gcm(aes)) \
             ({}); the policies were compared",
            refused.join("; ")
        );
    }
}

//! `ipvsadm -L`/`-S` output, with ipvsadm 1.31's printf formats (`list_all`,
//! `print_title`, `print_service_entry`, `print_largenum`, `list_conn`/`print_conn`).
//!
//! Addresses are never turned into host names (as when no PTR record exists); without `-n`,
//! ports are named from a few `/etc/services` entries as `getservbyport` would. Services
//! sort as `ipvs_cmp_services` orders them, servers by address then port (`--nosort`: the
//! table's own order). `-c` lists connections in key order (the kernel's hash order is not
//! reproducible anyway).

use std::fmt::Write as _;
use std::net::Ipv4Addr;

use super::cli::ListFormat;
use super::{Dest, Fwd, Ipvs, IpvsadmError, Service, VsKey};
use crate::engine::SimTime;
use crate::wire::IpProtocol;

/// `IP_VS_VERSION_CODE` 1.2.1 and the default connection table size (2^12).
const HEADER: &str = "IP Virtual Server version 1.2.1 (size=4096)\n";

pub(super) fn list(
    ipvs: &Ipvs,
    now: SimTime,
    service: Option<VsKey>,
    connections: bool,
    f: ListFormat,
) -> Result<String, IpvsadmError> {
    if connections {
        return Ok(list_conns(ipvs, now, f));
    }
    let mut out = String::new();
    if let Some(key) = service {
        let svc = ipvs.services.iter().find(|s| s.key == key);
        let svc =
            svc.ok_or_else(|| IpvsadmError { message: "No such service".into(), exit_code: 1 })?;
        out.push_str(&title(f));
        print_service(&mut out, ipvs, svc, f);
        return Ok(out);
    }
    if !f.rule {
        out.push_str(HEADER);
    }
    let mut services: Vec<&Service> = ipvs.services.iter().collect();
    if !f.nosort {
        services.sort_by_key(|s| s.key.sort_key());
    }
    out.push_str(&title(f));
    for svc in services {
        print_service(&mut out, ipvs, svc, f);
    }
    Ok(out)
}

/// `print_title`.
fn title(f: ListFormat) -> String {
    let columns = |names: [&str; 5]| {
        let [a, b, c, d, e] = names;
        format!(
            "{:<33} {a:>8} {b:>8} {c:>8} {d:>8} {e:>8}\n  -> RemoteAddress:Port\n",
            "Prot LocalAddress:Port"
        )
    };
    if f.rule {
        String::new()
    } else if f.stats {
        columns(["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"])
    } else if f.rate {
        columns(["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"])
    } else {
        "Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            .to_string()
    }
}

fn proto_of(key: VsKey) -> IpProtocol {
    match key {
        VsKey::Fwmark(_) => IpProtocol::Tcp,
        VsKey::Addr { proto, .. } => proto,
    }
}

/// `svc_name` as `print_service_entry` builds it.
fn service_name(key: VsKey, f: ListFormat) -> String {
    match key {
        VsKey::Fwmark(m) if f.rule => format!("-f {m}"),
        VsKey::Fwmark(m) => format!("FWM  {m}"),
        VsKey::Addr { proto, addr, port } => {
            let name = addrport(addr, port, proto, f);
            let tcp = proto == IpProtocol::Tcp;
            if f.rule {
                format!("{} {name}", if tcp { "-t" } else { "-u" })
            } else {
                truncate(format!("{}  {name}", if tcp { "TCP" } else { "UDP" }), 33)
            }
        }
    }
}

fn truncate(mut s: String, len: usize) -> String {
    s.truncate(len);
    s
}

/// `addrport_to_anyname`.
fn addrport(addr: Ipv4Addr, port: u16, proto: IpProtocol, f: ListFormat) -> String {
    if f.numeric {
        return format!("{addr}:{port}");
    }
    format!("{addr}:{}", port_name(port, proto).map_or(port.to_string(), str::to_string))
}

/// The `/etc/services` names `getservbyport` finds for the usual ports (Debian's file).
fn port_name(port: u16, proto: IpProtocol) -> Option<&'static str> {
    let tcp = proto == IpProtocol::Tcp;
    Some(match port {
        22 if tcp => "ssh",
        53 => "domain",
        80 if tcp => "http",
        443 => "https",
        6379 if tcp => "redis",
        8080 if tcp => "http-alt",
        _ => return None,
    })
}

fn print_service(out: &mut String, ipvs: &Ipvs, svc: &Service, f: ListFormat) {
    let name = service_name(svc.key, f);
    if f.rule {
        writeln!(out, "-A {name} -s {}", svc.scheduler()).unwrap();
    } else if f.stats || f.rate {
        let nums = if f.stats { totals(&svc.stats) } else { svc.stats.rates() };
        write!(out, "{name:<33}").unwrap();
        nums.iter().for_each(|n| largenum(out, *n, f));
        out.push('\n');
    } else {
        writeln!(out, "{name} {}", svc.scheduler()).unwrap();
    }
    let mut dests: Vec<&Dest> = svc.dests.iter().collect();
    if !f.nosort {
        dests.sort_by_key(|d| (d.addr, d.port));
    }
    for d in dests {
        print_dest(out, ipvs, svc, &name, d, f);
    }
}

fn totals(s: &super::Stats) -> [u64; 5] {
    let t = s.total;
    [t.conns, t.inpkts, t.outpkts, t.inbytes, t.outbytes]
}

fn print_dest(out: &mut String, ipvs: &Ipvs, svc: &Service, name: &str, d: &Dest, f: ListFormat) {
    let dname = addrport(d.addr, d.port, proto_of(svc.key), f);
    if f.rule {
        let switch = match d.fwd {
            Fwd::Masq => "-m",
            Fwd::Tunnel => "-i",
            Fwd::Route => "-g",
        };
        writeln!(out, "-a {name} -r {dname} {switch} -w {}", d.weight).unwrap();
        return;
    }
    let dname = truncate(dname, 28);
    if f.stats {
        write!(out, "  -> {dname:<28}").unwrap();
        totals(&d.stats).iter().for_each(|n| largenum(out, *n, f));
    } else if f.rate {
        let r = d.stats.rates();
        write!(out, "  -> {dname:<28} {:>8} {:>8} {:>8}", r[0], r[1], r[2]).unwrap();
        r[3..].iter().for_each(|n| largenum(out, *n, f));
    } else {
        let (active, inactive) = ipvs.conns.counts(svc.key, (d.addr, d.port));
        let fwd = match d.fwd {
            Fwd::Masq => "Masq",
            Fwd::Route => "Route",
            Fwd::Tunnel => "Tunnel",
        };
        write!(out, "  -> {dname:<28} {fwd:<7} {:<6} {active:<10} {inactive:<10}", d.weight)
            .unwrap();
    }
    out.push('\n');
}

/// `print_largenum`: `%9llu`, or 8 digits and a K/M/G/T suffix; `-X` prints it exactly.
fn largenum(out: &mut String, i: u64, f: ListFormat) {
    if f.exact {
        let len = i.to_string().len();
        let width = if len <= 8 { 9 } else { len + 1 };
        write!(out, "{i:>width$}").unwrap();
        return;
    }
    match i {
        0..=99_999_999 => write!(out, "{i:>9}"),
        100_000_000..=999_999_999 => write!(out, "{:>8}K", i / 1000),
        1_000_000_000..=99_999_999_999 => write!(out, "{:>8}M", i / 1_000_000),
        100_000_000_000..=99_999_999_999_999 => write!(out, "{:>8}G", i / 1_000_000_000),
        _ => write!(out, "{:>8}T", i / 1_000_000_000_000),
    }
    .unwrap();
}

/// `list_conn`: `/proc/net/ip_vs_conn` through `print_conn`.
fn list_conns(ipvs: &Ipvs, now: SimTime, f: ListFormat) -> String {
    let mut out = String::from("IPVS connection entries\n");
    writeln!(out, "pro expire {:<11} {:<18} {:<18} destination", "state", "source", "virtual")
        .unwrap();
    for c in ipvs.conns.iter() {
        let left = c.expires.since(now).as_nanos() / 1_000_000_000;
        let expire = format!("{:02}:{:02}", left / 60, left % 60);
        let proto = if c.key.proto == IpProtocol::Tcp { "TCP" } else { "UDP" };
        let p = c.key.proto;
        writeln!(
            out,
            "{proto:<3} {expire:<6} {:<11} {:<18} {:<18} {}",
            c.state_name(),
            addrport(c.key.caddr, c.key.cport, p, f),
            addrport(c.key.vaddr, c.key.vport, p, f),
            addrport(c.daddr, c.dport, p, f)
        )
        .unwrap();
    }
    out
}

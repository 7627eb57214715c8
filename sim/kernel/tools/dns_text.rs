//! What the DNS client tools print for the answers they got, as pure functions of the
//! messages: ldns `drill` 1.8 (`ldns_pkt2buffer_str`), BIND 9.16 `dig` and `nslookup`,
//! BusyBox `nslookup` and `getent hosts`. Checked against the real tools (drill 1.8.3,
//! BusyBox 1.35, glibc getent; dig and nslookup 9.18, whose answer texts 9.16 shares)
//! querying a server in a network namespace.

use std::fmt::Write;
use std::net::Ipv4Addr;

use crate::engine::{SimDuration, SimTime, EPOCH_UNIX_SECS};
use crate::wire::{DnsMessage, DnsRecord, DnsRecordData, DnsType, Rcode};

/// The dig version the Debian-based images carry.
pub const DIG_VERSION: &str = "9.16.15-Debian";

/// One answer a tool received, with how long it took and how many bytes it was.
#[derive(Debug, Clone)]
pub struct Received {
    pub msg: DnsMessage,
    pub rtt: SimDuration,
    pub server: Ipv4Addr,
    pub at: SimTime,
}

impl Received {
    fn size(&self) -> usize {
        self.msg.buffer_len()
    }
    fn msec(&self) -> u64 {
        self.rtt.as_nanos() / 1_000_000
    }
}

pub fn type_name(t: DnsType) -> String {
    match t {
        DnsType::A => "A".into(),
        DnsType::Aaaa => "AAAA".into(),
        DnsType::Ptr => "PTR".into(),
        DnsType::Cname => "CNAME".into(),
        DnsType::Other(n) => match n {
            2 => "NS".into(),
            6 => "SOA".into(),
            15 => "MX".into(),
            16 => "TXT".into(),
            33 => "SRV".into(),
            255 => "ANY".into(),
            n => format!("TYPE{n}"),
        },
    }
}

/// The type a command line names (case-insensitive), as both tools spell them.
pub fn parse_type(word: &str) -> Option<DnsType> {
    let t = match word.to_ascii_uppercase().as_str() {
        "A" => DnsType::A,
        "AAAA" => DnsType::Aaaa,
        "PTR" => DnsType::Ptr,
        "CNAME" => DnsType::Cname,
        "NS" => DnsType::Other(2),
        "SOA" => DnsType::Other(6),
        "MX" => DnsType::Other(15),
        "TXT" => DnsType::Other(16),
        "SRV" => DnsType::Other(33),
        "ANY" => DnsType::Other(255),
        _ => return None,
    };
    Some(t)
}

fn rcode_name(r: Rcode, bind: bool) -> &'static str {
    match r {
        Rcode::NoError => "NOERROR",
        Rcode::FormErr => "FORMERR",
        Rcode::ServFail => "SERVFAIL",
        Rcode::NxDomain => "NXDOMAIN",
        Rcode::NotImp if bind => "NOTIMP",
        Rcode::NotImp => "NOTIMPL",
        Rcode::Refused => "REFUSED",
    }
}

fn fqdn(name: &str) -> String {
    format!("{name}.")
}

fn rdata(d: &DnsRecordData) -> String {
    match d {
        DnsRecordData::A(ip) => ip.to_string(),
        DnsRecordData::Ptr(n) | DnsRecordData::Cname(n) => fqdn(n),
    }
}

/// Wall-clock fields of a simulated instant (UTC): year, month 1-12, day, h, m, s, weekday
/// (0 = Sunday).
fn civil(at: SimTime) -> (i64, usize, u32, u64, u64, u64, usize) {
    let secs = u64::from(EPOCH_UNIX_SECS) + at.as_nanos() / 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as usize;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let weekday = (days + 4).rem_euclid(7) as usize;
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60, weekday)
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `ctime(3)` without its newline: `Thu Jul  8 10:00:00 2021`.
pub fn ctime(at: SimTime) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(at);
    format!("{} {} {d:>2} {h:02}:{mi:02}:{s:02} {y}", DAYS[wd], MONTHS[mo - 1])
}

/// dig's `%a %b %d %H:%M:%S %Z %Y`: `Thu Jul 08 10:00:00 UTC 2021`.
fn dig_date(at: SimTime) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(at);
    format!("{} {} {d:02} {h:02}:{mi:02}:{s:02} UTC {y}", DAYS[wd], MONTHS[mo - 1])
}

/// drill's whole output for one answer (`ldns_pkt_print`).
pub fn drill(r: &Received) -> String {
    let m = &r.msg;
    let mut out = format!(
        ";; ->>HEADER<<- opcode: QUERY, rcode: {}, id: {}\n;; flags: ",
        rcode_name(m.rcode, false),
        m.id
    );
    for (on, flag) in [
        (m.response, "qr"),
        (m.authoritative, "aa"),
        (m.recursion_desired, "rd"),
        (m.recursion_available, "ra"),
    ] {
        if on {
            write!(out, "{flag} ").expect("string");
        }
    }
    let additional = usize::from(m.edns.is_some());
    writeln!(
        out,
        "; QUERY: {}, ANSWER: {}, AUTHORITY: 0, ADDITIONAL: {additional} ",
        m.questions.len(),
        m.answers.len()
    )
    .expect("string");
    out += ";; QUESTION SECTION:\n";
    for q in &m.questions {
        writeln!(out, ";; {}\tIN\t{}", fqdn(&q.name), type_name(q.qtype)).expect("string");
    }
    out += "\n;; ANSWER SECTION:\n";
    for a in &m.answers {
        let t = type_name(a.data.rtype());
        writeln!(out, "{}\t{}\tIN\t{t}\t{}", fqdn(&a.name), a.ttl, rdata(&a.data)).expect("s");
    }
    out += "\n;; AUTHORITY SECTION:\n\n;; ADDITIONAL SECTION:\n\n";
    write!(
        out,
        ";; Query time: {} msec\n;; SERVER: {}\n;; WHEN: {}\n;; MSG SIZE  rcvd: {}\n",
        r.msec(),
        r.server,
        ctime(r.at),
        r.size()
    )
    .expect("string");
    out
}

/// BIND's column layout: tabs (width 8) up to `to`, or one space if already past it.
fn indent(line: &mut String, to: usize) {
    let at = line.chars().fold(0, |col, c| if c == '\t' { col / 8 * 8 + 8 } else { col + 1 });
    if at >= to {
        line.push(' ');
    } else {
        line.push_str(&"\t".repeat(to / 8 - at / 8));
    }
}

/// A record as `dig` prints it: name, TTL at 24, class at 32, type at 40, data at 48.
fn dig_record(r: &DnsRecord) -> String {
    let mut line = fqdn(&r.name);
    indent(&mut line, 24);
    line += &r.ttl.to_string();
    indent(&mut line, 32);
    line += "IN";
    indent(&mut line, 40);
    line += &type_name(r.data.rtype());
    indent(&mut line, 48);
    line + &rdata(&r.data)
}

/// dig's banner: `; <<>> DiG 9.16.15-Debian <<>> web` and the global options.
pub fn dig_banner(args: &str) -> String {
    format!("\n; <<>> DiG {DIG_VERSION} <<>> {args}\n;; global options: +cmd\n")
}

/// dig's text after the banner for one answer.
pub fn dig(r: &Received) -> String {
    let m = &r.msg;
    let flags: Vec<&str> = [
        (m.response, "qr"),
        (m.authoritative, "aa"),
        (m.recursion_desired, "rd"),
        (m.recursion_available, "ra"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, f)| *f)
    .collect();
    let mut out = format!(
        ";; Got answer:\n;; ->>HEADER<<- opcode: QUERY, status: {}, id: {}\n\
         ;; flags: {}; QUERY: {}, ANSWER: {}, AUTHORITY: 0, ADDITIONAL: {}\n\n",
        rcode_name(m.rcode, true),
        m.id,
        flags.join(" "),
        m.questions.len(),
        m.answers.len(),
        usize::from(m.edns.is_some())
    );
    if let Some(e) = m.edns {
        write!(out, ";; OPT PSEUDOSECTION:\n; EDNS: version: 0, flags:; udp: {}\n", e.udp_size)
            .expect("string");
    }
    out += ";; QUESTION SECTION:\n";
    for q in &m.questions {
        // The `;` does not count: BIND lays the question out as a record, then comments it.
        let mut line = fqdn(&q.name);
        indent(&mut line, 32);
        writeln!(out, ";{line}IN\t{}", type_name(q.qtype)).expect("string");
    }
    if !m.answers.is_empty() {
        out += "\n;; ANSWER SECTION:\n";
        for a in &m.answers {
            out += &dig_record(a);
            out.push('\n');
        }
    }
    write!(
        out,
        "\n;; Query time: {} msec\n;; SERVER: {ip}#53({ip})\n;; WHEN: {}\n;; MSG SIZE  rcvd: {}\n\n",
        r.msec(),
        dig_date(r.at),
        r.size(),
        ip = r.server
    )
    .expect("string");
    out
}

/// `dig +short`: the data of each answer, one a line.
pub fn dig_short(m: &DnsMessage) -> String {
    m.answers.iter().map(|a| rdata(&a.data) + "\n").collect()
}

/// `nslookup`'s server lines: BIND writes `#53`, BusyBox `:53`.
pub fn nslookup_server(server: Ipv4Addr, busybox: bool) -> String {
    let sep = if busybox { ':' } else { '#' };
    format!("Server:\t\t{server}\nAddress:\t{server}{sep}53\n\n")
}

/// The addresses of one answer as `nslookup` lists them (`Name:` then `Address:`).
pub fn nslookup_addresses(m: &DnsMessage) -> String {
    m.answers
        .iter()
        .filter_map(|a| match a.data {
            DnsRecordData::A(ip) => Some(format!("Name:\t{}\nAddress: {ip}\n", a.name)),
            _ => None,
        })
        .collect()
}

/// `** server can't find NAME: NXDOMAIN` and its blank line.
pub fn nslookup_failure(name: &str, rcode: Rcode) -> String {
    format!("** server can't find {name}: {}\n\n", rcode_name(rcode, true))
}

/// `getent hosts`: `%-15s %s` per address, the answer's owner as the host name.
pub fn getent_hosts(m: &DnsMessage) -> String {
    m.answers
        .iter()
        .filter_map(|a| match a.data {
            DnsRecordData::A(ip) => Some(format!("{:<15} {}\n", ip.to_string(), a.name)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{DnsClass, DnsQuestion};

    /// What Docker's embedded server answers (and the test server answered the real
    /// tools): names in full, RA, TTL 600.
    fn reply(id: u16, name: &str, qtype: DnsType, ips: &[[u8; 4]], rcode: Rcode) -> Received {
        let answers = ips
            .iter()
            .map(|ip| DnsRecord {
                name: name.into(),
                ttl: 600,
                data: DnsRecordData::A(Ipv4Addr::from(*ip)),
            })
            .collect();
        let msg = DnsMessage {
            id,
            response: true,
            recursion_desired: true,
            recursion_available: true,
            authoritative: false,
            rcode,
            questions: vec![DnsQuestion { name: name.into(), qtype, qclass: DnsClass::In }],
            answers,
            edns: None,
            compress: false,
        };
        let at = SimTime::ZERO + SimDuration::from_secs(14);
        Received { msg, rtt: SimDuration::from_micros(700), server: [127, 0, 0, 11].into(), at }
    }

    /// drill 1.8.3's output against the test server, its WHEN and id set to the sim's.
    #[test]
    fn drill_text_is_ldns_text() {
        let r = reply(54937, "web", DnsType::A, &[[10, 0, 0, 2]], Rcode::NoError);
        assert_eq!(
            drill(&r),
            ";; ->>HEADER<<- opcode: QUERY, rcode: NOERROR, id: 54937\n\
             ;; flags: qr rd ra ; QUERY: 1, ANSWER: 1, AUTHORITY: 0, ADDITIONAL: 0 \n\
             ;; QUESTION SECTION:\n;; web.\tIN\tA\n\n\
             ;; ANSWER SECTION:\nweb.\t600\tIN\tA\t10.0.0.2\n\n\
             ;; AUTHORITY SECTION:\n\n;; ADDITIONAL SECTION:\n\n\
             ;; Query time: 0 msec\n;; SERVER: 127.0.0.11\n\
             ;; WHEN: Thu Jul  8 10:00:14 2021\n;; MSG SIZE  rcvd: 40\n"
        );
        let tasks = [[10, 0, 0, 3], [10, 0, 0, 4], [10, 0, 0, 5]];
        let r = reply(63850, "tasks.web", DnsType::A, &tasks, Rcode::NoError);
        let text = drill(&r);
        assert!(text.contains(
            ";; ANSWER SECTION:\ntasks.web.\t600\tIN\tA\t10.0.0.3\n\
             tasks.web.\t600\tIN\tA\t10.0.0.4\ntasks.web.\t600\tIN\tA\t10.0.0.5\n\n"
        ));
        assert!(text.ends_with(";; MSG SIZE  rcvd: 102\n"));
        let nx = drill(&reply(50160, "nosuch", DnsType::A, &[], Rcode::NxDomain));
        assert!(nx.starts_with(";; ->>HEADER<<- opcode: QUERY, rcode: NXDOMAIN, id: 50160\n"));
        assert!(nx.contains(";; ANSWER SECTION:\n\n;; AUTHORITY SECTION:\n"));
        assert!(nx.ends_with(";; MSG SIZE  rcvd: 24\n"));
    }

    /// dig 9.18's answer text against the test server (9.16 prints the SERVER line without
    /// 9.18's ` (UDP)`).
    #[test]
    fn dig_text_aligns_columns_like_bind() {
        let tasks = [[10, 0, 0, 3], [10, 0, 0, 4], [10, 0, 0, 5]];
        let r = reply(15021, "tasks.web", DnsType::A, &tasks, Rcode::NoError);
        assert_eq!(
            dig(&r),
            ";; Got answer:\n\
             ;; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 15021\n\
             ;; flags: qr rd ra; QUERY: 1, ANSWER: 3, AUTHORITY: 0, ADDITIONAL: 0\n\n\
             ;; QUESTION SECTION:\n;tasks.web.\t\t\tIN\tA\n\n\
             ;; ANSWER SECTION:\n\
             tasks.web.\t\t600\tIN\tA\t10.0.0.3\n\
             tasks.web.\t\t600\tIN\tA\t10.0.0.4\n\
             tasks.web.\t\t600\tIN\tA\t10.0.0.5\n\n\
             ;; Query time: 0 msec\n\
             ;; SERVER: 127.0.0.11#53(127.0.0.11)\n\
             ;; WHEN: Thu Jul 08 10:00:14 UTC 2021\n\
             ;; MSG SIZE  rcvd: 102\n\n"
        );
        let web = dig(&reply(29844, "web", DnsType::A, &[[10, 0, 0, 2]], Rcode::NoError));
        assert!(web.contains(
            ";web.\t\t\t\tIN\tA\n\n;; ANSWER SECTION:\nweb.\t\t\t600\tIN\tA\t10.0.0.2\n"
        ));
        let nx = dig(&reply(27971, "nosuch", DnsType::A, &[], Rcode::NxDomain));
        assert!(nx.contains("status: NXDOMAIN, id: 27971\n"));
        assert!(nx.contains(";nosuch.\t\t\t\tIN\tA\n\n;; Query time: 0 msec\n"));
        assert_eq!(
            dig_short(&reply(1, "tasks.web", DnsType::A, &tasks, Rcode::NoError).msg),
            "10.0.0.3\n10.0.0.4\n10.0.0.5\n"
        );
        assert_eq!(
            dig_banner("web"),
            "\n; <<>> DiG 9.16.15-Debian <<>> web\n;; global options: +cmd\n"
        );
    }

    #[test]
    fn nslookup_and_getent_lines() {
        let tasks = [[10, 0, 0, 3], [10, 0, 0, 4]];
        let r = reply(1, "tasks.web", DnsType::A, &tasks, Rcode::NoError);
        assert_eq!(
            nslookup_server([127, 0, 0, 11].into(), true),
            "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\n"
        );
        assert_eq!(
            nslookup_server([127, 0, 0, 11].into(), false),
            "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11#53\n\n"
        );
        assert_eq!(
            nslookup_addresses(&r.msg),
            "Name:\ttasks.web\nAddress: 10.0.0.3\nName:\ttasks.web\nAddress: 10.0.0.4\n"
        );
        assert_eq!(
            nslookup_failure("nosuch", Rcode::NxDomain),
            "** server can't find nosuch: NXDOMAIN\n\n"
        );
        assert_eq!(getent_hosts(&r.msg), "10.0.0.3        tasks.web\n10.0.0.4        tasks.web\n");
    }

    #[test]
    fn dates_follow_the_simulation_clock() {
        assert_eq!(ctime(SimTime::ZERO), "Thu Jul  8 10:00:00 2021");
        let later = SimTime::ZERO + SimDuration::from_secs(2 * 86_400 + 3_600 * 15);
        assert_eq!(ctime(later), "Sun Jul 11 01:00:00 2021");
        assert_eq!(dig_date(later), "Sun Jul 11 01:00:00 UTC 2021");
    }
}

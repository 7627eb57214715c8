//! Packet captures: `tcpdump -i IFACE FILTER` on one machine, recording every frame that
//! crosses the interface, for the transcript and the run's `.pcap` files.
//!
//! The filter language is the part of pcap-filter(7) that labs use: the protocols `arp`,
//! `ip`, `icmp`, `tcp`, `udp`; `host A`, `src host A`, `dst host A`, `port N`, `src port N`,
//! `dst port N` (optionally after `tcp`/`udp`); combined with `and`/`&&`, `or`/`||`,
//! `not`/`!` and parentheses.

use std::net::Ipv4Addr;

use crate::kernel::NsRef;
use crate::wire::{EtherPayload, EthernetFrame, IpPayload};

use super::SimTime;

/// A parsed capture filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    All,
    Proto(&'static str),
    Host { dir: Dir, ip: Ipv4Addr },
    Port { dir: Dir, proto: Option<&'static str>, port: u16 },
    Not(Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    Any,
    Src,
    Dst,
}

/// A filter tcpdump would reject, with its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("tcpdump: {0}")]
pub struct FilterError(pub String);

impl Filter {
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let spaced = text.replace('(', " ( ").replace(')', " ) ");
        let tokens: Vec<&str> = spaced.split_whitespace().collect();
        if tokens.is_empty() {
            return Ok(Filter::All);
        }
        let mut p = Parser { tokens, pos: 0 };
        let f = p.or()?;
        match p.peek() {
            None => Ok(f),
            Some(t) => Err(FilterError(format!("syntax error in filter expression near '{t}'"))),
        }
    }

    pub fn matches(&self, frame: &EthernetFrame) -> bool {
        match self {
            Filter::All => true,
            Filter::Proto(p) => proto_of(frame).contains(p),
            Filter::Host { dir, ip } => {
                addrs_of(frame).is_some_and(|(s, d)| dir_match(*dir, s == *ip, d == *ip))
            }
            Filter::Port { dir, proto, port } => ports_of(frame).is_some_and(|(pr, s, d)| {
                proto.is_none_or(|p| p == pr) && dir_match(*dir, s == *port, d == *port)
            }),
            Filter::Not(f) => !f.matches(frame),
            Filter::And(a, b) => a.matches(frame) && b.matches(frame),
            Filter::Or(a, b) => a.matches(frame) || b.matches(frame),
        }
    }
}

fn dir_match(dir: Dir, src: bool, dst: bool) -> bool {
    match dir {
        Dir::Any => src || dst,
        Dir::Src => src,
        Dir::Dst => dst,
    }
}

fn proto_of(frame: &EthernetFrame) -> Vec<&'static str> {
    match &frame.payload {
        EtherPayload::Arp(_) => vec!["arp"],
        EtherPayload::Ipv4(p) => vec!["ip", p.payload.protocol().name()],
    }
}

fn addrs_of(frame: &EthernetFrame) -> Option<(Ipv4Addr, Ipv4Addr)> {
    match &frame.payload {
        EtherPayload::Arp(a) => Some((a.sender_ip, a.target_ip)),
        EtherPayload::Ipv4(p) => Some((p.src, p.dst)),
    }
}

fn ports_of(frame: &EthernetFrame) -> Option<(&'static str, u16, u16)> {
    let EtherPayload::Ipv4(p) = &frame.payload else { return None };
    match &p.payload {
        IpPayload::Tcp(t) => Some(("tcp", t.src_port, t.dst_port)),
        IpPayload::Udp(u) => Some(("udp", u.src_port, u.dst_port)),
        IpPayload::Icmp(_) | IpPayload::Esp(_) => None,
    }
}

struct Parser<'a> {
    tokens: Vec<&'a str>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.tokens.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<&'a str> {
        let t = self.peek();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and()?;
        while matches!(self.peek(), Some("or" | "||")) {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while matches!(self.peek(), Some("and" | "&&")) {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, FilterError> {
        match self.peek() {
            Some("not" | "!") => {
                self.pos += 1;
                Ok(Filter::Not(Box::new(self.unary()?)))
            }
            Some("(") => {
                self.pos += 1;
                let f = self.or()?;
                match self.next() {
                    Some(")") => Ok(f),
                    _ => Err(FilterError("syntax error in filter expression".into())),
                }
            }
            _ => self.primitive(),
        }
    }

    fn primitive(&mut self) -> Result<Filter, FilterError> {
        let word =
            self.next().ok_or_else(|| FilterError("syntax error in filter expression".into()))?;
        let dir = match word {
            "src" => Some(Dir::Src),
            "dst" => Some(Dir::Dst),
            _ => None,
        };
        if let Some(dir) = dir {
            return self.qualified(dir, None);
        }
        match word {
            "arp" | "ip" | "icmp" => Ok(Filter::Proto(static_name(word))),
            "tcp" | "udp" if matches!(self.peek(), Some("port" | "src" | "dst")) => {
                let dir = match self.peek() {
                    Some("src") => {
                        self.pos += 1;
                        Dir::Src
                    }
                    Some("dst") => {
                        self.pos += 1;
                        Dir::Dst
                    }
                    _ => Dir::Any,
                };
                self.qualified(dir, Some(static_name(word)))
            }
            "tcp" | "udp" => Ok(Filter::Proto(static_name(word))),
            "host" | "port" => {
                self.pos -= 1;
                self.qualified(Dir::Any, None)
            }
            other => Err(FilterError(format!("syntax error in filter expression near '{other}'"))),
        }
    }

    fn qualified(&mut self, dir: Dir, proto: Option<&'static str>) -> Result<Filter, FilterError> {
        let kind = self.next();
        let value = self.next().unwrap_or("");
        match kind {
            Some("host") if proto.is_none() => value
                .parse()
                .map(|ip| Filter::Host { dir, ip })
                .map_err(|_| FilterError(format!("can't parse host '{value}'"))),
            Some("port") => value
                .parse()
                .map(|port| Filter::Port { dir, proto, port })
                .map_err(|_| FilterError(format!("illegal port number '{value}'"))),
            _ => Err(FilterError("syntax error in filter expression".into())),
        }
    }
}

fn static_name(word: &str) -> &'static str {
    match word {
        "arp" => "arp",
        "ip" => "ip",
        "icmp" => "icmp",
        "tcp" => "tcp",
        _ => "udp",
    }
}

/// One capture in progress or finished.
#[derive(Debug, Clone)]
pub struct Capture {
    pub name: String,
    pub machine: usize,
    pub ns: NsRef,
    pub iface: String,
    pub filter: Filter,
    pub active: bool,
    pub frames: Vec<(SimTime, EthernetFrame)>,
}

impl Capture {
    pub fn offer(
        &mut self,
        now: SimTime,
        machine: usize,
        ns: &NsRef,
        iface: &str,
        frame: &EthernetFrame,
    ) {
        if self.active
            && self.machine == machine
            && self.ns == *ns
            && self.iface == iface
            && self.filter.matches(frame)
        {
            self.frames.push((now, frame.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_filters_labs_use() {
        let f = Filter::parse("icmp or arp").unwrap();
        assert!(matches!(f, Filter::Or(..)));
        assert_eq!(
            Filter::parse("udp port 4789").unwrap(),
            Filter::Port { dir: Dir::Any, proto: Some("udp"), port: 4789 }
        );
        assert!(Filter::parse("tcp and not (port 22)").is_ok());
        assert!(Filter::parse("bogus").is_err());
    }
}

//! DNS messages (RFC 1035): the subset the embedded resolver and the stub resolvers use
//! (A, AAAA, PTR, CNAME; one question).

use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsType {
    A,
    Aaaa,
    Ptr,
    Cname,
    Other(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsClass {
    In,
    Other(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuestion {
    /// Without the trailing dot: `cat-db`, `www.dockercon.com`.
    pub name: String,
    pub qtype: DnsType,
    pub qclass: DnsClass,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsRecordData {
    A(Ipv4Addr),
    Ptr(String),
    Cname(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    pub name: String,
    pub ttl: u32,
    pub data: DnsRecordData,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsMessage {
    pub id: u16,
    /// QR: false for a query, true for a response.
    pub response: bool,
    pub recursion_desired: bool,
    pub recursion_available: bool,
    pub authoritative: bool,
    pub rcode: Rcode,
    pub questions: Vec<DnsQuestion>,
    pub answers: Vec<DnsRecord>,
}

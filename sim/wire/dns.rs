//! DNS messages (RFC 1035): the subset the embedded resolver and the stub resolvers use
//! (A, AAAA, PTR, CNAME; one question).
//!
//! Contract: `emit` writes the header, the questions, the answer section (class IN) and,
//! when the message carries EDNS, one OPT record (RFC 6891) in the additional section. With
//! `compress` it replaces every name's longest already-written suffix by a pointer (RFC
//! 1035 §4.1.4), so an answer for the question's name is a 2-byte pointer to offset 12, as
//! most servers send it; without, names are written in full, as Docker's embedded server
//! sends the answers it builds itself (miekg/dns leaves `Msg.Compress` false). `parse`
//! follows pointers (only backwards, so it always terminates) and rejects what the repr
//! cannot hold: opcodes other than QUERY, truncated (TC) messages, authority records,
//! additional records other than one OPT (holding at most a client cookie), answer classes
//! other than IN, record types other than A, CNAME and PTR, and rcodes above 5. It sets
//! `compress` unless a name could have been compressed and was not. Names are held without
//! the trailing dot; the root is `""`.

use std::net::Ipv4Addr;

use super::{be16, be32, WireError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsType {
    A,
    Aaaa,
    Ptr,
    Cname,
    Other(u16),
}

impl DnsType {
    pub fn number(self) -> u16 {
        match self {
            DnsType::A => 1,
            DnsType::Cname => 5,
            DnsType::Ptr => 12,
            DnsType::Aaaa => 28,
            DnsType::Other(n) => n,
        }
    }
    /// The type with this number; a known number never becomes `Other`.
    pub fn from_number(n: u16) -> DnsType {
        match n {
            1 => DnsType::A,
            5 => DnsType::Cname,
            12 => DnsType::Ptr,
            28 => DnsType::Aaaa,
            n => DnsType::Other(n),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsClass {
    In,
    Other(u16),
}

impl DnsClass {
    pub fn number(self) -> u16 {
        match self {
            DnsClass::In => 1,
            DnsClass::Other(n) => n,
        }
    }
    pub fn from_number(n: u16) -> DnsClass {
        match n {
            1 => DnsClass::In,
            n => DnsClass::Other(n),
        }
    }
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

impl Rcode {
    pub fn number(self) -> u8 {
        match self {
            Rcode::NoError => 0,
            Rcode::FormErr => 1,
            Rcode::ServFail => 2,
            Rcode::NxDomain => 3,
            Rcode::NotImp => 4,
            Rcode::Refused => 5,
        }
    }
    pub fn from_number(n: u8) -> Option<Rcode> {
        const ALL: [Rcode; 6] = [
            Rcode::NoError,
            Rcode::FormErr,
            Rcode::ServFail,
            Rcode::NxDomain,
            Rcode::NotImp,
            Rcode::Refused,
        ];
        ALL.get(usize::from(n)).copied()
    }
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

impl DnsRecordData {
    pub fn rtype(&self) -> DnsType {
        match self {
            DnsRecordData::A(_) => DnsType::A,
            DnsRecordData::Ptr(_) => DnsType::Ptr,
            DnsRecordData::Cname(_) => DnsType::Cname,
        }
    }
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
    /// The OPT pseudo-record, when the sender speaks EDNS.
    pub edns: Option<Edns>,
    /// Whether names are compressed on the wire.
    pub compress: bool,
}

/// What an OPT record says (version 0, no DNSSEC OK bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edns {
    /// The largest UDP reply the sender accepts.
    pub udp_size: u16,
    /// A client cookie (RFC 7873), as dig sends by default.
    pub cookie: Option<[u8; 8]>,
}

/// The OPT record's type, and the COOKIE option's code.
const TYPE_OPT: u16 = 41;
const OPTION_COOKIE: u16 = 10;

const FLAG_QR: u16 = 0x8000;
const FLAG_AA: u16 = 0x0400;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const FLAG_RA: u16 = 0x0080;
const OPCODE_MASK: u16 = 0x7800;
/// A name's wire form is at most 255 bytes (RFC 1035 §3.1), a label at most 63.
const MAX_NAME_LEN: usize = 255;
const MAX_LABEL_LEN: usize = 63;
/// Offsets a compression pointer can reach (14 bits).
const MAX_POINTER: usize = 0x3fff;

/// Checks that `name` (no trailing dot; `""` is the root) can be sent: every label 1 to 63
/// bytes, at most 255 bytes on the wire. Callers holding user-supplied names check here
/// before building a message, because `emit` treats an invalid name as a broken invariant.
pub fn validate_name(name: &str) -> Result<(), WireError> {
    if name.is_empty() {
        return Ok(());
    }
    if name.split('.').any(|l| l.is_empty() || l.len() > MAX_LABEL_LEN) {
        return Err(WireError::Malformed("DNS label length"));
    }
    if name.len() + 2 > MAX_NAME_LEN {
        return Err(WireError::Malformed("DNS name length"));
    }
    Ok(())
}

impl DnsMessage {
    pub const HEADER_LEN: usize = 12;

    /// A recursive query for one name, as stub resolvers and tools send it: RD set, no
    /// EDNS, compressed names.
    pub fn query(id: u16, name: &str, qtype: DnsType) -> DnsMessage {
        DnsMessage {
            id,
            response: false,
            recursion_desired: true,
            recursion_available: false,
            authoritative: false,
            rcode: Rcode::NoError,
            questions: vec![DnsQuestion { name: name.into(), qtype, qclass: DnsClass::In }],
            answers: Vec::new(),
            edns: None,
            compress: true,
        }
    }

    /// The message's length with name compression applied.
    pub fn buffer_len(&self) -> usize {
        let mut out = Vec::new();
        self.emit(&mut out);
        out.len()
    }

    /// Appends the message to `out`.
    ///
    /// # Panics
    /// If a name fails [`validate_name`] or a section holds more than 65535 entries.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let mut w = NameWriter { base: out.len(), seen: Vec::new(), compress: self.compress };
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.flags().to_be_bytes());
        let additional = usize::from(self.edns.is_some());
        for count in [self.questions.len(), self.answers.len(), 0, additional] {
            let count = u16::try_from(count).expect("more than 65535 DNS entries");
            out.extend_from_slice(&count.to_be_bytes());
        }
        for q in &self.questions {
            w.write(out, &q.name);
            out.extend_from_slice(&q.qtype.number().to_be_bytes());
            out.extend_from_slice(&q.qclass.number().to_be_bytes());
        }
        for r in &self.answers {
            emit_record(&mut w, out, r);
        }
        if let Some(edns) = self.edns {
            emit_opt(out, edns);
        }
    }

    fn flags(&self) -> u16 {
        let bit = |on: bool, flag: u16| if on { flag } else { 0 };
        bit(self.response, FLAG_QR)
            | bit(self.authoritative, FLAG_AA)
            | bit(self.recursion_desired, FLAG_RD)
            | bit(self.recursion_available, FLAG_RA)
            | u16::from(self.rcode.number())
    }

    pub fn parse(bytes: &[u8]) -> Result<DnsMessage, WireError> {
        if bytes.len() < Self::HEADER_LEN {
            return Err(WireError::Truncated("DNS header"));
        }
        let flags = be16(bytes, 2);
        if flags & OPCODE_MASK != 0 {
            return Err(WireError::Malformed("DNS opcode"));
        }
        if flags & FLAG_TC != 0 {
            return Err(WireError::Malformed("DNS truncated message"));
        }
        if be16(bytes, 8) != 0 || be16(bytes, 10) > 1 {
            return Err(WireError::Malformed("DNS authority or additional records"));
        }
        let rcode =
            Rcode::from_number((flags & 0xf) as u8).ok_or(WireError::Malformed("DNS rcode"))?;
        let mut r = Reader { msg: bytes, pos: Self::HEADER_LEN, pointers: false };
        let questions = (0..be16(bytes, 4)).map(|_| r.question()).collect::<Result<_, _>>()?;
        let answers = (0..be16(bytes, 6)).map(|_| r.record()).collect::<Result<_, _>>()?;
        let edns = if be16(bytes, 10) == 1 { Some(r.opt()?) } else { None };
        if r.pos != bytes.len() {
            return Err(WireError::Malformed("DNS trailing bytes"));
        }
        let mut msg = DnsMessage {
            id: be16(bytes, 0),
            response: flags & FLAG_QR != 0,
            recursion_desired: flags & FLAG_RD != 0,
            recursion_available: flags & FLAG_RA != 0,
            authoritative: flags & FLAG_AA != 0,
            rcode,
            questions,
            answers,
            edns,
            compress: true,
        };
        // Without pointers, the sender compressed only if compressing changes nothing.
        msg.compress = r.pointers || msg.buffer_len() == bytes.len();
        Ok(msg)
    }
}

fn emit_opt(out: &mut Vec<u8>, edns: Edns) {
    out.push(0);
    out.extend_from_slice(&TYPE_OPT.to_be_bytes());
    out.extend_from_slice(&edns.udp_size.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    match edns.cookie {
        Some(cookie) => {
            out.extend_from_slice(&12u16.to_be_bytes());
            out.extend_from_slice(&OPTION_COOKIE.to_be_bytes());
            out.extend_from_slice(&8u16.to_be_bytes());
            out.extend_from_slice(&cookie);
        }
        None => out.extend_from_slice(&0u16.to_be_bytes()),
    }
}

fn emit_record(w: &mut NameWriter, out: &mut Vec<u8>, r: &DnsRecord) {
    w.write(out, &r.name);
    out.extend_from_slice(&r.data.rtype().number().to_be_bytes());
    out.extend_from_slice(&DnsClass::In.number().to_be_bytes());
    out.extend_from_slice(&r.ttl.to_be_bytes());
    let len_at = out.len();
    out.extend_from_slice(&[0, 0]);
    match &r.data {
        DnsRecordData::A(addr) => out.extend_from_slice(&addr.octets()),
        DnsRecordData::Ptr(name) | DnsRecordData::Cname(name) => w.write(out, name),
    }
    let rdlen = u16::try_from(out.len() - len_at - 2).expect("rdata fits in 65535 bytes");
    out[len_at..len_at + 2].copy_from_slice(&rdlen.to_be_bytes());
}

/// Writes names, replacing the longest already-written suffix with a pointer.
struct NameWriter {
    /// Where the message starts in the output buffer.
    base: usize,
    /// Every suffix written so far, with its offset in the message.
    seen: Vec<(String, usize)>,
    compress: bool,
}

impl NameWriter {
    fn write(&mut self, out: &mut Vec<u8>, name: &str) {
        if let Err(e) = validate_name(name) {
            panic!("cannot emit DNS name {name:?}: {e}");
        }
        let labels: Vec<&str> =
            if name.is_empty() { Vec::new() } else { name.split('.').collect() };
        for i in 0..labels.len() {
            let suffix = labels[i..].join(".");
            let earlier = self.seen.iter().find(|(s, _)| *s == suffix).filter(|_| self.compress);
            if let Some(&(_, offset)) = earlier {
                out.extend_from_slice(&(0xc000 | offset as u16).to_be_bytes());
                return;
            }
            let offset = out.len() - self.base;
            if offset <= MAX_POINTER {
                self.seen.push((suffix, offset));
            }
            out.push(labels[i].len() as u8);
            out.extend_from_slice(labels[i].as_bytes());
        }
        out.push(0);
    }
}

/// A cursor over a whole message, so pointers can reach any earlier offset.
struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
    /// Whether any name so far used a pointer.
    pointers: bool,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], WireError> {
        let bytes =
            self.msg.get(self.pos..self.pos + n).ok_or(WireError::Truncated("DNS message"))?;
        self.pos += n;
        Ok(bytes)
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        Ok(be16(self.take(2)?, 0))
    }

    fn question(&mut self) -> Result<DnsQuestion, WireError> {
        let name = self.name()?;
        let qtype = DnsType::from_number(self.u16()?);
        let qclass = DnsClass::from_number(self.u16()?);
        Ok(DnsQuestion { name, qtype, qclass })
    }

    fn record(&mut self) -> Result<DnsRecord, WireError> {
        let name = self.name()?;
        let rtype = DnsType::from_number(self.u16()?);
        if DnsClass::from_number(self.u16()?) != DnsClass::In {
            return Err(WireError::Malformed("DNS record class"));
        }
        let ttl = be32(self.take(4)?, 0);
        let rdlen = usize::from(self.u16()?);
        let end = self.pos + rdlen;
        let data = match rtype {
            DnsType::A if rdlen == 4 => {
                DnsRecordData::A(Ipv4Addr::from(<[u8; 4]>::try_from(self.take(4)?).expect("4")))
            }
            DnsType::A => return Err(WireError::Malformed("DNS A record length")),
            DnsType::Cname => DnsRecordData::Cname(self.name()?),
            DnsType::Ptr => DnsRecordData::Ptr(self.name()?),
            _ => return Err(WireError::Malformed("DNS record type")),
        };
        if self.pos != end {
            return Err(WireError::Malformed("DNS rdata length"));
        }
        Ok(DnsRecord { name, ttl, data })
    }

    /// Reads a possibly compressed name at the cursor and moves past it.
    fn name(&mut self) -> Result<String, WireError> {
        let (name, next, pointer) = read_name(self.msg, self.pos)?;
        self.pointers |= pointer;
        self.pos = next;
        Ok(name)
    }

    /// The OPT record: root owner, version 0, no flags, at most a client cookie.
    fn opt(&mut self) -> Result<Edns, WireError> {
        if self.take(1)? != [0] || self.u16()? != TYPE_OPT {
            return Err(WireError::Malformed("DNS additional record"));
        }
        let udp_size = self.u16()?;
        if self.take(4)? != [0, 0, 0, 0] {
            return Err(WireError::Malformed("DNS EDNS version or flags"));
        }
        let cookie = match self.u16()? {
            0 => None,
            12 if self.u16()? == OPTION_COOKIE && self.u16()? == 8 => {
                Some(<[u8; 8]>::try_from(self.take(8)?).expect("8 bytes"))
            }
            _ => return Err(WireError::Malformed("DNS EDNS option")),
        };
        Ok(Edns { udp_size, cookie })
    }
}

/// Reads the name at `pos`; returns it, the offset just past it (past the first pointer
/// if there is one) and whether it used a pointer. Each pointer must point before itself,
/// which rules out loops.
fn read_name(msg: &[u8], mut pos: usize) -> Result<(String, usize, bool), WireError> {
    let mut labels: Vec<&str> = Vec::new();
    let mut wire_len = 1;
    let mut resume = None;
    loop {
        let len = *msg.get(pos).ok_or(WireError::Truncated("DNS name"))?;
        match len & 0xc0 {
            0x00 if len == 0 => break,
            0x00 => {
                let label = msg
                    .get(pos + 1..pos + 1 + usize::from(len))
                    .ok_or(WireError::Truncated("DNS label"))?;
                let label =
                    std::str::from_utf8(label).map_err(|_| WireError::Malformed("DNS label"))?;
                if label.contains('.') {
                    return Err(WireError::Malformed("DNS label"));
                }
                wire_len += label.len() + 1;
                if wire_len > MAX_NAME_LEN {
                    return Err(WireError::Malformed("DNS name length"));
                }
                labels.push(label);
                pos += 1 + usize::from(len);
            }
            0xc0 => {
                let target = usize::from(
                    be16(msg.get(pos..pos + 2).ok_or(WireError::Truncated("DNS pointer"))?, 0)
                        & 0x3fff,
                );
                if target >= pos {
                    return Err(WireError::Malformed("DNS compression pointer"));
                }
                resume.get_or_insert(pos + 2);
                pos = target;
            }
            _ => return Err(WireError::Malformed("DNS label type")),
        }
    }
    Ok((labels.join("."), resume.unwrap_or(pos + 1), resume.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> DnsMessage {
        DnsMessage::query(1234, "www.dockercon.com", DnsType::A)
    }

    fn response() -> DnsMessage {
        DnsMessage {
            response: true,
            recursion_available: true,
            answers: vec![DnsRecord {
                name: "www.dockercon.com".into(),
                ttl: 600,
                data: DnsRecordData::A(Ipv4Addr::new(104, 239, 220, 248)),
            }],
            ..query()
        }
    }

    #[test]
    fn query_bytes() {
        let mut out = Vec::new();
        query().emit(&mut out);
        let mut expected = vec![0x04, 0xd2, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        expected.extend_from_slice(b"\x03www\x09dockercon\x03com\x00\x00\x01\x00\x01");
        assert_eq!(out, expected);
        assert_eq!(query().buffer_len(), 35);
        assert_eq!(DnsMessage::parse(&out), Ok(query()));
    }

    #[test]
    fn answer_name_points_at_the_question() {
        let mut out = Vec::new();
        response().emit(&mut out);
        assert_eq!(out.len(), 51);
        assert_eq!(&out[2..4], &[0x81, 0x80]);
        assert_eq!(&out[35..], &[0xc0, 12, 0, 1, 0, 1, 0, 0, 2, 0x58, 0, 4, 104, 239, 220, 248]);
        assert_eq!(DnsMessage::parse(&out), Ok(response()));
    }

    #[test]
    fn cname_target_shares_the_suffix() {
        let mut msg = response();
        msg.answers.insert(
            0,
            DnsRecord {
                name: "www.dockercon.com".into(),
                ttl: 5,
                data: DnsRecordData::Cname("lb.dockercon.com".into()),
            },
        );
        let mut out = Vec::new();
        msg.emit(&mut out);
        // CNAME rdata: "lb" then a pointer to "dockercon.com" at offset 16.
        assert_eq!(&out[45..51], &[0, 5, 2, b'l', b'b', 0xc0]);
        assert_eq!(out[51], 16);
        assert_eq!(DnsMessage::parse(&out), Ok(msg));
    }

    #[test]
    fn names_are_validated() {
        assert_eq!(validate_name(""), Ok(()));
        assert_eq!(validate_name("a..b"), Err(WireError::Malformed("DNS label length")));
        assert_eq!(validate_name("trailing."), Err(WireError::Malformed("DNS label length")));
        assert_eq!(validate_name(&"x".repeat(64)), Err(WireError::Malformed("DNS label length")));
        let long = vec!["y".repeat(63); 4].join(".");
        assert_eq!(validate_name(&long), Err(WireError::Malformed("DNS name length")));
        assert_eq!(validate_name(&long[..253]), Ok(()));
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_rejected() {
        let mut bytes = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        assert_eq!(DnsMessage::parse(&bytes), Err(WireError::Malformed("DNS compression pointer")));
        bytes[13] = 14;
        assert_eq!(DnsMessage::parse(&bytes), Err(WireError::Malformed("DNS compression pointer")));
    }

    #[test]
    fn unsupported_sections_are_rejected() {
        let mut out = Vec::new();
        query().emit(&mut out);
        let mut authority = out.clone();
        authority[9] = 1;
        assert_eq!(
            DnsMessage::parse(&authority),
            Err(WireError::Malformed("DNS authority or additional records"))
        );
        let mut tc = out.clone();
        tc[2] |= 0x02;
        assert_eq!(DnsMessage::parse(&tc), Err(WireError::Malformed("DNS truncated message")));
        let mut rcode9 = out;
        rcode9[3] = 9;
        assert_eq!(DnsMessage::parse(&rcode9), Err(WireError::Malformed("DNS rcode")));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// `dig web` (BIND 9.18) as captured: RD and AD, OPT with bufsize 1232 and a cookie.
    #[test]
    fn dig_query_with_a_cookie() {
        let bytes = hex(concat!(
            "7494012000010000000000010377656200000100010000",
            "2904d000000000000c000a000893a2073a27681def"
        ));
        let msg = DnsMessage::parse(&bytes).unwrap();
        let cookie = [0x93, 0xa2, 0x07, 0x3a, 0x27, 0x68, 0x1d, 0xef];
        assert_eq!(msg.edns, Some(Edns { udp_size: 1232, cookie: Some(cookie) }));
        let mut out = Vec::new();
        msg.emit(&mut out);
        // The repr holds no AD bit; everything else is the captured query.
        assert_eq!(out[3], 0x00);
        assert_eq!((&out[..3], &out[4..]), (&bytes[..3], &bytes[4..]));
        let plain = DnsMessage { edns: Some(Edns { udp_size: 512, cookie: None }), ..query() };
        assert_eq!(plain.buffer_len(), 35 + 11);
        assert_eq!(
            DnsMessage::parse(&{
                let mut o = Vec::new();
                plain.emit(&mut o);
                o
            }),
            Ok(plain)
        );
    }

    /// Docker's own answers repeat the owner name: `drill web` reads 40 bytes, not 37.
    #[test]
    fn uncompressed_answers_spell_names_out() {
        let web = DnsMessage {
            id: 1,
            questions: vec![DnsQuestion {
                name: "web".into(),
                qtype: DnsType::A,
                qclass: DnsClass::In,
            }],
            answers: vec![DnsRecord {
                name: "web".into(),
                ttl: 600,
                data: DnsRecordData::A(Ipv4Addr::new(10, 0, 0, 2)),
            }],
            compress: false,
            ..response()
        };
        let mut out = Vec::new();
        web.emit(&mut out);
        assert_eq!(out.len(), 40);
        assert_eq!(&out[21..26], b"\x03web\x00");
        assert_eq!(DnsMessage::parse(&out), Ok(web.clone()));
        assert_eq!(DnsMessage { compress: true, ..web }.buffer_len(), 37);
    }
}

//! The u32 match (`-m u32 --u32 TESTS`): libxt_u32's expression language and xt_u32's test
//! of a packet's bytes.
//!
//! Contract:
//! - `parse` accepts exactly what libxt_u32's `u32_parse` accepts and fails with its texts,
//!   including the character position (`u32: at char 4: not a number or out of range`).
//!   The grammar: `tests := location "=" value | tests "&&" location "=" value`,
//!   `value := range | value "," range`, `range := number | number ":" number`,
//!   `location := number | location op number` with op one of `&`, `<<`, `>>`, `@`;
//!   numbers are read by `strtoul` with base 0 (decimal, `0x` hex, leading-`0` octal, a `+`
//!   allowed, a `-` refused); white space may surround every token; at most 10 numbers per
//!   location, 10 ranges per value and 10 tests (`XT_U32_MAXSIZE`);
//! - `Display` is `u32_dump` without its quotes: every number in `0x%x`, no spaces;
//! - `kernel_accepts` is xt_u32's `u32_mt_checkentry` as patched in 2026 ("reject invalid
//!   shift counts", in the stable kernels since): a shift by 32 or more is refused when the
//!   rule is committed, so evaluation never meets one;
//! - `matches(bytes)` is xt_u32's `u32_match_it` on the packet from its IP header on: the
//!   first number is where a big-endian word is read, `&` masks it, `<<`/`>>` shift it,
//!   `@N` adds the value to the base and reads the word at base+N; a read past the end of
//!   the packet fails the whole match; a test passes when its value lies in one of its
//!   ranges, and the match when every test passes.

use std::fmt;

use super::parse::param_error;
use super::IptablesError;

/// `XT_U32_MAXSIZE`: the most numbers in a location, ranges in a value, tests in a match.
const MAX_SIZE: usize = 10;

/// An operator between two numbers of a location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum U32Op {
    And,
    LeftShift,
    RightShift,
    At,
}

impl U32Op {
    fn symbol(self) -> &'static str {
        match self {
            U32Op::And => "&",
            U32Op::LeftShift => "<<",
            U32Op::RightShift => ">>",
            U32Op::At => "@",
        }
    }
}

/// One test: a location to compute and the inclusive ranges its value may fall in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct U32Test {
    /// The offset of the first word read.
    pub start: u32,
    pub ops: Vec<(U32Op, u32)>,
    /// `(min, max)`, inclusive; a single value is a range with min == max.
    pub ranges: Vec<(u32, u32)>,
}

/// A whole `--u32` argument: tests joined by `&&`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct U32Expr {
    pub tests: Vec<U32Test>,
}

impl fmt::Display for U32Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.tests.iter().enumerate() {
            if i > 0 {
                f.write_str("&&")?;
            }
            write!(f, "{:#x}", t.start)?;
            for (op, n) in &t.ops {
                write!(f, "{}{n:#x}", op.symbol())?;
            }
            f.write_str("=")?;
            for (j, &(lo, hi)) in t.ranges.iter().enumerate() {
                let sep = if j > 0 { "," } else { "" };
                if lo == hi {
                    write!(f, "{sep}{lo:#x}")?;
                } else {
                    write!(f, "{sep}{lo:#x}:{hi:#x}")?;
                }
            }
        }
        Ok(())
    }
}

impl U32Expr {
    /// Whether the kernel takes the match: every shift count is below 32.
    pub fn kernel_accepts(&self) -> bool {
        let shift = |op: U32Op| matches!(op, U32Op::LeftShift | U32Op::RightShift);
        self.tests.iter().flat_map(|t| &t.ops).all(|&(op, n)| !shift(op) || n < 32)
    }

    /// Whether `packet` (the IPv4 packet, header first) passes every test.
    pub fn matches(&self, packet: &[u8]) -> bool {
        self.tests.iter().all(|t| t.matches(packet))
    }
}

impl U32Test {
    fn matches(&self, packet: &[u8]) -> bool {
        let Some(mut val) = word(packet, 0, self.start) else { return false };
        let mut base: u32 = 0;
        for &(op, n) in &self.ops {
            val = match op {
                U32Op::And => val & n,
                U32Op::LeftShift => val.checked_shl(n).expect("shift counts checked on commit"),
                U32Op::RightShift => val.checked_shr(n).expect("shift counts checked on commit"),
                U32Op::At => {
                    let Some(b) = base.checked_add(val) else { return false };
                    base = b;
                    let Some(v) = word(packet, base, n) else { return false };
                    v
                }
            };
        }
        self.ranges.iter().any(|&(lo, hi)| lo <= val && val <= hi)
    }
}

/// The big-endian word at `base + offset`, or None when any of its bytes is past the end.
fn word(packet: &[u8], base: u32, offset: u32) -> Option<u32> {
    let start = u64::from(base) + u64::from(offset);
    if start + 4 > packet.len() as u64 {
        return None;
    }
    let i = usize::try_from(start).expect("inside the packet");
    Some(u32::from_be_bytes(packet[i..i + 4].try_into().expect("4 bytes")))
}

/// Parses a `--u32` argument the way libxt_u32's state machine does.
pub(crate) fn parse(arg: &str) -> Result<U32Expr, IptablesError> {
    let mut p = Parser { s: arg.as_bytes(), pos: 0, tests: Vec::new(), cur: Cur::default() };
    loop {
        p.skip_space();
        if p.peek() == 0 {
            return p.end();
        }
        if p.cur.in_values {
            p.value_step()?;
        } else {
            p.location_step()?;
        }
    }
}

/// The test being read: how many location numbers so far, and whether `=` was seen.
#[derive(Default)]
struct Cur {
    test: U32Test,
    numbers: usize,
    in_values: bool,
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    tests: Vec<U32Test>,
    cur: Cur,
}

/// C's `isspace` in the C locale.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn error_at(pos: usize, what: &str) -> IptablesError {
    param_error(&format!("u32: at char {pos}: {what}"))
}

impl Parser<'_> {
    /// The byte at the cursor; 0 at the end, like the C string's terminator.
    fn peek(&self) -> u8 {
        self.s.get(self.pos).copied().unwrap_or(0)
    }

    fn skip_space(&mut self) {
        while is_space(self.peek()) {
            self.pos += 1;
        }
    }

    fn end(mut self) -> Result<U32Expr, IptablesError> {
        if !self.cur.in_values {
            return Err(param_error("u32: abrupt end of input after location specifier"));
        }
        if self.cur.test.ranges.is_empty() {
            return Err(param_error("u32: test ended with no value specified"));
        }
        self.tests.push(std::mem::take(&mut self.cur).test);
        if self.tests.len() > MAX_SIZE {
            return Err(error_at(self.pos, "too many \"&&\"s"));
        }
        Ok(U32Expr { tests: self.tests })
    }

    /// State 0: the first number, then `op number` pairs until `=`.
    fn location_step(&mut self) -> Result<(), IptablesError> {
        if self.peek() == b'=' {
            if self.cur.numbers == 0 {
                return Err(error_at(self.pos, "location spec missing"));
            }
            self.pos += 1;
            self.cur.in_values = true;
            return Ok(());
        }
        let op = if self.cur.numbers == 0 { None } else { Some(self.operator()?) };
        let n = self.number()?;
        match op {
            None => self.cur.test.start = n,
            Some(op) => self.cur.test.ops.push((op, n)),
        }
        self.cur.numbers += 1;
        if self.cur.numbers > MAX_SIZE {
            return Err(error_at(self.pos, "too many operators"));
        }
        Ok(())
    }

    fn operator(&mut self) -> Result<U32Op, IptablesError> {
        let op = match self.peek() {
            b'&' => U32Op::And,
            c @ (b'<' | b'>') => {
                self.pos += 1;
                if self.peek() != c {
                    let what = format!("a second '{}' was expected", char::from(c));
                    return Err(error_at(self.pos, &what));
                }
                if c == b'<' {
                    U32Op::LeftShift
                } else {
                    U32Op::RightShift
                }
            }
            b'@' => U32Op::At,
            _ => return Err(error_at(self.pos, "operator expected")),
        };
        self.pos += 1;
        Ok(op)
    }

    /// State 1: ranges separated by `,`, until `&&` starts the next test.
    fn value_step(&mut self) -> Result<(), IptablesError> {
        if self.peek() == b'&' {
            return self.next_test();
        }
        if !self.cur.test.ranges.is_empty() {
            if self.peek() != b',' {
                return Err(error_at(self.pos, "expected \",\" or \"&&\""));
            }
            self.pos += 1;
        }
        let min = self.number()?;
        self.skip_space();
        let max = if self.peek() == b':' {
            self.pos += 1;
            self.number()?
        } else {
            min
        };
        self.cur.test.ranges.push((min, max));
        if self.cur.test.ranges.len() > MAX_SIZE {
            return Err(error_at(self.pos, "too many \",\"s"));
        }
        Ok(())
    }

    fn next_test(&mut self) -> Result<(), IptablesError> {
        self.pos += 1;
        if self.peek() != b'&' {
            return Err(error_at(self.pos, "a second '&' was expected"));
        }
        if self.cur.test.ranges.is_empty() {
            return Err(error_at(self.pos, "value spec missing"));
        }
        self.tests.push(std::mem::take(&mut self.cur).test);
        if self.tests.len() > MAX_SIZE {
            return Err(error_at(self.pos, "too many \"&&\"s"));
        }
        self.pos += 1;
        Ok(())
    }

    /// `xtables_strtoui(s, &end, &n, 0, UINT32_MAX)`: strtoul with base 0, after refusing a
    /// leading `-`; the error names the position the number was looked for at.
    fn number(&mut self) -> Result<u32, IptablesError> {
        let at = self.pos;
        let bad = || error_at(at, "not a number or out of range");
        let mut i = at;
        while self.s.get(i).copied().is_some_and(is_space) {
            i += 1;
        }
        match self.s.get(i) {
            Some(b'-') => return Err(bad()),
            Some(b'+') => i += 1,
            _ => {}
        }
        let (radix, digits_at) = radix_of(&self.s[i..]);
        let digits_from = i + digits_at;
        let len =
            self.s[digits_from..].iter().take_while(|c| char::from(**c).is_digit(radix)).count();
        if len == 0 && radix != 8 {
            return Err(bad());
        }
        // An octal number's leading 0 is itself the number when no digit follows ("0x" too).
        let text = std::str::from_utf8(&self.s[digits_from..digits_from + len]).expect("digits");
        let value =
            if len == 0 { 0 } else { u32::from_str_radix(text, radix).map_err(|_| bad())? };
        self.pos = digits_from + len;
        Ok(value)
    }
}

/// strtoul's base 0: `0x` followed by a hex digit is hex, a leading `0` octal (the `0` is
/// consumed as a digit of it), anything else decimal. Returns the radix and where its
/// digits start.
fn radix_of(s: &[u8]) -> (u32, usize) {
    let hex_digit_at = |i: usize| s.get(i).is_some_and(|c| c.is_ascii_hexdigit());
    match s {
        [b'0', b'x' | b'X', ..] if hex_digit_at(2) => (16, 2),
        [b'0', ..] => (8, 1),
        _ => (10, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker's mark rule for VNI 4097 (libnetwork `programMangle`).
    const DOCKER: &str = "0>>22&0x3C@12&0xFFFFFF00=1048832";

    fn err(arg: &str) -> String {
        parse(arg).expect_err(arg).message
    }

    fn try_again(msg: &str) -> String {
        format!(
            "iptables v1.8.7 (legacy): {msg}\nTry `iptables -h' or 'iptables --help' for more information."
        )
    }

    #[test]
    fn dockers_expression_renders_as_u32_dump_does() {
        let e = parse(DOCKER).unwrap();
        assert_eq!(e.to_string(), "0x0>>0x16&0x3c@0xc&0xffffff00=0x100100");
        assert_eq!(parse(&e.to_string()).unwrap(), e);
    }

    #[test]
    fn spaces_ranges_octal_and_plus_are_read_like_strtoul() {
        let e = parse(" 0 = 1 : 5 , 7 && 4 & 0xff = 3").unwrap();
        assert_eq!(e.to_string(), "0x0=0x1:0x5,0x7&&0x4&0xff=0x3");
        assert_eq!(parse("010=1").unwrap().to_string(), "0x8=0x1");
        assert_eq!(parse("+1=1").unwrap().to_string(), "0x1=0x1");
        assert_eq!(parse("0=5:1").unwrap().to_string(), "0x0=0x5:0x1");
        assert_eq!(parse("0=0").unwrap().to_string(), "0x0=0x0");
    }

    /// Each text and position as iptables 1.8.9's libxt_u32 printed it for the same input.
    #[test]
    fn malformed_expressions_fail_with_libxt_u32_texts() {
        let cases = [
            ("bogus", "u32: at char 0: not a number or out of range"),
            ("", "u32: abrupt end of input after location specifier"),
            ("0", "u32: abrupt end of input after location specifier"),
            ("0=1&&", "u32: abrupt end of input after location specifier"),
            ("0=", "u32: test ended with no value specified"),
            ("0<5=1", "u32: at char 2: a second '<' was expected"),
            ("0>5=1", "u32: at char 2: a second '>' was expected"),
            ("0=1&5", "u32: at char 4: a second '&' was expected"),
            ("0=1,", "u32: at char 4: not a number or out of range"),
            ("0=1:", "u32: at char 4: not a number or out of range"),
            ("0=1 2", "u32: at char 4: expected \",\" or \"&&\""),
            ("=1", "u32: at char 0: location spec missing"),
            ("0=1&&=2", "u32: at char 5: location spec missing"),
            ("0x=1", "u32: at char 1: operator expected"),
            ("08=1", "u32: at char 1: operator expected"),
            ("0 x", "u32: at char 2: operator expected"),
            ("-1=1", "u32: at char 0: not a number or out of range"),
            ("0=4294967296", "u32: at char 2: not a number or out of range"),
            ("0&1&2&3&4&5&6&7&8&9&10=1", "u32: at char 22: too many operators"),
            ("0=1,2,3,4,5,6,7,8,9,10,11", "u32: at char 25: too many \",\"s"),
        ];
        for (arg, msg) in cases {
            assert_eq!(err(arg), try_again(msg), "{arg:?}");
        }
        assert_eq!(err(&["0=1"; 11].join("&&")), try_again("u32: at char 53: too many \"&&\"s"));
        assert_eq!(err(&["0=1"; 12].join("&&")), try_again("u32: at char 54: too many \"&&\"s"));
        assert_eq!(err("0=&&1"), try_again("u32: at char 3: value spec missing"));
    }

    #[test]
    fn the_limits_themselves_are_accepted() {
        assert_eq!(parse("0&1&2&3&4&5&6&7&8&9=1").unwrap().tests[0].ops.len(), 9);
        assert_eq!(parse("0=1,2,3,4,5,6,7,8,9,10").unwrap().tests[0].ranges.len(), 10);
        assert_eq!(parse(&["0=1"; 10].join("&&")).unwrap().tests.len(), 10);
    }

    #[test]
    fn words_are_big_endian_and_at_moves_the_base() {
        // 0x45 → IHL 5; the word at 20+4 = 24 is 0x0a0b0c0d.
        let mut pkt = vec![0u8; 28];
        pkt[0] = 0x45;
        pkt[24..28].copy_from_slice(&[0x0a, 0x0b, 0x0c, 0x0d]);
        assert!(parse("0>>22&0x3C@4=0x0a0b0c0d").unwrap().matches(&pkt));
        assert!(parse("0>>24=0x45").unwrap().matches(&pkt));
        assert!(parse("0>>24=0x40:0x4f,7").unwrap().matches(&pkt));
        assert!(!parse("0>>24=0x46:0x4f,7").unwrap().matches(&pkt));
        assert!(!parse("0>>24=0x45&&24=1").unwrap().matches(&pkt));
        assert!(parse("0<<7=0x80000000").unwrap().matches(&pkt));
    }

    #[test]
    fn the_kernel_refuses_shifts_by_32_or_more() {
        assert!(parse("0<<31=0&&0>>31=0").unwrap().kernel_accepts());
        assert!(!parse("0<<32=0").unwrap().kernel_accepts());
        assert!(!parse("0=1&&0&1>>0x20=0").unwrap().kernel_accepts());
    }

    #[test]
    fn reads_past_the_end_fail_without_panicking() {
        let pkt = [0x45, 0, 0, 0, 0, 0, 0, 0];
        assert!(parse("4=0").unwrap().matches(&pkt));
        assert!(!parse("5=0:0xffffffff").unwrap().matches(&pkt));
        assert!(!parse("0=0:0xffffffff").unwrap().matches(&[0x45, 0, 0]));
        assert!(!parse("0>>22&0x3C@12=0:0xffffffff").unwrap().matches(&pkt));
        assert!(!parse("4@0xffffffff=0:0xffffffff").unwrap().matches(&pkt));
        assert!(!parse("0@0xfffffffe=0:0xffffffff").unwrap().matches(&[0xff; 8]));
    }
}

//! redis-server on 6379, speaking enough RESP for the labs' apps: PING, INCR, GET, SET, and the
//! list commands the Pets app counts hits with (LPUSH, LLEN).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::kernel::process::{ProcCtx, Process};
use crate::kernel::{SocketEvent, SocketEventKind};

/// Redis' default port.
pub const REDIS_PORT: u16 = 6379;

#[derive(Default)]
pub struct Redis {
    data: BTreeMap<String, String>,
    lists: BTreeMap<String, Vec<String>>,
}

impl Redis {
    fn execute(&mut self, words: &[String]) -> String {
        let arg = |i: usize| words.get(i).cloned().unwrap_or_default();
        match words.first().map(|w| w.to_ascii_uppercase()).as_deref() {
            Some("PING") => "+PONG\r\n".to_string(),
            Some("INCR") => {
                let n = self.data.get(&arg(1)).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0) + 1;
                self.data.insert(arg(1), n.to_string());
                format!(":{n}\r\n")
            }
            Some("SET") => {
                self.data.insert(arg(1), arg(2));
                "+OK\r\n".to_string()
            }
            Some("GET") => match self.data.get(&arg(1)) {
                Some(v) => format!("${}\r\n{v}\r\n", v.len()),
                None => "$-1\r\n".to_string(),
            },
            Some("LPUSH") => {
                let list = self.lists.entry(arg(1)).or_default();
                list.splice(0..0, words.iter().skip(2).rev().cloned());
                format!(":{}\r\n", list.len())
            }
            Some("LLEN") => format!(":{}\r\n", self.lists.get(&arg(1)).map_or(0, Vec::len)),
            Some(other) => format!("-ERR unknown command `{}`\r\n", other.to_ascii_lowercase()),
            None => "-ERR empty command\r\n".to_string(),
        }
    }
}

/// Parses one RESP array of bulk strings (`*2\r\n$4\r\nINCR\r\n$4\r\nhits\r\n`) or an inline
/// command (`PING\r\n`).
pub fn parse_resp(bytes: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    if !text.starts_with('*') {
        return text.split_whitespace().map(String::from).collect();
    }
    text.split("\r\n")
        .skip(1)
        .filter(|l| !l.starts_with('$') && !l.is_empty())
        .map(String::from)
        .collect()
}

impl Process for Redis {
    fn name(&self) -> &str {
        "redis-server"
    }

    fn on_start(&mut self, cx: &mut ProcCtx) {
        if cx.tcp_listen(Ipv4Addr::UNSPECIFIED, REDIS_PORT).is_err() {
            cx.exit(1);
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        match event.kind {
            SocketEventKind::Data(bytes) => {
                let reply = self.execute(&parse_resp(&bytes));
                cx.tcp_send(event.sock, reply.as_bytes());
            }
            SocketEventKind::PeerClosed => cx.tcp_close(event.sock),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incr_counts() {
        let mut r = Redis::default();
        let cmd = parse_resp(b"*2\r\n$4\r\nINCR\r\n$4\r\nhits\r\n");
        assert_eq!(r.execute(&cmd), ":1\r\n");
        assert_eq!(r.execute(&cmd), ":2\r\n");
        assert_eq!(r.execute(&["PING".into()]), "+PONG\r\n");
    }

    #[test]
    fn lists_grow_at_the_head() {
        let mut r = Redis::default();
        assert_eq!(r.execute(&parse_resp(b"*2\r\n$4\r\nLLEN\r\n$1\r\nk\r\n")), ":0\r\n");
        let push = parse_resp(b"*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$12\r\n('a', 'b c')\r\n");
        assert_eq!(push[2], "('a', 'b c')");
        assert_eq!(r.execute(&push), ":1\r\n");
        assert_eq!(r.execute(&push), ":2\r\n");
        assert_eq!(r.execute(&["llen".into(), "k".into()]), ":2\r\n");
    }
}

//! `nc -z [-v] [-w SECS] HOST PORT`: a TCP connect scan, as OpenBSD netcat (Debian and
//! Ubuntu) and BusyBox (alpine, busybox) report it. Data transfer mode is not modelled.

use std::net::Ipv4Addr;

use crate::engine::SimDuration;
use crate::kernel::process::ProcCtx;
use crate::kernel::{SocketEvent, SocketEventKind};

use super::resolver::{LookupTool, Resolution};
use super::{PingFlavor, ToolUsageError};

const TOKEN_TIMEOUT: u64 = 2;

pub struct Nc {
    flavor: PingFlavor,
    host: String,
    port: u16,
    verbose: bool,
    timeout: Option<SimDuration>,
    ip: Option<Ipv4Addr>,
}

impl Nc {
    /// Parses `nc -z [-v] [-w SECS] HOST PORT` (also `-zv`, `-vz`, `-zvw2`-style bundles
    /// without the number).
    pub fn parse(flavor: PingFlavor, args: &[String]) -> Result<Nc, ToolUsageError> {
        let (mut zero_io, mut verbose, mut timeout, mut words) = (false, false, None, Vec::new());
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "-w" => timeout = Some(parse_secs(it.next())?),
                flags if flags.starts_with('-') && flags.len() > 1 => {
                    for f in flags[1..].chars() {
                        match f {
                            'z' => zero_io = true,
                            'v' => verbose = true,
                            'n' => {}
                            other => {
                                return Err(ToolUsageError(format!(
                                    "nc: invalid option -- '{other}'"
                                )))
                            }
                        }
                    }
                }
                w => words.push(w.to_string()),
            }
        }
        if !zero_io {
            return Err(ToolUsageError("nc: only port scans (-z) are simulated".into()));
        }
        let [host, port] = words.as_slice() else {
            return Err(ToolUsageError(
                "usage: nc [-46CDdFhklNnrStUuvZz] [-w timeout] [destination] [port]".into(),
            ));
        };
        let port = port
            .parse()
            .map_err(|_| ToolUsageError(format!("nc: port range not valid: {port}")))?;
        Ok(Nc { flavor, host: host.clone(), port, verbose, timeout, ip: None })
    }

    fn succeeded(&self, cx: &mut ProcCtx) {
        if self.verbose {
            let ip = self.ip.expect("connected to an address");
            match self.flavor {
                PingFlavor::Iputils => cx.println(&format!(
                    "Connection to {} {} port [tcp/{}] succeeded!",
                    self.host,
                    self.port,
                    service(self.port)
                )),
                PingFlavor::Busybox => {
                    cx.println(&format!("{} ({ip}:{}) open", self.host, self.port))
                }
            }
        }
        cx.exit(0);
    }

    /// Reports a failed connect; OpenBSD nc says `failed` or, after `-w`, `timed out`.
    fn failed(&self, cx: &mut ProcCtx, why: &str) {
        self.report_failure(cx, "failed", why);
    }

    fn report_failure(&self, cx: &mut ProcCtx, verb: &str, why: &str) {
        if self.verbose {
            let ip = self.ip.map_or(String::new(), |ip| ip.to_string());
            match self.flavor {
                PingFlavor::Iputils => cx.println(&format!(
                    "nc: connect to {} port {} (tcp) {verb}: {why}",
                    self.host, self.port
                )),
                PingFlavor::Busybox => {
                    cx.println(&format!("nc: {} ({ip}:{}): {why}", self.host, self.port))
                }
            }
        }
        cx.exit(1);
    }
}

impl LookupTool for Nc {
    fn name(&self) -> &str {
        "nc"
    }

    fn host(&self) -> &str {
        &self.host
    }

    fn on_resolved(&mut self, cx: &mut ProcCtx, r: Resolution) {
        let Resolution::Found(ip) = r else {
            cx.println(&format!(
                "nc: getaddrinfo for host \"{}\" port {}: {}",
                self.host,
                self.port,
                r.gai_error()
            ));
            return cx.exit(1);
        };
        self.ip = Some(ip);
        if let Some(t) = self.timeout {
            cx.set_timer(t, TOKEN_TIMEOUT);
        }
        if let Err(e) = cx.tcp_connect((ip, self.port)) {
            self.failed(cx, &e.to_string());
        }
    }

    fn on_socket(&mut self, cx: &mut ProcCtx, event: SocketEvent) {
        match event.kind {
            SocketEventKind::Connected => {
                cx.tcp_close(event.sock);
                self.succeeded(cx);
            }
            SocketEventKind::Refused => self.failed(cx, "Connection refused"),
            SocketEventKind::TimedOut => self.failed(cx, "Connection timed out"),
            _ => {}
        }
    }

    fn on_timer(&mut self, cx: &mut ProcCtx, token: u64) {
        match token {
            TOKEN_TIMEOUT => match self.flavor {
                PingFlavor::Iputils => {
                    self.report_failure(cx, "timed out", "Operation now in progress")
                }
                PingFlavor::Busybox => self.failed(cx, "Connection timed out"),
            },
            _ => unreachable!("nc set no timer {token}"),
        }
    }
}

fn parse_secs(v: Option<&String>) -> Result<SimDuration, ToolUsageError> {
    let secs: u64 = v
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ToolUsageError("nc: timeout invalid".into()))?;
    Ok(SimDuration::from_secs(secs))
}

/// The name `/etc/services` (Debian's netbase) gives a TCP port, as OpenBSD nc prints it.
fn service(port: u16) -> &'static str {
    match port {
        22 => "ssh",
        53 => "domain",
        80 => "http",
        443 => "https",
        8080 => "http-alt",
        _ => "*",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_port_scans_and_refuses_the_rest() {
        let nc = Nc::parse(PingFlavor::Iputils, &args("-zv -w 2 10.0.2.15 8080")).unwrap();
        assert_eq!((nc.host.as_str(), nc.port, nc.verbose), ("10.0.2.15", 8080, true));
        assert_eq!(nc.timeout, Some(SimDuration::from_secs(2)));
        assert!(Nc::parse(PingFlavor::Iputils, &args("10.0.2.15 80")).is_err());
        assert!(Nc::parse(PingFlavor::Iputils, &args("-z 10.0.2.15 http")).is_err());
        assert_eq!(service(8080), "http-alt");
        assert_eq!(service(5000), "*");
    }
}

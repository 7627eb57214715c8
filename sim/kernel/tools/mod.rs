//! The tools a person runs in a shell, as processes: `ping` (iputils and BusyBox flavours),
//! `curl`, `nc -z`, the DNS clients (`drill`, `dig`, `nslookup`, `getent hosts`), and the
//! stub resolver the others share. Their output is byte for byte what the real
//! tools print; `parse_*` functions reject what the real tools reject.

mod curl;
mod dns_client;
mod dns_text;
mod nc;
mod ping;
mod resolver;

pub use curl::Curl;
pub use dns_client::{DnsClient, DnsTool, DnsToolKind};
pub use nc::Nc;
pub use ping::{Ping, PingFlavor};
pub use resolver::{LookupTool, Resolution, Resolving, StubResolver};

/// A command line the tool refused, with its usage text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ToolUsageError(pub String);

//! The simulated programs containers run: small processes that speak just enough of their
//! protocol to behave like the real thing on the wire (nginx's welcome page, redis' RESP,
//! docker-proxy's relaying, the embedded DNS server's answers).

mod dns;
mod http;
mod idle;
mod proxy;
mod redis;

pub use dns::{DnsServer, Upstream};
pub use http::{HttpServer, NGINX_WELCOME};
pub use idle::Idle;
pub use proxy::DockerProxy;
pub use redis::Redis;

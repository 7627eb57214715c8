//! The simulated programs containers run: small processes that speak just enough of their
//! protocol to behave like the real thing on the wire (nginx's welcome page, nginxdemos/hello's
//! "where did this land" page, the Pets app over redis' RESP, docker-proxy's relaying, the
//! embedded DNS server's answers, ehazlett/docker-demo's page and UCP's HTTP routing mesh
//! picking a service by the `Host` header).

mod dns;
mod docker_demo;
mod hello;
mod hrm;
mod http;
mod idle;
mod pets;
mod proxy;
mod redis;
#[cfg(test)]
mod tests;

pub use dns::{DnsServer, Upstream};
pub use docker_demo::DockerDemo;
pub use hello::{HelloFlavor, HelloVars, NginxHello, HELLO_HTML};
pub use hrm::Hrm;
pub use http::{
    asctime, http_date, nginx_time_local, take_request, HttpServer, Request, NGINX_WELCOME,
};
pub use idle::{Crashed, Idle};
pub use pets::{PetsApp, PetsError, PetsRole, PETS_PORT};
pub use proxy::DockerProxy;
pub use redis::Redis;

//! The IPv4 routing table of one namespace: longest prefix match, kernel-added connected
//! routes (`proto kernel scope link src …`) and static routes.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// Who installed a route, as `ip route` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteProto {
    /// Added by the kernel for an address's subnet.
    Kernel,
    /// Added by a person or a daemon (`ip route add`).
    Boot,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dst: Ipv4Net,
    pub via: Option<Ipv4Addr>,
    pub dev: u32,
    pub proto: RouteProto,
    /// The preferred source (`src`), set on connected routes.
    pub src: Option<Ipv4Addr>,
}

/// The table, kept in insertion order; lookups pick the longest prefix, then the first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RoutingTable {
    pub routes: Vec<Route>,
}

impl RoutingTable {
    pub fn add(&mut self, route: Route) {
        self.routes.push(route);
    }

    /// Longest prefix match.
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<&Route> {
        self.routes.iter().filter(|r| r.dst.contains(&dst)).fold(None, |best: Option<&Route>, r| {
            match best {
                Some(b) if b.dst.prefix_len() >= r.dst.prefix_len() => Some(b),
                _ => Some(r),
            }
        })
    }

    /// Drops every route through `dev` (the device went away).
    pub fn remove_dev(&mut self, dev: u32) {
        self.routes.retain(|r| r.dev != dev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dst: &str, dev: u32) -> Route {
        Route { dst: dst.parse().unwrap(), via: None, dev, proto: RouteProto::Boot, src: None }
    }

    #[test]
    fn longest_prefix_wins() {
        let mut t = RoutingTable::default();
        t.add(route("0.0.0.0/0", 1));
        t.add(route("172.17.0.0/16", 2));
        t.add(route("172.17.3.0/24", 3));
        assert_eq!(t.lookup("172.17.3.9".parse().unwrap()).unwrap().dev, 3);
        assert_eq!(t.lookup("172.17.4.9".parse().unwrap()).unwrap().dev, 2);
        assert_eq!(t.lookup("8.8.8.8".parse().unwrap()).unwrap().dev, 1);
    }
}

//! libnetwork's default IPAM for local networks: which subnet a new network gets and which
//! address a new endpoint gets.
//!
//! Pools (`ipamutils/utils.go`, 20.10): 172.17–19.0.0/16, then 172.20.0.0/14, 172.24.0.0/14
//! and 172.28.0.0/14 split into /16s, then 192.168.0.0/16 split into /20s. A network without
//! `--subnet` gets the first pool that no network uses and that overlaps no host interface.
//! Inside a subnet the network and broadcast addresses are reserved, the gateway is requested
//! first (so it is .1), and endpoints get the lowest free address (local networks are not
//! serial, unlike swarm's).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// What can go wrong allocating, with the daemon's texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")]
    NoPool,
    #[error("Pool overlaps with other one on this address space")]
    Overlap,
    #[error("no available IPv4 addresses on this network's address pools")]
    Exhausted,
    #[error("Address already in use")]
    InUse,
}

/// The predefined local pools, in the order they are tried.
pub(crate) fn local_pools() -> Vec<Ipv4Net> {
    let mut pools = Vec::new();
    for b in 17..=19u8 {
        pools.push(net(172, b, 0, 16));
    }
    for b in 20..=31u8 {
        pools.push(net(172, b, 0, 16));
    }
    for c in (0..=240u8).step_by(16) {
        pools.push(net(192, 168, c, 20));
    }
    pools
}

fn net(a: u8, b: u8, c: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::new(a, b, c, 0), len).expect("predefined pools are valid")
}

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// First fit among the predefined pools.
pub(crate) fn pick_pool(in_use: &[Ipv4Net], host: &[Ipv4Net]) -> Result<Ipv4Net, IpamError> {
    local_pools()
        .into_iter()
        .find(|p| !in_use.iter().chain(host).any(|u| overlaps(p, u)))
        .ok_or(IpamError::NoPool)
}

/// A user-given `--subnet` must not overlap another network's.
pub(crate) fn check_user_pool(subnet: &Ipv4Net, in_use: &[Ipv4Net]) -> Result<(), IpamError> {
    if in_use.iter().any(|u| overlaps(subnet, u)) {
        return Err(IpamError::Overlap);
    }
    Ok(())
}

/// The addresses of one network's subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AddrPool {
    pub subnet: Ipv4Net,
    /// `--ip-range`: dynamic addresses come only from here.
    pub range: Option<Ipv4Net>,
    used: BTreeSet<Ipv4Addr>,
}

impl AddrPool {
    pub(crate) fn new(subnet: Ipv4Net, range: Option<Ipv4Net>) -> Self {
        AddrPool { subnet: subnet.trunc(), range, used: BTreeSet::new() }
    }

    /// Is `ip` a host address of this subnet (not network, not broadcast)?
    pub(crate) fn holds(&self, ip: Ipv4Addr) -> bool {
        let s = &self.subnet;
        s.contains(&ip) && (s.prefix_len() >= 31 || (ip != s.network() && ip != s.broadcast()))
    }

    /// A specific address (`--ip`, `--gateway`) or the lowest free one.
    pub(crate) fn request(&mut self, want: Option<Ipv4Addr>) -> Result<Ipv4Addr, IpamError> {
        let ip = match want {
            Some(ip) if self.used.contains(&ip) => return Err(IpamError::InUse),
            Some(ip) => ip,
            None => self.first_free().ok_or(IpamError::Exhausted)?,
        };
        self.used.insert(ip);
        Ok(ip)
    }

    fn first_free(&self) -> Option<Ipv4Addr> {
        let span = self.range.unwrap_or(self.subnet);
        span.hosts().find(|ip| self.holds(*ip) && !self.used.contains(ip))
    }

    pub(crate) fn release(&mut self, ip: Ipv4Addr) {
        self.used.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fit_skips_used_and_host_subnets() {
        let used = ["172.17.0.0/16".parse().unwrap()];
        let host = ["172.18.5.0/24".parse().unwrap()];
        assert_eq!(pick_pool(&used, &host).unwrap().to_string(), "172.19.0.0/16");
        let all: Vec<Ipv4Net> = local_pools();
        assert_eq!(all.len(), 15 + 16);
        assert_eq!(pick_pool(&all, &[]), Err(IpamError::NoPool));
        assert_eq!(all[15].to_string(), "192.168.0.0/20");
    }

    #[test]
    fn addresses_are_lowest_free_after_the_gateway() {
        let mut p = AddrPool::new("10.0.0.0/30".parse().unwrap(), None);
        assert_eq!(p.request(None).unwrap(), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(p.request(None).unwrap(), Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(p.request(None), Err(IpamError::Exhausted));
        p.release(Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(p.request(Some(Ipv4Addr::new(10, 0, 0, 2))), Err(IpamError::InUse));
        assert_eq!(p.request(None).unwrap(), Ipv4Addr::new(10, 0, 0, 1));
    }
}

//! TEMPORARY: replaced by the docker helper's module.
pub mod apps;
pub struct Daemon;
impl crate::kernel::process::NameService for Daemon {
    fn lookup(&self, _c: &str, _n: &str) -> Option<Vec<std::net::Ipv4Addr>> {
        None
    }
}

//! The part of a machine's file system that namespace commands see, and those commands:
//! `ip netns`, `ip netns add`, the namespace lookups of `ip netns exec` and `nsenter`,
//! `ln -s` and `cd`.
//!
//! Contract: each machine has a working directory and the state of `/var/run/netns`
//! (`/var/run` is a link to `/run`, so both spellings are one directory): absent, a
//! directory holding the namespaces `ip netns add` made, or the link a lab makes with
//! `ln -s /var/run/docker/netns /var/run/netns`. Every named namespace of the kernel that
//! `ip netns add` did not put in a directory of its own is Docker's: its file is
//! `/var/run/docker/netns/NAME`. So Docker's namespaces show in `ip netns` only through
//! the link, and `nsenter --net=/var/run/docker/netns/NAME` works without it.
//!
//! `ip netns` lists its directory in readdir order, which on the tmpfs `/run` is newest
//! first: files made on a fresh tmpfs (Linux 6.18, iproute2 6.1) in the order ingress_sbox,
//! 1-das46zk71z, lb_y5rtwtq7b, 1-y5rtwtq7bj, acd51a308dfe list in the reverse order, as
//! seeds/004 shows them. The simulator lists newest first by creation. Each name is
//! followed by `(id: N)` when the namespace running `ip` has given it an id (see
//! `Kernel::netnsid`). Without the directory `ip netns` prints nothing and exits 0.
//!
//! The simulator has no other files: `cd` knows the directories above and a few standard
//! ones, and `ln -s` makes only the `/var/run/netns` link; anything else is refused with a
//! message saying so, never pretended.

use crate::kernel::{Kernel, NsRef};

use super::command::NsOpen;

/// One machine's shell and `/var/run/netns`.
#[derive(Debug, Clone)]
pub struct ShellState {
    /// Absolute, normalized, `/var/run` spelled `/run`.
    cwd: String,
    netns_dir: NetnsDir,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NetnsDir {
    Absent,
    /// A real directory; its entries oldest first.
    Dir(Vec<DirEntry>),
    /// A symbolic link to Docker's directory.
    DockerLink,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DirEntry {
    /// A namespace file made by `ip netns add`.
    Netns(String),
    /// `ln -s /var/run/docker/netns /var/run/netns` when the directory already existed:
    /// GNU ln puts the link inside it, as `netns/netns`.
    NestedLink,
}

const NETNS_DIR: &str = "/run/netns";
const DOCKER_NETNS_DIR: &str = "/run/docker/netns";
/// Directories `cd` accepts besides the namespace directories.
const KNOWN_DIRS: &[&str] =
    &["/", "/root", "/home", "/tmp", "/etc", "/var", "/run", "/run/docker", "/var/lib"];
const HOME: &str = "/root";

impl Default for ShellState {
    fn default() -> Self {
        ShellState { cwd: HOME.to_string(), netns_dir: NetnsDir::Absent }
    }
}

/// What a command printed and its exit status.
pub type Output = (String, i32);

impl ShellState {
    /// `cd [DIR]`, bash's messages.
    pub fn cd(&mut self, dir: Option<&str>, kernel: &Kernel) -> Output {
        let path = normalize(&self.cwd, dir.unwrap_or(HOME));
        let exists = KNOWN_DIRS.contains(&path.as_str())
            || (path == DOCKER_NETNS_DIR && has_docker(kernel))
            || (path == NETNS_DIR && self.netns_dir != NetnsDir::Absent);
        if !exists {
            let shown = dir.unwrap_or(HOME);
            return (format!("-bash: cd: {shown}: No such file or directory\n"), 1);
        }
        self.cwd = path;
        (String::new(), 0)
    }

    /// `ln -s TARGET LINK`: only Docker's namespace directory linked as `/var/run/netns`.
    pub fn ln(&mut self, target: &str, link: &str) -> Output {
        let (target_path, link_path) = (normalize(&self.cwd, target), normalize(&self.cwd, link));
        if target_path != DOCKER_NETNS_DIR || link_path != NETNS_DIR {
            let message = format!(
                "ln: the simulator has no file system; of symbolic links it makes only \
                 `ln -s /var/run/docker/netns /var/run/netns` (here: {link} -> {target})\n"
            );
            return (message, 1);
        }
        match &mut self.netns_dir {
            NetnsDir::Absent => self.netns_dir = NetnsDir::DockerLink,
            NetnsDir::Dir(entries) if !entries.contains(&DirEntry::NestedLink) => {
                entries.push(DirEntry::NestedLink)
            }
            NetnsDir::Dir(_) => return exists_error(&format!("{link}/netns")),
            NetnsDir::DockerLink => return exists_error(link),
        }
        (String::new(), 0)
    }

    /// Records a namespace `ip netns add` made: in the directory (made if absent), or
    /// through the link in Docker's.
    pub fn added(&mut self, name: &str) {
        match &mut self.netns_dir {
            NetnsDir::Absent => self.netns_dir = NetnsDir::Dir(vec![DirEntry::Netns(name.into())]),
            NetnsDir::Dir(entries) => entries.push(DirEntry::Netns(name.to_string())),
            NetnsDir::DockerLink => {}
        }
    }

    /// `ip netns list` run in namespace `from`.
    pub fn list(&self, kernel: &Kernel, from: &NsRef) -> String {
        let names: Vec<Option<&str>> = match &self.netns_dir {
            NetnsDir::Absent => Vec::new(),
            NetnsDir::DockerLink => docker_namespaces(kernel, &[]).into_iter().map(Some).collect(),
            NetnsDir::Dir(entries) => entries
                .iter()
                .map(|e| match e {
                    DirEntry::Netns(n) => Some(n.as_str()),
                    DirEntry::NestedLink => None,
                })
                .collect(),
        };
        let mut out = String::new();
        for name in names.iter().rev() {
            let Some(name) = name else {
                out.push_str("netns\n");
                continue;
            };
            out.push_str(name);
            if let Some(id) = kernel.netnsid(from, &NsRef::named(*name)) {
                out.push_str(&format!(" (id: {id})"));
            }
            out.push('\n');
        }
        out
    }

    /// The namespace `open` names, or what `ip netns exec` / `nsenter` print without it.
    pub fn open(&self, kernel: &Kernel, open: &NsOpen) -> Result<NsRef, Output> {
        let (dir, name, missing) = match open {
            NsOpen::IpNetns(name) => {
                let message = format!(
                    "Cannot open network namespace \"{name}\": No such file or directory\n"
                );
                (NETNS_DIR.to_string(), name.as_str(), (message, 255))
            }
            NsOpen::Nsenter(file) => {
                let (dir, name) = file.rsplit_once('/').expect("validated: a file in a directory");
                let message = format!("nsenter: cannot open {file}: No such file or directory\n");
                (normalize("/", dir), name, (message, 1))
            }
        };
        let in_dir = self.names_in(kernel, &dir);
        if in_dir.contains(&name) {
            Ok(NsRef::named(name))
        } else {
            Err(missing)
        }
    }

    /// The namespace files in `dir` (`/run/netns` or `/run/docker/netns`).
    fn names_in<'k>(&'k self, kernel: &'k Kernel, dir: &str) -> Vec<&'k str> {
        let own: Vec<&str> = match &self.netns_dir {
            NetnsDir::Dir(entries) => entries
                .iter()
                .filter_map(|e| match e {
                    DirEntry::Netns(n) => Some(n.as_str()),
                    DirEntry::NestedLink => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        match (dir, &self.netns_dir) {
            (DOCKER_NETNS_DIR, _) | (NETNS_DIR, NetnsDir::DockerLink) => {
                docker_namespaces(kernel, &own)
            }
            (NETNS_DIR, _) => own,
            _ => Vec::new(),
        }
    }
}

/// The kernel's named namespaces, oldest first, less those in `/run/netns` itself.
fn docker_namespaces<'k>(kernel: &'k Kernel, own: &[&str]) -> Vec<&'k str> {
    kernel
        .namespaces
        .keys()
        .filter_map(|ns| match ns {
            NsRef::Named(n) if !own.contains(&n.as_str()) => Some(n.as_str()),
            _ => None,
        })
        .collect()
}

/// Docker's namespace directory exists once dockerd has made a namespace.
fn has_docker(kernel: &Kernel) -> bool {
    kernel.namespaces.len() > 1
}

fn exists_error(link: &str) -> Output {
    (format!("ln: failed to create symbolic link '{link}': File exists\n"), 1)
}

/// `path` made absolute against `cwd`, `.`/`..`/`//` resolved, `/var/run` spelled `/run`.
fn normalize(cwd: &str, path: &str) -> String {
    let joined = if path.starts_with('/') { path.to_string() } else { format!("{cwd}/{path}") };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    if parts.starts_with(&["var", "run"]) {
        parts.remove(0);
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Streams;
    use crate::kernel::KernelOp;

    fn kernel() -> Kernel {
        Kernel::new("docker-host", Streams::new(1).stream("k"))
    }

    fn apply(k: &mut Kernel, ops: &[KernelOp]) {
        ops.iter().for_each(|op| {
            k.apply(op).unwrap();
        });
    }

    /// Two Docker sandboxes, each given its container's end of a veth from the root
    /// namespace, as libnetwork does; then a namespace nothing refers to.
    fn docker_host() -> Kernel {
        let mut k = kernel();
        for (ns, veth) in [("acd51a308dfe", "veth1"), ("1-y5rtwtq7bj", "veth2")] {
            apply(
                &mut k,
                &[
                    KernelOp::NetnsAdd { name: ns.into() },
                    KernelOp::VethAdd { ns: NsRef::Root, name: veth.into(), peer: "eth0".into() },
                    KernelOp::LinkSetNetns {
                        ns: NsRef::Root,
                        name: "eth0".into(),
                        target: NsRef::named(ns),
                    },
                ],
            );
        }
        apply(&mut k, &[KernelOp::NetnsAdd { name: "ingress_sbox".into() }]);
        k
    }

    #[test]
    fn normalizes_paths_like_the_kernel_resolves_them() {
        assert_eq!(normalize("/var/run", "netns"), "/run/netns");
        assert_eq!(normalize("/root", "../var/run/docker//netns/"), "/run/docker/netns");
        assert_eq!(normalize("/tmp", "/"), "/");
    }

    #[test]
    fn docker_namespaces_show_only_through_the_link_newest_first_with_ids() {
        let k = docker_host();
        let mut sh = ShellState::default();
        assert_eq!(sh.list(&k, &NsRef::Root), "");
        assert_eq!(sh.cd(Some("/var/run"), &k), (String::new(), 0));
        assert_eq!(sh.ln("/var/run/docker/netns", "netns"), (String::new(), 0));
        assert_eq!(
            sh.list(&k, &NsRef::Root),
            "ingress_sbox\n1-y5rtwtq7bj (id: 1)\nacd51a308dfe (id: 0)\n"
        );
        assert_eq!(
            sh.ln("/var/run/docker/netns", "netns"),
            ("ln: failed to create symbolic link 'netns': File exists\n".to_string(), 1)
        );
        // From inside a sandbox: it gave the root namespace an id, no other named one.
        assert_eq!(
            sh.list(&k, &NsRef::named("acd51a308dfe")),
            "ingress_sbox\n1-y5rtwtq7bj\nacd51a308dfe\n"
        );
    }

    /// As the real kernel did with namespaces made and deleted in turn: the id of a dead
    /// namespace is free again, the lowest free id goes first.
    #[test]
    fn a_dead_namespaces_id_is_reused() {
        let mut k = docker_host();
        k.apply(&KernelOp::NetnsDel { name: "acd51a308dfe".into() }).unwrap();
        apply(
            &mut k,
            &[
                KernelOp::VethAdd { ns: NsRef::Root, name: "veth3".into(), peer: "eth0".into() },
                KernelOp::LinkSetNetns {
                    ns: NsRef::Root,
                    name: "eth0".into(),
                    target: NsRef::named("ingress_sbox"),
                },
            ],
        );
        let mut sh = ShellState::default();
        sh.ln("/run/docker/netns", "/run/netns");
        assert_eq!(sh.list(&k, &NsRef::Root), "ingress_sbox (id: 0)\n1-y5rtwtq7bj (id: 1)\n");
    }

    /// What iproute2 6.1 on Linux printed after `ip -n swp link add va type veth peer name
    /// vb; ip -n swp link set vb netns swr`: each of the two namespaces has an id for the
    /// other, the root namespace has none.
    #[test]
    fn ids_are_per_namespace_as_the_real_kernel_gives_them() {
        let mut k = kernel();
        let mut sh = ShellState::default();
        let (swp, swr) = (NsRef::named("swp"), NsRef::named("swr"));
        for name in ["swp", "swr"] {
            k.apply(&KernelOp::NetnsAdd { name: name.into() }).unwrap();
            sh.added(name);
        }
        apply(
            &mut k,
            &[
                KernelOp::VethAdd { ns: swp.clone(), name: "va".into(), peer: "vb".into() },
                KernelOp::LinkSetNetns { ns: swp.clone(), name: "vb".into(), target: swr.clone() },
            ],
        );
        assert_eq!(sh.list(&k, &NsRef::Root), "swr\nswp\n");
        assert_eq!(sh.list(&k, &swp), "swr (id: 0)\nswp\n");
        assert_eq!(sh.list(&k, &swr), "swr\nswp (id: 0)\n");
    }

    /// seeds/004's five namespaces, made in the order Docker makes them, list in the lab's
    /// order (as files made in that order list on a real tmpfs).
    #[test]
    fn lists_newest_first_as_readdir_on_tmpfs() {
        let mut k = kernel();
        for name in ["ingress_sbox", "1-das46zk71z", "lb_y5rtwtq7b", "1-y5rtwtq7bj", "acd51a308dfe"]
        {
            k.apply(&KernelOp::NetnsAdd { name: name.into() }).unwrap();
        }
        let mut sh = ShellState::default();
        sh.ln("/var/run/docker/netns", "/var/run/netns");
        assert_eq!(
            sh.list(&k, &NsRef::Root),
            "acd51a308dfe\n1-y5rtwtq7bj\nlb_y5rtwtq7b\n1-das46zk71z\ningress_sbox\n"
        );
    }

    #[test]
    fn opens_namespaces_as_ip_netns_exec_and_nsenter_do() {
        let k = docker_host();
        let mut sh = ShellState::default();
        let ip = NsOpen::IpNetns("acd51a308dfe".into());
        let missing = "Cannot open network namespace \"acd51a308dfe\": No such file or directory\n";
        assert_eq!(sh.open(&k, &ip), Err((missing.to_string(), 255)));
        let docker = NsOpen::Nsenter("/run/docker/netns/acd51a308dfe".into());
        assert_eq!(sh.open(&k, &docker), Ok(NsRef::named("acd51a308dfe")));
        let gone = NsOpen::Nsenter("/var/run/docker/netns/abc".into());
        let message = "nsenter: cannot open /var/run/docker/netns/abc: No such file or directory\n";
        assert_eq!(sh.open(&k, &gone), Err((message.to_string(), 1)));
        sh.ln("/var/run/docker/netns", "/var/run/netns");
        assert_eq!(sh.open(&k, &ip), Ok(NsRef::named("acd51a308dfe")));
    }

    #[test]
    fn ip_netns_add_makes_a_directory_that_hides_dockers() {
        let mut k = docker_host();
        let mut sh = ShellState::default();
        k.apply(&KernelOp::NetnsAdd { name: "blue".into() }).unwrap();
        sh.added("blue");
        assert_eq!(sh.list(&k, &NsRef::Root), "blue\n");
        assert_eq!(sh.ln("/var/run/docker/netns", "/var/run/netns"), (String::new(), 0));
        assert_eq!(sh.list(&k, &NsRef::Root), "netns\nblue\n");
        let docker = NsOpen::Nsenter("/var/run/docker/netns/blue".into());
        assert!(sh.open(&k, &docker).is_err());
        assert_eq!(sh.open(&k, &NsOpen::IpNetns("blue".into())), Ok(NsRef::named("blue")));
    }

    #[test]
    fn cd_and_ln_refuse_what_is_not_modelled() {
        let k = kernel();
        let mut sh = ShellState::default();
        let message = "-bash: cd: /srv/x: No such file or directory\n".to_string();
        assert_eq!(sh.cd(Some("/srv/x"), &k), (message, 1));
        assert_eq!(sh.cd(Some("/var/run/docker/netns"), &k).1, 1, "no Docker namespace yet");
        assert_eq!(sh.ln("/etc/hosts", "/tmp/hosts").1, 1);
    }
}

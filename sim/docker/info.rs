//! `docker info` and `docker version` as Engine 20.10.7 on Ubuntu 20.04 prints them. The
//! counts and the host name are live; build details are those of the 20.10.7 packages.

use super::container::ContainerState;
use super::daemon::Daemon;

/// The simulated machine's size, one figure for `docker info` and the swarm node description.
pub const HOST_CPUS: u64 = 2;
pub const HOST_MEMORY_BYTES: u64 = 8_348_520_448;

/// `docker version` (client and server 20.10.7, Ubuntu packages).
pub(crate) const VERSION_TEXT: &str = "Client: Docker Engine - Community
 Version:           20.10.7
 API version:       1.41
 Go version:        go1.13.15
 Git commit:        f0df350
 Built:             Wed Jun  2 11:56:38 2021
 OS/Arch:           linux/amd64
 Context:           default
 Experimental:      true

Server: Docker Engine - Community
 Engine:
  Version:          20.10.7
  API version:      1.41 (minimum version 1.12)
  Go version:       go1.13.15
  Git commit:       b0f5bc3
  Built:            Wed Jun  2 11:54:50 2021
  OS/Arch:          linux/amd64
  Experimental:     false
 containerd:
  Version:          1.4.6
  GitCommit:        d71fcd7d8303cbf684402823e425e9dd2e99285d
 runc:
  Version:          1.0.0-rc95
  GitCommit:        b9ee9c6314599f1b4a7f497e1f1f856fe433d3b7
 docker-init:
  Version:          0.19.0
  GitCommit:        de40ad0
";

impl Daemon {
    pub(crate) fn info_text(&self) -> String {
        let count = |f: fn(&ContainerState) -> bool| {
            self.containers.values().filter(|c| f(&c.state)).count()
        };
        let running = count(|s| matches!(s, ContainerState::Running { .. }));
        let total = self.containers.len();
        format!(
            "Client:
 Context:    default
 Debug Mode: false
 Plugins:
  app: Docker App (Docker Inc., v0.9.1-beta3)
  buildx: Build with BuildKit (Docker Inc., v0.5.1-docker)
  scan: Docker Scan (Docker Inc., v0.8.0)

Server:
 Containers: {total}
  Running: {running}
  Paused: 0
  Stopped: {stopped}
 Images: {images}
 Server Version: 20.10.7
 Storage Driver: overlay2
  Backing Filesystem: extfs
  Supports d_type: true
  Native Overlay Diff: true
  userxattr: false
 Logging Driver: json-file
 Cgroup Driver: cgroupfs
 Cgroup Version: 1
 Plugins:
  Volume: local
  Network: bridge host ipvlan macvlan null overlay
  Log: awslogs fluentd gcplogs gelf journald json-file local logentries splunk syslog
 Swarm: inactive
 Runtimes: io.containerd.runc.v2 io.containerd.runtime.v1.linux runc
 Default Runtime: runc
 Init Binary: docker-init
 containerd version: d71fcd7d8303cbf684402823e425e9dd2e99285d
 runc version: b9ee9c6314599f1b4a7f497e1f1f856fe433d3b7
 init version: de40ad0
 Security Options:
  apparmor
  seccomp
   Profile: default
 Kernel Version: 5.4.0-1051-azure
 Operating System: Ubuntu 20.04.2 LTS
 OSType: linux
 Architecture: x86_64
 CPUs: {cpus}
 Total Memory: {memory}
 Name: {name}
 ID: {id}
 Docker Root Dir: /var/lib/docker
 Debug Mode: false
 Registry: https://index.docker.io/v1/
 Labels:
 Experimental: false
 Insecure Registries:
  127.0.0.0/8
 Live Restore Enabled: false

WARNING: No swap limit support
",
            stopped = total - running,
            images = self.images.len(),
            name = self.host.hostname,
            cpus = HOST_CPUS,
            memory = super::format::bytes_size(HOST_MEMORY_BYTES),
            id = self.daemon_id,
        )
    }
}

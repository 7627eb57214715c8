//! A small simulated registry: the images the labs use, with the configuration that shapes
//! what `docker run`, `docker ps` and `docker inspect` show (entrypoint, command, exposed
//! ports, environment), as the Docker Hub images were in mid-2021.
//!
//! Pulls print what a terminal shows once the progress bars settle: one `Pull complete` per
//! layer. Layer IDs and digests are fake but deterministic (drawn from the daemon's stream).
//! Only the `latest` tag exists, and the few others the labs name (`nginxdemos/hello:plain-text`,
//! the AtSea shop's `mssql` and `1.0`).

use crate::engine::RngStream;

/// The parts of an image's config the simulator uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSpec {
    /// `library/nginx`, `chrch/web`.
    pub repo: &'static str,
    pub entrypoint: &'static [&'static str],
    pub cmd: &'static [&'static str],
    /// `80/tcp`, in the order `docker ps` lists them.
    pub exposed: &'static [&'static str],
    pub env: &'static [&'static str],
    pub layers: usize,
}

const PATH_ENV: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NGINX_ENTRY: &[&str] = &["/docker-entrypoint.sh"];
const NGINX_CMD: &[&str] = &["nginx", "-g", "daemon off;"];

const IMAGES: &[ImageSpec] = &[
    ImageSpec {
        repo: "library/alpine",
        entrypoint: &[],
        cmd: &["/bin/sh"],
        exposed: &[],
        env: &[PATH_ENV],
        layers: 1,
    },
    ImageSpec {
        repo: "library/busybox",
        entrypoint: &[],
        cmd: &["sh"],
        exposed: &[],
        env: &[PATH_ENV],
        layers: 1,
    },
    ImageSpec {
        repo: "library/ubuntu",
        entrypoint: &[],
        cmd: &["bash"],
        exposed: &[],
        env: &[PATH_ENV],
        layers: 1,
    },
    ImageSpec {
        repo: "library/nginx",
        entrypoint: NGINX_ENTRY,
        cmd: NGINX_CMD,
        exposed: &["80/tcp"],
        env: &[PATH_ENV, "NGINX_VERSION=1.21.1"],
        layers: 6,
    },
    ImageSpec {
        repo: "library/redis",
        entrypoint: &["docker-entrypoint.sh"],
        cmd: &["redis-server"],
        exposed: &["6379/tcp"],
        env: &[PATH_ENV, "REDIS_VERSION=6.2.4"],
        layers: 6,
    },
    ImageSpec {
        repo: "chrch/web",
        entrypoint: &[],
        cmd: &["python", "app.py"],
        exposed: &["5000/tcp"],
        env: &[PATH_ENV],
        layers: 8,
    },
    // mark-church/pets admin/Dockerfile: ubuntu:14.04, EXPOSE 5000, CMD python /code/app.py.
    ImageSpec {
        repo: "chrch/admin",
        entrypoint: &[],
        cmd: &["python", "/code/app.py"],
        exposed: &["5000/tcp"],
        env: &[PATH_ENV],
        layers: 8,
    },
    ImageSpec {
        repo: "nginxdemos/hello",
        entrypoint: NGINX_ENTRY,
        cmd: NGINX_CMD,
        exposed: &["80/tcp"],
        env: &[PATH_ENV, "NGINX_VERSION=1.21.1"],
        layers: 7,
    },
    // The layers its Dockerfile makes today (alpine, one `RUN apk add`, six `COPY`s of
    // binaries, three `RUN`s for zsh, two `COPY`s, two `RUN`s); its mid-2021 count is not
    // known here.
    ImageSpec {
        repo: "nicolaka/netshoot",
        entrypoint: &[],
        cmd: &["zsh"],
        exposed: &[],
        env: &[PATH_ENV],
        layers: 15,
    },
    // alpine:3.4 and two `RUN`s (jpetazzo/netshoot's Dockerfile).
    ImageSpec {
        repo: "jpetazzo/netshoot",
        entrypoint: &[],
        cmd: &["sh"],
        exposed: &[],
        env: &[PATH_ENV],
        layers: 3,
    },
    // ehazlett/docker-demo's Dockerfile: FROM scratch (no environment), three COPYs.
    ImageSpec {
        repo: "ehazlett/docker-demo",
        entrypoint: &["/bin/docker-demo"],
        cmd: &["-listen=:8080"],
        exposed: &["8080/tcp"],
        env: &[],
        layers: 3,
    },
    // UCP's HTTP routing mesh. UCP pins the tag of its own version; the image's config is
    // not known here, so none is recorded.
    ImageSpec {
        repo: "docker/ucp-hrm",
        entrypoint: &[],
        cmd: &[],
        exposed: &[],
        env: &[],
        layers: 2,
    },
    // The AtSea shop's SQL Server database, a Windows image (tag `mssql`); only its port is
    // known here.
    ImageSpec {
        repo: "dockersamples/atsea-db",
        entrypoint: &[],
        cmd: &[],
        exposed: &["1433/tcp"],
        env: &[],
        layers: 8,
    },
    // The AtSea shop's Java app server (tag `1.0`): app/Dockerfile's last stage, on
    // java:8-jdk-alpine.
    ImageSpec {
        repo: "dockersamples/atsea-appserver",
        entrypoint: &["java", "-jar", "/app/AtSea-0.0.1-SNAPSHOT.jar"],
        cmd: &["--spring.profiles.active=postgres"],
        exposed: &["8080/tcp"],
        env: &[PATH_ENV],
        layers: 7,
    },
];

/// Tags other than `latest` that exist, by repository.
const OTHER_TAGS: &[(&str, &str)] = &[
    ("nginxdemos/hello", "plain-text"),
    ("dockersamples/atsea-db", "mssql"),
    ("dockersamples/atsea-appserver", "1.0"),
];

/// An image reference split the way the CLI normalises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// As typed (`nginx`, `nginx:latest`): `docker ps` shows this.
    pub given: String,
    /// `library/nginx`.
    pub repo: String,
    pub tag: String,
}

impl ImageRef {
    pub fn parse(given: &str) -> ImageRef {
        let (name, tag) = match given.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, t),
            _ => (given, "latest"),
        };
        let repo = if name.contains('/') { name.to_string() } else { format!("library/{name}") };
        ImageRef { given: given.to_string(), repo, tag: tag.to_string() }
    }

    /// `nginx:latest`, `chrch/web:latest` (the short form the CLI prints).
    pub fn familiar(&self) -> String {
        let name = self.repo.strip_prefix("library/").unwrap_or(&self.repo);
        format!("{name}:{}", self.tag)
    }
}

/// Why a pull fails, with the daemon's texts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullError {
    #[error("pull access denied for {0}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied")]
    Denied(String),
    #[error("manifest for {0} not found: manifest unknown: manifest unknown")]
    NoManifest(String),
}

/// Looks an image up in the simulated registry.
pub fn lookup(r: &ImageRef) -> Result<&'static ImageSpec, PullError> {
    let spec = IMAGES.iter().find(|i| i.repo == r.repo).ok_or_else(|| {
        PullError::Denied(r.repo.strip_prefix("library/").unwrap_or(&r.repo).to_string())
    })?;
    let other_tag = OTHER_TAGS.contains(&(r.repo.as_str(), r.tag.as_str()));
    if r.tag != "latest" && !other_tag {
        return Err(PullError::NoManifest(r.familiar()));
    }
    Ok(spec)
}

/// The lines a pull prints, `latest: Pulling from library/nginx` to `Status: …`.
pub fn pull_lines(r: &ImageRef, spec: &ImageSpec, rng: &mut RngStream) -> String {
    let mut s = format!("{}: Pulling from {}\n", r.tag, r.repo);
    for _ in 0..spec.layers {
        s += &format!("{}: Pull complete\n", rng.hex(6));
    }
    s += &format!("Digest: sha256:{}\n", rng.hex(32));
    s += &format!("Status: Downloaded newer image for {}\n", r.familiar());
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Streams;

    #[test]
    fn references_normalise_like_the_cli() {
        let r = ImageRef::parse("nginx");
        assert_eq!((r.repo.as_str(), r.tag.as_str()), ("library/nginx", "latest"));
        assert_eq!(ImageRef::parse("chrch/web").familiar(), "chrch/web:latest");
        let err = lookup(&ImageRef::parse("nosuch")).unwrap_err();
        assert_eq!(err.to_string(), "pull access denied for nosuch, repository does not exist or may require 'docker login': denied: requested access to the resource is denied");
        let err = lookup(&ImageRef::parse("nginx:1.2")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "manifest for nginx:1.2 not found: manifest unknown: manifest unknown"
        );
    }

    #[test]
    fn pull_prints_one_line_per_layer() {
        let r = ImageRef::parse("nginx");
        let out = pull_lines(&r, lookup(&r).unwrap(), &mut Streams::new(3).stream("d"));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "latest: Pulling from library/nginx");
        assert_eq!(lines.len(), 9);
        assert!(lines[1].ends_with(": Pull complete") && lines[1].len() == 27);
        assert_eq!(lines[8], "Status: Downloaded newer image for nginx:latest");
    }
}

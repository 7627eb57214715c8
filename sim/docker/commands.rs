//! The docker CLI's command table (docker/cli 20.10): each command's path, usage line,
//! one-line description, argument rule and the flags the simulator understands.
//!
//! Texts are the CLI's own (`Use`/`Short` of each cobra command) because the CLI prints them
//! in its errors. Flags that real docker has but the simulator does not model are listed
//! separately, so using one is reported as "not simulated" rather than as a typo.

/// How many positional arguments a command takes (docker/cli `cli/required.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgRule {
    None,
    Exactly(usize),
    AtLeast(usize),
}

/// One flag: long name, optional shorthand, and whether it takes a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagSpec {
    pub long: &'static str,
    pub short: Option<char>,
    pub value: bool,
}

const fn b(long: &'static str, short: Option<char>) -> FlagSpec {
    FlagSpec { long, short, value: false }
}
const fn v(long: &'static str, short: Option<char>) -> FlagSpec {
    FlagSpec { long, short, value: true }
}

/// One leaf command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// What the daemon dispatches on: `run`, `network create`.
    pub id: &'static str,
    /// Every path that reaches it: `run` and `container run`.
    pub paths: &'static [&'static str],
    /// Usage line without `docker `: `network create [OPTIONS] NETWORK`, per path.
    pub uses: &'static [&'static str],
    pub short: &'static str,
    pub args: ArgRule,
    pub flags: &'static [FlagSpec],
    /// Real flags the simulator does not model.
    pub unmodelled: &'static [&'static str],
    /// `docker run`/`exec` stop parsing flags at the first argument (the image or container).
    pub interspersed: bool,
}

const RUN_FLAGS: &[FlagSpec] = &[
    b("detach", Some('d')),
    b("interactive", Some('i')),
    b("tty", Some('t')),
    v("name", None),
    v("network", None),
    v("net", None),
    v("ip", None),
    v("publish", Some('p')),
    b("publish-all", Some('P')),
    v("env", Some('e')),
    b("rm", None),
    v("hostname", Some('h')),
    v("network-alias", None),
    v("net-alias", None),
];

const RUN_UNMODELLED: &[&str] = &[
    "restart",
    "volume",
    "v",
    "privileged",
    "cap-add",
    "cap-drop",
    "workdir",
    "w",
    "entrypoint",
    "mac-address",
    "dns",
    "dns-search",
    "add-host",
    "user",
    "u",
    "label",
    "l",
    "expose",
    "link",
    "init",
    "memory",
    "m",
    "cpus",
    "ip6",
    "mount",
    "env-file",
    "platform",
    "sysctl",
    "ulimit",
];

/// Every leaf command the simulator knows.
pub const COMMANDS: &[CommandSpec] = &[
    SWARM_INIT,
    SWARM_JOIN,
    SWARM_JOIN_TOKEN,
    SWARM_LEAVE,
    SWARM_UPDATE,
    NODE_LS,
    NODE_INSPECT,
    NODE_UPDATE,
    NODE_PROMOTE,
    NODE_DEMOTE,
    NODE_RM,
    SERVICE_CREATE,
    SERVICE_LS,
    SERVICE_PS,
    SERVICE_INSPECT,
    SERVICE_SCALE,
    SERVICE_UPDATE,
    SERVICE_RM,
    CommandSpec {
        id: "run",
        paths: &["run", "container run"],
        uses: &[
            "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
            "container run [OPTIONS] IMAGE [COMMAND] [ARG...]",
        ],
        short: "Run a command in a new container",
        args: ArgRule::AtLeast(1),
        flags: RUN_FLAGS,
        unmodelled: RUN_UNMODELLED,
        interspersed: false,
    },
    CommandSpec {
        id: "ps",
        paths: &["ps", "container ls", "container list", "container ps"],
        uses: &[
            "ps [OPTIONS]",
            "container ls [OPTIONS]",
            "container ls [OPTIONS]",
            "container ls [OPTIONS]",
        ],
        short: "List containers",
        args: ArgRule::None,
        flags: &[
            b("all", Some('a')),
            b("quiet", Some('q')),
            b("no-trunc", None),
            v("filter", Some('f')),
        ],
        unmodelled: &["format", "last", "n", "latest", "l", "size", "s"],
        interspersed: true,
    },
    CommandSpec {
        id: "inspect",
        paths: &["inspect"],
        uses: &["inspect [OPTIONS] NAME|ID [NAME|ID...]"],
        short: "Return low-level information on Docker objects",
        args: ArgRule::AtLeast(1),
        flags: &[v("format", Some('f'))],
        unmodelled: &["size", "s", "type"],
        interspersed: true,
    },
    CommandSpec {
        id: "container inspect",
        paths: &["container inspect"],
        uses: &["container inspect [OPTIONS] CONTAINER [CONTAINER...]"],
        short: "Display detailed information on one or more containers",
        args: ArgRule::AtLeast(1),
        flags: &[v("format", Some('f'))],
        unmodelled: &["size", "s"],
        interspersed: true,
    },
    CommandSpec {
        id: "exec",
        paths: &["exec", "container exec"],
        uses: &[
            "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
            "container exec [OPTIONS] CONTAINER COMMAND [ARG...]",
        ],
        short: "Run a command in a running container",
        args: ArgRule::AtLeast(2),
        flags: &[
            b("interactive", Some('i')),
            b("tty", Some('t')),
            b("detach", Some('d')),
            v("env", Some('e')),
        ],
        unmodelled: &["user", "u", "workdir", "w", "privileged", "detach-keys", "env-file"],
        interspersed: false,
    },
    CommandSpec {
        id: "rm",
        paths: &["rm", "container rm", "container remove"],
        uses: &[
            "rm [OPTIONS] CONTAINER [CONTAINER...]",
            "container rm [OPTIONS] CONTAINER [CONTAINER...]",
            "container rm [OPTIONS] CONTAINER [CONTAINER...]",
        ],
        short: "Remove one or more containers",
        args: ArgRule::AtLeast(1),
        flags: &[b("force", Some('f'))],
        unmodelled: &["volumes", "v", "link", "l"],
        interspersed: true,
    },
    CommandSpec {
        id: "stop",
        paths: &["stop", "container stop"],
        uses: &[
            "stop [OPTIONS] CONTAINER [CONTAINER...]",
            "container stop [OPTIONS] CONTAINER [CONTAINER...]",
        ],
        short: "Stop one or more running containers",
        args: ArgRule::AtLeast(1),
        flags: &[v("time", Some('t'))],
        unmodelled: &[],
        interspersed: true,
    },
    CommandSpec {
        id: "info",
        paths: &["info", "system info"],
        uses: &["info [OPTIONS]", "system info [OPTIONS]"],
        short: "Display system-wide information",
        args: ArgRule::None,
        flags: &[],
        unmodelled: &["format", "f"],
        interspersed: true,
    },
    CommandSpec {
        id: "version",
        paths: &["version"],
        uses: &["version [OPTIONS]"],
        short: "Show the Docker version information",
        args: ArgRule::None,
        flags: &[],
        unmodelled: &["format", "f"],
        interspersed: true,
    },
    CommandSpec {
        id: "pull",
        paths: &["pull", "image pull"],
        uses: &["pull [OPTIONS] NAME[:TAG|@DIGEST]", "image pull [OPTIONS] NAME[:TAG|@DIGEST]"],
        short: "Pull an image or a repository from a registry",
        args: ArgRule::Exactly(1),
        flags: &[],
        unmodelled: &["all-tags", "a", "platform", "quiet", "q", "disable-content-trust"],
        interspersed: true,
    },
    CommandSpec {
        id: "network create",
        paths: &["network create"],
        uses: &["network create [OPTIONS] NETWORK"],
        short: "Create a network",
        args: ArgRule::Exactly(1),
        flags: &[
            v("driver", Some('d')),
            v("subnet", None),
            v("gateway", None),
            v("ip-range", None),
            v("opt", Some('o')),
            b("internal", None),
            b("attachable", None),
            v("label", None),
        ],
        unmodelled: &[
            "ipv6",
            "aux-address",
            "ipam-driver",
            "ipam-opt",
            "scope",
            "config-from",
            "config-only",
            "ingress",
        ],
        interspersed: true,
    },
    CommandSpec {
        id: "network ls",
        paths: &["network ls", "network list"],
        uses: &["network ls [OPTIONS]", "network ls [OPTIONS]"],
        short: "List networks",
        args: ArgRule::None,
        flags: &[b("quiet", Some('q')), b("no-trunc", None)],
        unmodelled: &["filter", "f", "format"],
        interspersed: true,
    },
    CommandSpec {
        id: "network inspect",
        paths: &["network inspect"],
        uses: &["network inspect [OPTIONS] NETWORK [NETWORK...]"],
        short: "Display detailed information on one or more networks",
        args: ArgRule::AtLeast(1),
        flags: &[v("format", Some('f'))],
        unmodelled: &["verbose", "v"],
        interspersed: true,
    },
    CommandSpec {
        id: "network rm",
        paths: &["network rm", "network remove"],
        uses: &["network rm NETWORK [NETWORK...]", "network rm NETWORK [NETWORK...]"],
        short: "Remove one or more networks",
        args: ArgRule::AtLeast(1),
        flags: &[],
        unmodelled: &[],
        interspersed: true,
    },
    CommandSpec {
        id: "network connect",
        paths: &["network connect"],
        uses: &["network connect [OPTIONS] NETWORK CONTAINER"],
        short: "Connect a container to a network",
        args: ArgRule::Exactly(2),
        flags: &[v("alias", None), v("ip", None)],
        unmodelled: &["ip6", "link", "link-local-ip", "driver-opt"],
        interspersed: true,
    },
    CommandSpec {
        id: "network disconnect",
        paths: &["network disconnect"],
        uses: &["network disconnect [OPTIONS] NETWORK CONTAINER"],
        short: "Disconnect a container from a network",
        args: ArgRule::Exactly(2),
        flags: &[b("force", Some('f'))],
        unmodelled: &[],
        interspersed: true,
    },
];

/// `docker network` with no subcommand prints this help (to stderr, exit 0); with an unknown
/// one, the same text is the error.
pub const NETWORK_USAGE: &str = "
Usage:  docker network COMMAND

Manage networks

Commands:
  connect     Connect a container to a network
  create      Create a network
  disconnect  Disconnect a container from a network
  inspect     Display detailed information on one or more networks
  ls          List networks
  prune       Remove all unused networks
  rm          Remove one or more networks

Run 'docker network COMMAND --help' for more information on a command.
";

/// Management commands whose bare form prints help.
pub const GROUPS: &[&str] =
    &["network", "container", "image", "system", "swarm", "node", "service"];

/// A swarm-mode command (`docker swarm|node|service …`): flags may follow arguments.
const fn sw(
    paths: &'static [&'static str],
    uses: &'static [&'static str],
    short: &'static str,
    args: ArgRule,
    flags: &'static [FlagSpec],
    unmodelled: &'static [&'static str],
) -> CommandSpec {
    CommandSpec { id: paths[0], paths, uses, short, args, flags, unmodelled, interspersed: true }
}

/// `addSwarmFlags` (`cli/command/swarm/opts.go`): cluster settings init and update share.
const SWARM_SETTINGS_UNMODELLED: &[&str] = &[
    "autolock",
    "cert-expiry",
    "dispatcher-heartbeat",
    "external-ca",
    "max-snapshots",
    "snapshot-interval",
];

const SWARM_INIT: CommandSpec = sw(
    &["swarm init"],
    &["swarm init [OPTIONS]"],
    "Initialize a swarm",
    ArgRule::None,
    &[v("advertise-addr", None), v("listen-addr", None)],
    &[
        "data-path-addr",
        "data-path-port",
        "force-new-cluster",
        "availability",
        "default-addr-pool",
        "default-addr-pool-mask-length",
        "task-history-limit",
        "autolock",
        "cert-expiry",
        "dispatcher-heartbeat",
        "external-ca",
        "max-snapshots",
        "snapshot-interval",
    ],
);

const SWARM_JOIN: CommandSpec = sw(
    &["swarm join"],
    &["swarm join [OPTIONS] HOST:PORT"],
    "Join a swarm as a node and/or manager",
    ArgRule::Exactly(1),
    &[v("token", None), v("advertise-addr", None), v("listen-addr", None)],
    &["data-path-addr", "availability"],
);

const SWARM_JOIN_TOKEN: CommandSpec = sw(
    &["swarm join-token"],
    &["swarm join-token [OPTIONS] (worker|manager)"],
    "Manage join tokens",
    ArgRule::Exactly(1),
    &[b("rotate", None), b("quiet", Some('q'))],
    &[],
);

const SWARM_LEAVE: CommandSpec = sw(
    &["swarm leave"],
    &["swarm leave [OPTIONS]"],
    "Leave the swarm",
    ArgRule::None,
    &[b("force", Some('f'))],
    &[],
);

const SWARM_UPDATE: CommandSpec = sw(
    &["swarm update"],
    &["swarm update [OPTIONS]"],
    "Update the swarm",
    ArgRule::None,
    &[v("task-history-limit", None)],
    SWARM_SETTINGS_UNMODELLED,
);

const NODE_LS: CommandSpec = sw(
    &["node ls", "node list"],
    &["node ls [OPTIONS]", "node ls [OPTIONS]"],
    "List nodes in the swarm",
    ArgRule::None,
    &[b("quiet", Some('q'))],
    &["filter", "f", "format"],
);

const NODE_INSPECT: CommandSpec = sw(
    &["node inspect"],
    &["node inspect [OPTIONS] self|NODE [NODE...]"],
    "Display detailed information on one or more nodes",
    ArgRule::AtLeast(1),
    &[b("pretty", None)],
    &["format", "f"],
);

const NODE_UPDATE: CommandSpec = sw(
    &["node update"],
    &["node update [OPTIONS] NODE"],
    "Update a node",
    ArgRule::Exactly(1),
    &[v("availability", None), v("role", None), v("label-add", None), v("label-rm", None)],
    &[],
);

const NODE_PROMOTE: CommandSpec = sw(
    &["node promote"],
    &["node promote NODE [NODE...]"],
    "Promote one or more nodes to manager in the swarm",
    ArgRule::AtLeast(1),
    &[],
    &[],
);

const NODE_DEMOTE: CommandSpec = sw(
    &["node demote"],
    &["node demote NODE [NODE...]"],
    "Demote one or more nodes from manager in the swarm",
    ArgRule::AtLeast(1),
    &[],
    &[],
);

const NODE_RM: CommandSpec = sw(
    &["node rm", "node remove"],
    &["node rm [OPTIONS] NODE [NODE...]", "node rm [OPTIONS] NODE [NODE...]"],
    "Remove one or more nodes from the swarm",
    ArgRule::AtLeast(1),
    &[b("force", Some('f'))],
    &[],
);

/// `docker service create` options the simulator does not model (`cli/command/service/opts.go`).
const SERVICE_UNMODELLED: &[&str] = &[
    "mount",
    "secret",
    "config",
    "hostname",
    "host",
    "user",
    "u",
    "workdir",
    "w",
    "entrypoint",
    "init",
    "limit-cpu",
    "limit-memory",
    "limit-pids",
    "reserve-cpu",
    "reserve-memory",
    "restart-condition",
    "restart-delay",
    "restart-max-attempts",
    "restart-window",
    "update-parallelism",
    "update-delay",
    "update-monitor",
    "update-failure-action",
    "update-max-failure-ratio",
    "update-order",
    "rollback-parallelism",
    "rollback-delay",
    "rollback-monitor",
    "rollback-failure-action",
    "rollback-max-failure-ratio",
    "rollback-order",
    "placement-pref",
    "replicas-max-per-node",
    "max-concurrent",
    "dns",
    "dns-option",
    "dns-search",
    "health-cmd",
    "no-healthcheck",
    "stop-grace-period",
    "stop-signal",
    "container-label",
    "env-file",
    "group",
    "cap-add",
    "cap-drop",
    "sysctl",
    "ulimit",
    "read-only",
    "tty",
    "t",
    "log-driver",
    "log-opt",
    "no-resolve-image",
    "with-registry-auth",
    "isolation",
    "generic-resource",
];

const SERVICE_CREATE: CommandSpec = CommandSpec {
    interspersed: false,
    ..sw(
        &["service create"],
        &["service create [OPTIONS] IMAGE [COMMAND] [ARG...]"],
        "Create a new service",
        ArgRule::AtLeast(1),
        &[
            v("name", None),
            v("replicas", None),
            v("mode", None),
            v("constraint", None),
            v("network", None),
            v("publish", Some('p')),
            v("endpoint-mode", None),
            v("env", Some('e')),
            v("label", Some('l')),
            b("detach", Some('d')),
            b("quiet", Some('q')),
        ],
        SERVICE_UNMODELLED,
    )
};

const SERVICE_LS: CommandSpec = sw(
    &["service ls", "service list"],
    &["service ls [OPTIONS]", "service ls [OPTIONS]"],
    "List services",
    ArgRule::None,
    &[b("quiet", Some('q'))],
    &["filter", "f", "format"],
);

const SERVICE_PS: CommandSpec = sw(
    &["service ps"],
    &["service ps [OPTIONS] SERVICE [SERVICE...]"],
    "List the tasks of one or more services",
    ArgRule::AtLeast(1),
    &[b("no-trunc", None), b("quiet", Some('q')), v("filter", Some('f')), v("format", None)],
    &["no-resolve"],
);

const SERVICE_INSPECT: CommandSpec = sw(
    &["service inspect"],
    &["service inspect [OPTIONS] SERVICE [SERVICE...]"],
    "Display detailed information on one or more services",
    ArgRule::AtLeast(1),
    &[b("pretty", None), v("format", Some('f'))],
    &[],
);

const SERVICE_SCALE: CommandSpec = sw(
    &["service scale"],
    &["service scale SERVICE=REPLICAS [SERVICE=REPLICAS...]"],
    "Scale one or multiple replicated services",
    ArgRule::AtLeast(1),
    &[b("detach", Some('d'))],
    &[],
);

const SERVICE_UPDATE: CommandSpec = sw(
    &["service update"],
    &["service update [OPTIONS] SERVICE"],
    "Update a service",
    ArgRule::Exactly(1),
    &[
        v("replicas", None),
        v("image", None),
        v("constraint-add", None),
        v("constraint-rm", None),
        v("publish-add", None),
        v("publish-rm", None),
        v("network-add", None),
        v("network-rm", None),
        v("env-add", None),
        b("force", None),
        b("detach", Some('d')),
        b("quiet", Some('q')),
    ],
    SERVICE_UNMODELLED,
);

const SERVICE_RM: CommandSpec = sw(
    &["service rm", "service remove"],
    &["service rm SERVICE [SERVICE...]", "service rm SERVICE [SERVICE...]"],
    "Remove one or more services",
    ArgRule::AtLeast(1),
    &[],
    &[],
);

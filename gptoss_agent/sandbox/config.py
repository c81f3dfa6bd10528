"""What a sandbox session is made of (:class:`SandboxConfig`): image, engine, user, limits.

Limits live in :class:`~gptoss_agent.sandbox.limits.SandboxLimits`; this module adds what
is not a limit: which image to run, which engine to talk to, whether the network is on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gptoss_agent.sandbox.errors import SandboxConfigError
from gptoss_agent.sandbox.limits import SandboxLimits

DEFAULT_IMAGE = "gptoss-agent-sandbox:latest"
"""Name of the image ``sandbox build`` produces and sessions run by default."""

SANDBOX_UID = 1000
"""User id of the unprivileged ``sandbox`` user baked into the image."""

SANDBOX_HOME = "/home/sandbox"
"""Home directory of the sandbox user (a tmpfs inside the container)."""

DATA_MOUNT = "/mnt/data"
"""Where the session's persistent drive appears inside the container."""

DATA_TRANSPORTS = ("auto", "bind", "copy")
"""How ``/mnt/data`` can reach the container (see :attr:`SandboxConfig.data_transport`)."""


def copies_data(data_transport: str, base_url: str) -> bool:
    """Whether a session on the engine at ``base_url`` moves ``/mnt/data`` by copies.

    ``"auto"`` binds only for a unix socket (the engine usually shares this machine's
    disks; the session then checks it does, :mod:`~gptoss_agent.sandbox.bindcheck`).
    """
    if data_transport != "auto":
        return data_transport == "copy"
    return not base_url.startswith(("unix://", "http+unix://", "npipe://", "http+docker://"))


@dataclass(frozen=True)
class SandboxConfig:
    """How to create a sandbox container.

    Attributes:
        image: The image to run; it must provide ``python3`` and the sandbox user.
        limits: Resource limits and deadlines.
        network: ``False`` (the default) gives the container no network interface but
            loopback. ``True`` attaches it to the engine's default bridge network, which
            only exists when the engine was started with one.
        user: ``uid:gid`` the code runs as. Never root.
        docker_host: Engine address (``unix:///var/run/docker.sock``,
            ``tcp://host:2375``); ``None`` reads ``DOCKER_HOST`` like the docker CLI.
        environment: Extra environment variables for the code.
        extra_mounts: ``(host_folder, container_path)`` pairs mounted read-write, e.g. a
            project a coding agent may edit in place. Only by explicit opt-in: code in the
            sandbox can then change (and plant links in) that host folder. Needs an
            engine on this machine (a bind mount).
        keep_background: ``False`` (the default) stops every process a call leaves
            running when the call ends, and says so in the result. ``True`` keeps them
            (a dev server a coding agent starts), still inside the container's limits,
            lists them in every result, and stops them when the session closes.
        data_transport: How ``/mnt/data`` reaches the container. ``"bind"`` mounts the
            host folder (the engine must run on this machine); ``"copy"`` keeps the
            drive in a Docker volume and moves files through the Engine API (archive
            copies before and after each call), for an engine elsewhere; ``"auto"`` (the
            default) copies for ``tcp://`` and ``ssh://``, and for a unix socket binds
            once a check shows the engine's binds see this machine's folder
            (:mod:`~gptoss_agent.sandbox.bindcheck`), else copies.

    Raises:
        SandboxConfigError: A mount path is relative, ``user`` is root, or the data
            transport is unknown.
    """

    image: str = DEFAULT_IMAGE
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    network: bool = False
    user: str = f"{SANDBOX_UID}:{SANDBOX_UID}"
    docker_host: str | None = None
    environment: tuple[tuple[str, str], ...] = ()
    extra_mounts: tuple[tuple[str, str], ...] = ()
    keep_background: bool = False
    data_transport: str = "auto"

    def __post_init__(self) -> None:
        for host, inside in self.extra_mounts:
            if not host.startswith("/") or not inside.startswith("/"):
                raise SandboxConfigError(
                    f"extra mount {host!r} -> {inside!r}: both must be absolute"
                )
        if self.data_transport not in DATA_TRANSPORTS:
            raise SandboxConfigError(
                f"SandboxConfig.data_transport must be one of {', '.join(DATA_TRANSPORTS)}, "
                f"got {self.data_transport!r}"
            )
        uid = self.user.split(":", 1)[0]
        if uid in ("0", "root", ""):
            raise SandboxConfigError("SandboxConfig.user must not be root")

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
            sandbox can then change (and plant links in) that host folder.

    Raises:
        SandboxConfigError: A mount path is relative, or ``user`` is root.
    """

    image: str = DEFAULT_IMAGE
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    network: bool = False
    user: str = f"{SANDBOX_UID}:{SANDBOX_UID}"
    docker_host: str | None = None
    environment: tuple[tuple[str, str], ...] = ()
    extra_mounts: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for host, inside in self.extra_mounts:
            if not host.startswith("/") or not inside.startswith("/"):
                raise SandboxConfigError(
                    f"extra mount {host!r} -> {inside!r}: both must be absolute"
                )
        uid = self.user.split(":", 1)[0]
        if uid in ("0", "root", ""):
            raise SandboxConfigError("SandboxConfig.user must not be root")

"""Resource limits and deadlines of one sandbox session (:class:`SandboxLimits`).

The defaults are the hardened defaults the python tool uses; every field is a plain
number so a task file can override it. How each limit is enforced is documented on the
field and in ``docs/sandbox.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptoss_agent.sandbox.errors import SandboxConfigError

MIB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one sandbox container and of each call into it.

    Attributes:
        timeout_s: Wall-clock deadline of one call, enforced from the host. At the
            deadline the code is interrupted (``KeyboardInterrupt``); if the kernel does
            not answer within ``interrupt_grace_s`` the container is killed and restarted.
        interrupt_grace_s: How long the host waits for the kernel after an interrupt.
        memory_mb: Memory limit of the container, tmpfs included. Swap is set to the
            same value, so the container cannot swap.
        cpus: CPU quota (``1.5`` = one and a half cores).
        pids: Most processes and threads alive in the container at once (cgroup).
        nofile: Most open file descriptors per process (``RLIMIT_NOFILE``).
        nproc: ``RLIMIT_NPROC`` of the sandbox user. Linux counts it per user id across
            the host, so it is a coarse second line; ``pids`` is the per-container limit.
        tmp_mb: Size of the ``/tmp`` tmpfs (the root filesystem is read-only).
        home_mb: Size of the tmpfs holding the sandbox user's home directory.
        data_mb: Quota of the ``/mnt/data`` drive. One file cannot grow past it
            (``RLIMIT_FSIZE``); the total is measured from the host during each call and
            the call is stopped once the drive exceeds it.
        data_files: Most files and folders the ``/mnt/data`` drive may hold; watched
            like ``data_mb``, so a flood of empty files is stopped too.
        output_bytes: Most bytes kept of each of stdout and stderr per call (head and
            tail are kept, the middle is cut and counted).
        value_chars: Most characters kept of the ``repr`` of a trailing expression.
        startup_timeout_s: Deadline for a new container to answer its first request.
        api_timeout_s: Deadline of each Docker Engine API request.
        lower_after_s: A call still running after this long runs at the lowest CPU
            weight until it ends, so that, when the CPUs are short, the short calls of
            other sessions go first (see :mod:`gptoss_agent.sandbox.priority`);
            ``None`` keeps every call at the same weight.

    Raises:
        SandboxConfigError: A limit is not positive, or ``pids`` is below 16.
    """

    timeout_s: float = 120.0
    interrupt_grace_s: float = 2.0
    memory_mb: int = 2048
    cpus: float = 1.0
    pids: int = 256
    nofile: int = 1024
    nproc: int = 4096
    tmp_mb: int = 512
    home_mb: int = 64
    data_mb: int = 1024
    data_files: int = 10_000
    output_bytes: int = 1 << 20
    value_chars: int = 8 * 1024
    startup_timeout_s: float = 30.0
    api_timeout_s: float = 30.0
    lower_after_s: float | None = 1.0

    def __post_init__(self) -> None:
        positive = {
            "timeout_s": self.timeout_s,
            "interrupt_grace_s": self.interrupt_grace_s,
            "memory_mb": self.memory_mb,
            "cpus": self.cpus,
            "pids": self.pids,
            "nofile": self.nofile,
            "nproc": self.nproc,
            "tmp_mb": self.tmp_mb,
            "home_mb": self.home_mb,
            "data_mb": self.data_mb,
            "data_files": self.data_files,
            "output_bytes": self.output_bytes,
            "value_chars": self.value_chars,
            "startup_timeout_s": self.startup_timeout_s,
            "api_timeout_s": self.api_timeout_s,
        }
        if self.lower_after_s is not None:
            positive["lower_after_s"] = self.lower_after_s
        for name, value in positive.items():
            if not value > 0:
                raise SandboxConfigError(f"SandboxLimits.{name} must be positive, got {value!r}")
        if self.pids < 16:
            raise SandboxConfigError(
                "SandboxLimits.pids must be at least 16 (the kernel needs a few)"
            )

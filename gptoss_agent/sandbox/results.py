"""What one call into the sandbox produced (:class:`ExecutionResult`).

The value is the notebook's view of a cell: captured stdout and stderr (capped, with the
number of bytes cut), the error with its traceback, the ``repr`` of a trailing
expression, plus what the host learned: whether the call timed out, whether the
session's state was lost, and which files under ``/mnt/data`` changed.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExecutionStatus(str, enum.Enum):
    """How a call ended.

    Attributes:
        OK: The code ran to the end.
        ERROR: The code raised; ``error`` holds the traceback. State is kept.
        TIMEOUT: The deadline passed. If the kernel answered the interrupt the state is
            kept; otherwise the container was restarted (``state_reset``).
        QUOTA: The ``/mnt/data`` drive went over its quota (bytes or number of files)
            and the call was stopped.
        CRASHED: The Python process died (``os._exit``, out of memory, killed from
            outside); the container was replaced and the state is lost.
    """

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    QUOTA = "quota"
    CRASHED = "crashed"


@dataclass(frozen=True)
class ExceptionInfo:
    """An exception raised by the code (a record of it, not an exception itself).

    Attributes:
        name: The exception class name (``ZeroDivisionError``).
        message: ``str()`` of the exception.
        traceback: The formatted traceback, kernel frames removed, as a notebook shows it.
    """

    name: str
    message: str
    traceback: str


@dataclass(frozen=True)
class ExecutionResult:
    """Everything one call produced.

    Attributes:
        status: How the call ended.
        stdout: Captured standard output (Python and subprocesses), head and tail kept.
        stderr: Captured standard error, head and tail kept.
        stdout_cut: Bytes of stdout that were cut from the middle.
        stderr_cut: Bytes of stderr that were cut from the middle.
        value: ``repr`` of the trailing expression, or ``None``.
        error: The exception, for ``ERROR`` (and ``KeyboardInterrupt`` on ``TIMEOUT``).
        state_reset: ``True`` when variables and imports were lost (the container was
            replaced). Files in ``/mnt/data`` survive a reset.
        detail: A sentence for the model about timeouts, resets and quotas, or ``""``.
        duration_s: Wall-clock time of the call as seen from the host, including
            starting the container when the call had to.
        files_created: Paths (relative to the data folder) that appeared during the call.
        files_modified: Paths whose size or modification time changed during the call.
        limit: The limit the call ran into, named as its
            :class:`~gptoss_agent.sandbox.limits.SandboxLimits` field (``"pids"``,
            ``"memory_mb"``, ``"nofile"``, ``"tmp_mb"``, ``"data_mb"``, ``"data_files"``,
            ``"timeout_s"``), or ``None``.
        stopped_processes: Commands of the processes the call left running that were
            stopped when it ended (the first 20; ``stopped_count`` counts them all).
        stopped_count: How many processes were stopped after the call.
        background_processes: ``"pid command"`` of the processes kept running between
            calls (only with ``SandboxConfig.keep_background``; the first 20).
        background_count: How many processes are kept running.
    """

    status: ExecutionStatus
    stdout: str = ""
    stderr: str = ""
    stdout_cut: int = 0
    stderr_cut: int = 0
    value: str | None = None
    error: ExceptionInfo | None = None
    state_reset: bool = False
    detail: str = ""
    duration_s: float = 0.0
    files_created: tuple[str, ...] = ()
    files_modified: tuple[str, ...] = ()
    limit: str | None = None
    stopped_processes: tuple[str, ...] = ()
    stopped_count: int = 0
    background_processes: tuple[str, ...] = ()
    background_count: int = 0

    @property
    def ok(self) -> bool:
        """Whether the code ran to the end without raising."""
        return self.status is ExecutionStatus.OK

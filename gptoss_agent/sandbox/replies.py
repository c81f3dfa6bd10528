"""From what the kernel said (or failed to say) to an :class:`ExecutionResult`.

Pure functions, no I/O. :func:`result_from_reply` reads the kernel's ``result`` message:
clipped streams are joined around a cut marker, the error becomes an
:class:`~gptoss_agent.sandbox.results.ExceptionInfo`, and timeouts, quota stops and the
process limit get a sentence for the model. :func:`result_from_lost` covers a kernel that
is gone or ignored the interrupt (the caller replaces the container), and
:func:`exit_cause` says in a sentence why a container stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gptoss_agent.sandbox.channel import CellOutcome
from gptoss_agent.sandbox.limits import SandboxLimits
from gptoss_agent.sandbox.results import ExceptionInfo, ExecutionResult, ExecutionStatus

STATE_LOST = "Its state was reset: variables and imports are gone; files in /mnt/data were kept."
"""The sentence that ends the detail of every call that lost the session's state."""

STDERR_TAIL_CHARS = 2000
"""Characters of the container's own stderr shown when the kernel crashed."""


def cut_marker(cut: int, unit: str = "bytes") -> str:
    """The line that replaces the middle of a capped text."""
    return f"\n[... {cut:,} {unit} of output cut ...]\n"


def join_clip(clip: Mapping[str, Any] | None, unit: str = "bytes") -> tuple[str, int]:
    """Rebuild a kernel clip (head, tail, cut) as text with a cut marker.

    Returns:
        The text and how many ``unit`` were cut from its middle.
    """
    if not clip:
        return "", 0
    head, tail, cut = str(clip.get("head", "")), str(clip.get("tail", "")), int(clip.get("cut", 0))
    if cut <= 0:
        return head + tail, 0
    return head + cut_marker(cut, unit) + tail, cut


def quota_sentence(data_mb: int) -> str:
    """What the model is told when ``/mnt/data`` went over its quota."""
    return (
        f"Stopped: /mnt/data grew past its quota of {data_mb} MB; "
        "delete files there to free space."
    )


def result_from_reply(
    outcome: CellOutcome, timeout_s: float, limits: SandboxLimits
) -> ExecutionResult:
    """The result of a call the kernel answered.

    Args:
        outcome: What the host saw; ``outcome.reply`` is the kernel's ``result`` message.
        timeout_s: The call's deadline (named in the timeout sentence).
        limits: The session's limits (the quota is named in the quota sentence).
    """
    reply = outcome.reply or {}
    stdout, stdout_cut = join_clip(reply.get("stdout"))
    stderr, stderr_cut = join_clip(reply.get("stderr"))
    status, detail = _status_and_detail(reply, outcome.stopped, timeout_s, limits.data_mb)
    value = join_clip(reply["value"], "characters")[0] if reply.get("value") else None
    return ExecutionResult(
        status=status,
        stdout=stdout,
        stderr=stderr,
        stdout_cut=stdout_cut,
        stderr_cut=stderr_cut,
        value=value,
        error=_exception(reply.get("error")),
        detail=detail,
        duration_s=outcome.duration_s,
    )


def _exception(raw: object) -> ExceptionInfo | None:
    if not isinstance(raw, dict):
        return None
    return ExceptionInfo(
        name=str(raw.get("name", "")),
        message=str(raw.get("message", "")),
        traceback=join_clip(raw.get("traceback"), "characters")[0],
    )


def _status_and_detail(
    reply: Mapping[str, Any], stopped: str | None, timeout_s: float, data_mb: int
) -> tuple[ExecutionStatus, str]:
    killed = int(reply.get("killed") or 0)
    leftovers = f" {killed} leftover process(es) were killed." if killed else ""
    kernel_status = reply.get("status")
    if kernel_status == "interrupted" or stopped:
        if stopped == "quota":
            kept = " Variables and imports were kept."
            return ExecutionStatus.QUOTA, quota_sentence(data_mb) + kept + leftovers
        return ExecutionStatus.TIMEOUT, (
            f"Execution timed out after {timeout_s:g} seconds and was interrupted "
            f"(KeyboardInterrupt); variables and imports were kept.{leftovers}"
        )
    if kernel_status != "error":
        return ExecutionStatus.OK, ""
    if reply.get("exhausted") or killed:
        return ExecutionStatus.ERROR, (
            f"The process limit was reached;{leftovers or ' no leftover process remained.'} "
            "Variables and imports were kept."
        )
    return ExecutionStatus.ERROR, ""


def result_from_lost(
    outcome: CellOutcome, timeout_s: float, limits: SandboxLimits, cause: str, stderr_tail: str
) -> ExecutionResult:
    """The result of a call whose kernel is gone (the container is being replaced).

    Args:
        outcome: What the host saw (``outcome.reply`` is ``None``).
        timeout_s: The call's deadline.
        limits: The session's limits.
        cause: Why the kernel stopped (from :func:`exit_cause`), for a crash.
        stderr_tail: The last bytes the container wrote to its stderr.
    """
    if outcome.stopped == "quota":
        status = ExecutionStatus.QUOTA
        detail = (
            f"{quota_sentence(limits.data_mb)} The code did not stop when interrupted, so "
            f"the sandbox was restarted. {STATE_LOST}"
        )
    elif outcome.stopped:
        status = ExecutionStatus.TIMEOUT
        detail = (
            f"Execution timed out after {timeout_s:g} seconds and did not stop when "
            f"interrupted, so the sandbox was restarted. {STATE_LOST}"
        )
    else:
        status = ExecutionStatus.CRASHED
        detail = f"{cause} {STATE_LOST}"
    crashed = status is ExecutionStatus.CRASHED
    return ExecutionResult(
        status=status,
        stderr=stderr_tail.strip()[-STDERR_TAIL_CHARS:] if crashed else "",
        state_reset=True,
        detail=detail,
        duration_s=outcome.duration_s,
    )


def exit_cause(state: Mapping[str, Any], memory_mb: int) -> str:
    """Why a container's kernel stopped, from its ``State`` (empty: the container is gone).

    Args:
        state: The ``State`` of ``docker inspect`` after the container stopped.
        memory_mb: The memory limit, named when the kernel was killed for memory.
    """
    if not state:
        return "The sandbox container disappeared (removed from outside)."
    if state.get("OOMKilled"):
        return (
            "The Python process was killed because it ran out of memory "
            f"(limit {memory_mb} MB)."
        )
    code = state.get("ExitCode")
    if code == 137:
        return "The sandbox was killed (SIGKILL) from outside."
    if code in (None, 0, -1) and state.get("Running"):
        return "The Python process stopped answering."
    return f"The Python process exited (exit code {code})."

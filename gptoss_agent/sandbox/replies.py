"""From what the kernel said (or failed to say) to an :class:`ExecutionResult`.

Pure functions, no I/O. :func:`result_from_reply` reads the kernel's ``result`` message:
clipped streams are joined around a cut marker, the error becomes an
:class:`~gptoss_agent.sandbox.results.ExceptionInfo`, and timeouts, quota stops and the
process limit get a sentence for the model. :func:`result_from_lost` covers a kernel that
is gone or ignored the interrupt (the caller replaces the container), and
:func:`exit_cause` says in a sentence why a container stopped.
"""

from __future__ import annotations

import dataclasses
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


def quota_sentence(limits: SandboxLimits, reason: str = "quota") -> str:
    """What the model is told when ``/mnt/data`` went over its quota (bytes or files)."""
    if reason == "files":
        return (
            f"Stopped: /mnt/data holds more than its limit of {limits.data_files:,} files "
            "and folders (limit data_files); delete files there to make room."
        )
    return (
        f"Stopped: /mnt/data grew past its quota of {limits.data_mb} MB (limit data_mb); "
        "delete files there to free space."
    )


QUOTA_REASONS = {"quota": "data_mb", "files": "data_files"}
"""Watchdog reasons that mean the drive's quota, and the limit each one names."""

_ERRNO_LIMITS = {12: "memory_mb", 24: "nofile", 27: "data_mb", 28: "tmp_mb"}
"""``errno`` values the container's limits produce, and the limit each one names (the
process limit's ``EAGAIN`` is the kernel's ``exhausted``: a non-blocking socket raises it
too)."""


def result_from_reply(
    outcome: CellOutcome, timeout_s: float, limits: SandboxLimits
) -> ExecutionResult:
    """The result of a call the kernel answered.

    Args:
        outcome: What the host saw; ``outcome.reply`` is the kernel's ``result`` message.
        timeout_s: The call's deadline (named in the timeout sentence).
        limits: The session's limits (named in the sentences about them).
    """
    reply = outcome.reply or {}
    stdout, stdout_cut = join_clip(reply.get("stdout"))
    stderr, stderr_cut = join_clip(reply.get("stderr"))
    status, detail, limit = _status_and_detail(reply, outcome.stopped, timeout_s, limits)
    stopped = _commands(reply.get("stopped"), with_pid=False)
    background = _commands(reply.get("background"), with_pid=True)
    notes = [detail, _process_note(reply, stopped, background)]
    value = join_clip(reply["value"], "characters")[0] if reply.get("value") else None
    if limit is None and (stdout_cut or stderr_cut):
        limit = "output_bytes"  # the cut marker in the text says how much
    return ExecutionResult(
        status=status,
        stdout=stdout,
        stderr=stderr,
        stdout_cut=stdout_cut,
        stderr_cut=stderr_cut,
        value=value,
        error=_exception(reply.get("error")),
        detail=" ".join(note for note in notes if note),
        duration_s=outcome.duration_s,
        limit=limit,
        stopped_processes=stopped,
        stopped_count=int(reply.get("killed") or 0),
        background_processes=background,
        background_count=int(reply.get("background_count") or 0),
    )


def _commands(raw: object, with_pid: bool) -> tuple[str, ...]:
    if not isinstance(raw, list):
        return ()
    found = []
    for item in raw:
        if isinstance(item, dict):
            command = str(item.get("command", "?"))
            found.append(f"{item.get('pid')} {command}" if with_pid else command)
    return tuple(found)


def _process_note(
    reply: Mapping[str, Any], stopped: tuple[str, ...], background: tuple[str, ...]
) -> str:
    """The sentence about processes the call left behind (stopped, or kept running)."""
    notes = []
    killed = int(reply.get("killed") or 0)
    if killed:
        shown = "; ".join(f"`{c}`" for c in stopped[:5])
        more = f" and {killed - len(stopped[:5])} more" if killed > len(stopped[:5]) else ""
        notes.append(
            f"{killed} process(es) left running by the code were stopped when the call "
            f"ended: {shown}{more}."
        )
    running = int(reply.get("background_count") or 0)
    if running:
        shown = "; ".join(f"pid {c.split(' ', 1)[0]} `{c.split(' ', 1)[-1]}`"
                          for c in background[:5])
        more = f" and {running - len(background[:5])} more" if running > len(background[:5]) else ""
        notes.append(
            f"{running} background process(es) keep running between calls: {shown}{more}."
        )
    return " ".join(notes)


def _exception(raw: object) -> ExceptionInfo | None:
    if not isinstance(raw, dict):
        return None
    return ExceptionInfo(
        name=str(raw.get("name", "")),
        message=str(raw.get("message", "")),
        traceback=join_clip(raw.get("traceback"), "characters")[0],
    )


def over_quota_after(
    result: ExecutionResult, reason: str | None, limits: SandboxLimits
) -> ExecutionResult:
    """``result`` of a call that ran to its end, marked when it left the drive over quota.

    A call that succeeded becomes ``QUOTA``; one that raised keeps its status (and the
    limit its error named, if any). Either way the sentence says what to do.

    Args:
        result: What the kernel answered.
        reason: The quota watchdog's verdict after the call (``"quota"``, ``"files"``,
            or ``None`` when the drive is within its limits).
        limits: The session's limits (named in the sentence).
    """
    if reason not in QUOTA_REASONS:
        return result
    sentence = quota_sentence(limits, reason).replace(
        "Stopped: ", "The call ended, but ", 1
    )
    return dataclasses.replace(
        result,
        status=ExecutionStatus.QUOTA if result.ok else result.status,
        limit=result.limit or QUOTA_REASONS[reason],
        detail=" ".join(note for note in (result.detail, sentence) if note),
    )


def limit_sentence(limit: str, limits: SandboxLimits) -> str:
    """The sentence that names a limit the code ran into."""
    sentences = {
        "pids": f"The process limit was reached (pids: at most {limits.pids} processes "
        "and threads in the sandbox).",
        "nofile": f"The open-file limit was reached (nofile: at most {limits.nofile} open "
        "files per process).",
        "data_mb": f"A file reached the size limit of one file (data_mb: {limits.data_mb} "
        "MB, the /mnt/data quota).",
        "tmp_mb": f"A filesystem is full (tmp_mb: /tmp holds {limits.tmp_mb} MB; home_mb: "
        f"the home folder {limits.home_mb} MB).",
        "memory_mb": f"The memory limit was reached (memory_mb: {limits.memory_mb} MB).",
    }
    return sentences.get(limit, f"The limit {limit} was reached.")


def _error_limit(reply: Mapping[str, Any]) -> str | None:
    raw = reply.get("error")
    error: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    if reply.get("exhausted"):
        return "pids"
    if error.get("name") == "MemoryError":
        return "memory_mb"
    code = error.get("errno")
    return _ERRNO_LIMITS.get(code) if isinstance(code, int) else None


def _status_and_detail(
    reply: Mapping[str, Any], stopped: str | None, timeout_s: float, limits: SandboxLimits
) -> tuple[ExecutionStatus, str, str | None]:
    kernel_status = reply.get("status")
    if kernel_status == "interrupted" or stopped:
        if stopped in QUOTA_REASONS:
            kept = " Variables and imports were kept."
            return ExecutionStatus.QUOTA, quota_sentence(limits, stopped) + kept, (
                QUOTA_REASONS[stopped])
        return ExecutionStatus.TIMEOUT, (
            f"Execution timed out after {timeout_s:g} seconds (limit timeout_s) and was "
            "interrupted (KeyboardInterrupt); variables and imports were kept."
        ), "timeout_s"
    if kernel_status != "error":
        return ExecutionStatus.OK, "", None
    limit = _error_limit(reply)
    if limit is None:
        return ExecutionStatus.ERROR, "", None
    return ExecutionStatus.ERROR, (
        f"{limit_sentence(limit, limits)} Variables and imports were kept."
    ), limit


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
    limit: str | None
    if outcome.stopped in QUOTA_REASONS:
        status, limit = ExecutionStatus.QUOTA, QUOTA_REASONS[outcome.stopped]
        detail = (
            f"{quota_sentence(limits, outcome.stopped)} The code did not stop when "
            f"interrupted, so the sandbox was restarted. {STATE_LOST}"
        )
    elif outcome.stopped:
        status, limit = ExecutionStatus.TIMEOUT, "timeout_s"
        detail = (
            f"Execution timed out after {timeout_s:g} seconds (limit timeout_s) and did "
            f"not stop when interrupted, so the sandbox was restarted. {STATE_LOST}"
        )
    else:
        status = ExecutionStatus.CRASHED
        limit = "memory_mb" if "out of memory" in cause else None
        detail = f"{cause} {STATE_LOST}"
    crashed = status is ExecutionStatus.CRASHED
    return ExecutionResult(
        status=status,
        stderr=stderr_tail.strip()[-STDERR_TAIL_CHARS:] if crashed else "",
        state_reset=True,
        detail=detail,
        duration_s=outcome.duration_s,
        limit=limit,
    )


def reset_after_cancel(result: ExecutionResult) -> ExecutionResult:
    """``result``, said to have run on a fresh container.

    For the first call after a cancelled call whose code ignored its interrupt: that
    container was replaced, and no result has said so yet.
    """
    said = ("The previous call was cancelled and its code did not stop when "
            f"interrupted, so the sandbox was restarted before this call. {STATE_LOST}")
    detail = f"{said} {result.detail}" if result.detail else said
    return dataclasses.replace(result, state_reset=True, detail=detail)


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
            f"(limit memory_mb: {memory_mb} MB)."
        )
    code = state.get("ExitCode")
    if code == 137:
        return "The sandbox was killed (SIGKILL) from outside."
    if code in (None, 0, -1) and state.get("Running"):
        return "The Python process stopped answering."
    return f"The Python process exited (exit code {code})."

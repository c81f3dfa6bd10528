"""The ``python`` tool: gpt-oss's built-in stateful notebook, run in a hardened sandbox.

One sandbox (a Docker container with a persistent kernel, see
:mod:`gptoss_agent.sandbox`) per ``ToolContext.session_id``, started on the first call
and reused, so variables, imports and files persist between calls. ``/mnt/data`` of each
session is a folder on the host: place input files there before a run with
:meth:`PythonTool.put_file` / :meth:`PythonTool.copy_in`, and find the outputs afterwards
with :meth:`PythonTool.data_dir`. The description the model sees is the one gpt-oss was
trained with, stating the real timeout and whether the network is on.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gptoss_agent.sandbox import (
    DockerSandbox,
    ExecutionResult,
    Sandbox,
    SandboxConfig,
    SandboxError,
    SandboxPool,
)
from gptoss_agent.sandbox.datadir import DataDir
from gptoss_agent.tools.base import NamespaceSpec, ToolCall, ToolContext, ToolResult
from gptoss_agent.tools.errors import ToolUnavailableError
from gptoss_agent.tools.output_pages import keep_in_drive

logger = logging.getLogger(__name__)

DESCRIPTION_TEMPLATE = (
    "Use this tool to execute Python code in your chain of thought. The code will not be "
    "shown to the user. This tool should be used for internal reasoning, but not for code "
    "that is intended to be visible to the user (e.g. when creating plots, tables, or "
    "files).\n\n"
    "When you send a message containing Python code to python, it will be executed in a "
    "stateful Jupyter notebook environment. python will respond with the output of the "
    "execution or time out after {timeout} seconds. The drive at '/mnt/data' can be used "
    "to save and persist user files. Internet access for this session is {internet}."
)
"""gpt-oss's trained description of ``python``, with the two facts that vary filled in."""

DEFAULT_MAX_OUTPUT_CHARS = 1_000_000

SandboxFactory = Callable[[str, Path], Sandbox]
"""Makes the sandbox of a session: ``(session_id, data folder) -> Sandbox``."""


def describe(timeout_s: float, network: bool) -> str:
    """The description the model sees for a sandbox with this timeout and network."""
    return DESCRIPTION_TEMPLATE.format(
        timeout=repr(float(timeout_s)), internet="enabled" if network else "disabled"
    )


def session_folder_name(session_id: str) -> str:
    """A file-system-safe, collision-resistant folder name for a session id."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", session_id).strip("._")[:80]
    if slug == session_id and slug:
        return slug
    import hashlib

    digest = hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug or 'session'}-{digest}"


def _join(parts: list[str]) -> str:
    text = ""
    for part in parts:
        if not part:
            continue
        if text and not text.endswith("\n"):
            text += "\n"
        text += part
    return text


def cap_text(text: str, max_chars: int) -> tuple[str, int]:
    """Keep the head and tail of ``text`` within ``max_chars``; say how much was cut."""
    if len(text) <= max_chars:
        return text, 0
    head = max_chars - max_chars // 2
    tail = max_chars // 2
    cut = len(text) - head - tail
    return (
        text[:head] + f"\n[... {cut:,} characters of output cut ...]\n" + text[len(text) - tail :],
        cut,
    )


def render_result(result: ExecutionResult, max_chars: int) -> tuple[str, int]:
    """What the model reads: what a notebook would show, then any note from the host."""
    parts = [result.stdout, result.stderr]
    if result.error is not None:
        parts.append(result.error.traceback)
    if result.value is not None:
        parts.append(result.value)
    text, cut = cap_text(_join(parts), max_chars)
    if result.detail:
        text = _join([text, f"[{result.detail}]"])
    return text, cut


class PythonTool:
    """The ``python`` namespace, backed by one sandbox per session.

    Args:
        config: Image, limits and network of every session's sandbox.
        data_dir: Parent folder of the sessions' drives; session ``s`` gets
            ``data_dir/<s>``. Default: a new temporary folder, kept after the run.
        sandbox_factory: Makes a session's sandbox (tests swap it); default
            :class:`~gptoss_agent.sandbox.DockerSandbox`.
        max_output_chars: Most characters of one result the model reads.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        data_dir: str | os.PathLike[str] | None = None,
        sandbox_factory: SandboxFactory | None = None,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    ) -> None:
        self.config = config or SandboxConfig()
        self._data_root = Path(data_dir).absolute() if data_dir is not None else None
        self._factory = sandbox_factory or self._docker_sandbox
        self._pool = SandboxPool(self._make)
        self._max_output_chars = max_output_chars

    # -- Tool protocol -------------------------------------------------------------------

    @property
    def spec(self) -> NamespaceSpec:
        """``python``: builtin, freeform, with the real timeout and network state."""
        return NamespaceSpec(
            name="python",
            description=describe(self.config.limits.timeout_s, self.config.network),
            builtin=True,
        )

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        """Run ``call.arguments`` as the next cell of the session's notebook.

        Raises:
            ToolUnavailableError: Docker or the sandbox image is missing or broken
                (nothing the model can fix).
        """
        timeout = self.call_deadline(context.timeout_s)
        sandbox = self._pool.get(context.session_id)
        try:
            result = await sandbox.execute(call.arguments, timeout_s=timeout)
        except SandboxError as exc:
            raise ToolUnavailableError(f"python sandbox unavailable: {exc}") from exc
        text, cut = render_result(result, self._max_output_chars)
        metadata: dict[str, Any] = {
            "status": result.status.value,
            "duration_ms": round(result.duration_s * 1000, 1),
            "state_reset": result.state_reset,
            "stdout_cut_bytes": result.stdout_cut,
            "stderr_cut_bytes": result.stderr_cut,
            "output_cut_chars": cut,
            "files_created": list(result.files_created),
            "files_modified": list(result.files_modified),
            "data_dir": str(sandbox.data_dir),
            "limit": result.limit,
            "stopped_processes": list(result.stopped_processes),
            "stopped_count": result.stopped_count,
            "background_processes": list(result.background_processes),
            "background_count": result.background_count,
        }
        return ToolResult(text=text, is_error=not result.ok, metadata=metadata)

    def call_deadline(self, caller_timeout_s: float | None) -> float:
        """The sandbox's deadline for a call the caller gives ``caller_timeout_s``.

        When the caller's deadline binds, the sandbox stops the code a little earlier
        (the interrupt's grace, at most half the time), so the model reads the
        sandbox's own account (interrupted, state kept) instead of a bare timeout.
        """
        timeout = self.config.limits.timeout_s
        if caller_timeout_s is None or caller_timeout_s >= timeout:
            return timeout
        reserve = min(self.config.limits.interrupt_grace_s + 0.5, caller_timeout_s / 2)
        return max(0.001, caller_timeout_s - reserve)

    async def close_session(self, session_id: str) -> None:
        """Remove one session's container (its data folder is kept). Idempotent."""
        try:
            await self._pool.close(session_id)
        except SandboxError as exc:
            logger.warning("python tool: sandbox %s could not be removed: %s", session_id, exc)

    async def aclose(self) -> None:
        """Remove every session's container (data folders are kept). Idempotent."""
        try:
            await self._pool.aclose()
        except SandboxError as exc:
            logger.warning("python tool: a sandbox could not be removed: %s", exc)
        self._pool = SandboxPool(self._make)

    # -- data folders ----------------------------------------------------------------------

    @property
    def data_root(self) -> Path:
        """The folder holding every session's drive (created on first use)."""
        if self._data_root is None:
            self._data_root = Path(tempfile.mkdtemp(prefix="gptoss-agent-data-"))
        return self._data_root

    def data_dir(self, session_id: str) -> Path:
        """The host folder that is ``/mnt/data`` for ``session_id`` (created if missing)."""
        sandbox = self._pool.peek(session_id)
        if sandbox is not None:
            return sandbox.data_dir
        return self._drive(session_id).path

    def keep_output(self, session_id: str, output_id: str, text: str) -> str:
        """Keep a long result's full text in ``/mnt/data/.tool_outputs/<id>.txt``.

        The loop calls this (:class:`~gptoss_agent.tools.base.OutputKeeper`) when a result
        is over its token budget; the model reads the file with python itself.
        """
        return keep_in_drive(self.put_file, session_id, output_id, text)

    def put_file(self, session_id: str, name: str, data: bytes | str) -> Path:
        """Place a file at ``/mnt/data/<name>`` of a session, before or between calls."""
        payload = data.encode("utf-8") if isinstance(data, str) else data
        return self._drive(session_id).write_bytes(name, payload)

    def copy_in(
        self, session_id: str, source: str | os.PathLike[str], name: str | None = None
    ) -> Path:
        """Copy a host file or folder into ``/mnt/data`` of a session."""
        return self._drive(session_id).copy_in(source, name)

    def sandbox(self, session_id: str) -> Sandbox:
        """The sandbox serving ``session_id`` (made, not started, if new)."""
        return self._pool.get(session_id)

    # -- internals -------------------------------------------------------------------------

    def _drive(self, session_id: str) -> DataDir:
        uid, _, gid = self.config.user.partition(":")
        folder = self.data_root / session_folder_name(session_id)
        return DataDir(folder, int(uid), int(gid or uid))

    def _make(self, session_id: str) -> Sandbox:
        return self._factory(session_id, self._drive(session_id).path)

    def _docker_sandbox(self, session_id: str, folder: Path) -> Sandbox:
        return DockerSandbox(self.config, data_dir=folder, session=session_id)

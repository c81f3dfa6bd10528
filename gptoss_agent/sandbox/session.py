"""One stateful sandbox session in a hardened Docker container (:class:`DockerSandbox`).

Owns the container's lifecycle: created on first use from
:func:`~gptoss_agent.sandbox.container.build_spec`, attached over one kept-open stream
whose stdin carries the kernel's source and then every request, replaced when the kernel
is lost (timeout ignored, crash, out of memory, killed from outside), removed on
:meth:`DockerSandbox.close`. Every call's deadline is enforced here, from the host, and
the ``/mnt/data`` quota is watched from the host while code runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.resources
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gptoss_agent.sandbox.channel import ByteSink, CellOutcome, KernelChannel
from gptoss_agent.sandbox.config import SandboxConfig
from gptoss_agent.sandbox.container import build_spec
from gptoss_agent.sandbox.datadir import DataDir
from gptoss_agent.sandbox.engine import Engine, shared_engine
from gptoss_agent.sandbox.errors import (
    ImageNotFoundError,
    KernelError,
    SandboxClosedError,
    SandboxError,
)
from gptoss_agent.sandbox.framing import AttachDemuxer
from gptoss_agent.sandbox.labels import owner_labels, reap_orphans
from gptoss_agent.sandbox.limits import MIB
from gptoss_agent.sandbox.results import ExecutionError, ExecutionResult, ExecutionStatus

STATE_LOST = "Its state was reset: variables and imports are gone; files in /mnt/data were kept."

_reaped: set[str] = set()
_reaped_lock = threading.Lock()


@functools.cache
def kernel_source() -> str:
    """The source of :mod:`gptoss_agent.sandbox.kernel`, as sent into containers."""
    resource = importlib.resources.files("gptoss_agent.sandbox").joinpath("kernel.py")
    return resource.read_text(encoding="utf-8")


def cut_marker(cut: int, unit: str = "bytes") -> str:
    """The line that replaces the middle of a capped text."""
    return f"\n[... {cut:,} {unit} of output cut ...]\n"


def join_clip(clip: Mapping[str, Any] | None, unit: str = "bytes") -> tuple[str, int]:
    """Rebuild a kernel clip (head, tail, cut) as text with a cut marker."""
    if not clip:
        return "", 0
    head, tail, cut = str(clip.get("head", "")), str(clip.get("tail", "")), int(clip.get("cut", 0))
    if cut <= 0:
        return head + tail, 0
    return head + cut_marker(cut, unit) + tail, cut


class _AttachProtocol(asyncio.Protocol):
    def __init__(self, demux: AttachDemuxer) -> None:
        self._demux = demux

    def data_received(self, data: bytes) -> None:
        self._demux.feed(data)

    def eof_received(self) -> bool:
        self._demux.feed_eof()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._demux.feed_eof()


class DockerSandbox:
    """A stateful Python session in one hardened container, started on first use.

    Args:
        config: Image, limits, network; the hardened defaults when omitted.
        data_dir: Host folder mounted at ``/mnt/data`` (created if missing). When
            omitted a new temporary folder is made and kept after :meth:`close`.
        session: Name of the session, shown in the container's name and labels.
        engine: An already connected engine; by default the process-wide one for
            ``config.docker_host``.
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        data_dir: str | Path | None = None,
        session: str = "",
        engine: Engine | None = None,
    ) -> None:
        self.config = config or SandboxConfig()
        uid, _, gid = self.config.user.partition(":")
        folder = data_dir if data_dir is not None else tempfile.mkdtemp(prefix="gptoss-data-")
        self._data = DataDir(folder, int(uid), int(gid or uid))
        self.session = session
        self._engine = engine
        self._container_id: str | None = None
        self._channel: KernelChannel | None = None
        self._transport: asyncio.BaseTransport | None = None
        self._demux: AttachDemuxer | None = None
        self._lock: asyncio.Lock | None = None
        self._closed = False
        self.containers_started = 0

    # -- Sandbox protocol ----------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """The host folder that is ``/mnt/data`` inside the container."""
        return self._data.path

    @property
    def drive(self) -> DataDir:
        """The data folder with its helpers (placing files, measuring use)."""
        return self._data

    @property
    def timeout_s(self) -> float:
        """The default deadline of one call."""
        return self.config.limits.timeout_s

    @property
    def network(self) -> bool:
        """Whether the container has a network beyond loopback."""
        return self.config.network

    @property
    def container_id(self) -> str | None:
        """The id of the current container, if one is running."""
        return self._container_id

    @property
    def running(self) -> bool:
        """Whether a container with a live kernel is attached."""
        return self._channel is not None and not self._channel.broken

    async def start(self) -> None:
        """Start the container now instead of on the first call. Idempotent.

        Raises:
            EngineUnavailableError: The engine cannot be reached.
            ImageNotFoundError: The image is missing.
            KernelError: The container started but its kernel did not answer.
        """
        async with self._guard():
            await self._ensure_started()

    async def execute(self, code: str, *, timeout_s: float | None = None) -> ExecutionResult:
        """Run ``code`` as the next cell (see :class:`~gptoss_agent.sandbox.base.Sandbox`).

        Args:
            code: Python source; a trailing expression's value is returned as ``value``.
            timeout_s: Deadline of this call; defaults to ``config.limits.timeout_s``.
        """
        limits = self.config.limits
        timeout = limits.timeout_s if timeout_s is None else max(0.001, timeout_s)
        started = time.monotonic()
        async with self._guard():
            await self._ensure_started()
            channel = self._channel
            if channel is None or self._closed:
                raise SandboxClosedError("this sandbox was closed")
            before = await asyncio.to_thread(self._data.snapshot)
            watchdog = await self._quota_watchdog()
            outcome = await channel.execute(
                code,
                timeout_s=timeout,
                grace_s=limits.interrupt_grace_s,
                output_bytes=limits.output_bytes,
                value_chars=limits.value_chars,
                watchdog=watchdog,
            )
            if outcome.reply is None and self._closed:
                raise SandboxClosedError("the sandbox was closed during the call")
            if outcome.reply is None:
                result = await self._lost(outcome, timeout)
            else:
                result = self._from_reply(outcome, timeout)
            after = await asyncio.to_thread(self._data.snapshot)
        created, modified = DataDir.diff(before, after)
        return _replace(
            result,
            files_created=created,
            files_modified=modified,
            duration_s=time.monotonic() - started,
        )

    async def close(self) -> None:
        """Remove the container (even while a call runs). Idempotent; keeps the data folder.

        If the engine cannot be reached the kernel still exits (its stdin closes) and
        the stopped container is removed by the next run's orphan sweep.
        """
        self._closed = True
        await self._discard()

    # -- inspection (doctor, tests) ------------------------------------------------------

    async def processes(self) -> list[dict[str, str]]:
        """The processes in the current container (``docker top``)."""
        if self._container_id is None:
            return []
        engine = await self._get_engine()
        return await asyncio.to_thread(engine.top, self._container_id)

    # -- lifecycle -----------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _guard(self) -> Any:
        if self._closed:
            raise SandboxClosedError("this sandbox was closed")
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._closed:
                raise SandboxClosedError("this sandbox was closed")
            yield

    async def _get_engine(self) -> Engine:
        if self._engine is None:
            self._engine = await asyncio.to_thread(
                shared_engine, self.config.docker_host, self.config.limits.api_timeout_s
            )
        engine = self._engine
        with _reaped_lock:
            first = engine.base_url not in _reaped
            _reaped.add(engine.base_url)
        if first:
            with contextlib.suppress(SandboxError):
                await asyncio.to_thread(reap_orphans, engine)
        return engine

    async def _ensure_started(self) -> None:
        if self.running:
            return
        await self._discard()
        engine = await self._get_engine()
        labels = await asyncio.to_thread(engine.image_labels, self.config.image)
        if labels is None:
            raise ImageNotFoundError(
                f"sandbox image {self.config.image!r} is not present in the Docker engine; "
                "build it with `gptoss-agent sandbox build`"
            )
        spec = build_spec(self.config, self.data_dir, owner_labels(self.session), self.session)
        self._container_id = await asyncio.to_thread(engine.create_container, spec)
        try:
            sock = await asyncio.to_thread(engine.attach, self._container_id)
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader(limit=1 << 20)
            demux = AttachDemuxer(reader)
            transport, _ = await loop.create_connection(lambda: _AttachProtocol(demux), sock=sock)
            self._transport, self._demux = transport, demux
            await asyncio.to_thread(engine.start, self._container_id)
            channel = KernelChannel(reader, ByteSink(transport.write, transport.close))
            self._channel = channel
            try:
                await channel.start(kernel_source(), self.config.limits.startup_timeout_s)
            except KernelError as exc:
                detail = demux.stderr_tail.strip()
                raise KernelError(f"{exc}{': ' + detail[-500:] if detail else ''}") from exc
            self.containers_started += 1
        except BaseException:
            await self._discard()
            raise

    async def _discard(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
        container_id, self._container_id = self._container_id, None
        if container_id is not None and self._engine is not None:
            await asyncio.to_thread(self._engine.remove, container_id)

    async def _quota_watchdog(self) -> Any:
        quota = self.config.limits.data_mb * MIB
        baseline = await asyncio.to_thread(self._data.usage, quota)
        allowed = max(quota, baseline)

        async def watchdog() -> str | None:
            used = await asyncio.to_thread(self._data.usage, allowed)
            return "quota" if used > allowed else None

        return watchdog

    # -- results ---------------------------------------------------------------------------

    def _from_reply(self, outcome: CellOutcome, timeout: float) -> ExecutionResult:
        reply = outcome.reply or {}
        stdout, stdout_cut = join_clip(reply.get("stdout"))
        stderr, stderr_cut = join_clip(reply.get("stderr"))
        value = join_clip(reply["value"], "characters")[0] if reply.get("value") else None
        error = None
        if isinstance(reply.get("error"), dict):
            raw = reply["error"]
            error = ExecutionError(
                name=str(raw.get("name", "")),
                message=str(raw.get("message", "")),
                traceback=join_clip(raw.get("traceback"), "characters")[0],
            )
        kernel_status = reply.get("status")
        detail = ""
        if kernel_status == "interrupted" or outcome.stopped:
            killed = int(reply.get("killed") or 0)
            leftovers = f" {killed} leftover process(es) were killed." if killed else ""
            if outcome.stopped == "quota":
                status = ExecutionStatus.QUOTA
                detail = self._quota_sentence() + " Variables and imports were kept." + leftovers
            else:
                status = ExecutionStatus.TIMEOUT
                detail = (
                    f"Execution timed out after {timeout:g} seconds and was interrupted "
                    f"(KeyboardInterrupt); variables and imports were kept.{leftovers}"
                )
        elif kernel_status == "error":
            status = ExecutionStatus.ERROR
            killed = int(reply.get("killed") or 0)
            if killed:
                detail = (
                    f"The process limit was reached; {killed} leftover process(es) were killed. "
                    "Variables and imports were kept."
                )
        else:
            status = ExecutionStatus.OK
        return ExecutionResult(
            status=status,
            stdout=stdout,
            stderr=stderr,
            stdout_cut=stdout_cut,
            stderr_cut=stderr_cut,
            value=value,
            error=error,
            detail=detail,
            duration_s=outcome.duration_s,
        )

    def _quota_sentence(self) -> str:
        return (
            f"Stopped: /mnt/data grew past its quota of {self.config.limits.data_mb} MB; "
            "delete files there to free space."
        )

    async def _lost(self, outcome: CellOutcome, timeout: float) -> ExecutionResult:
        """The kernel is gone or unresponsive: find out why, then remove the container."""
        cause = await self._post_mortem() if outcome.stopped is None else ""
        stderr_tail = self._demux.stderr_tail.strip() if self._demux else ""
        await self._discard()
        if outcome.stopped == "quota":
            status = ExecutionStatus.QUOTA
            detail = (
                f"{self._quota_sentence()} The code did not stop when interrupted, so the "
                f"sandbox was restarted. {STATE_LOST}"
            )
        elif outcome.stopped:
            status = ExecutionStatus.TIMEOUT
            detail = (
                f"Execution timed out after {timeout:g} seconds and did not stop when "
                f"interrupted, so the sandbox was restarted. {STATE_LOST}"
            )
        else:
            status = ExecutionStatus.CRASHED
            detail = f"{cause} {STATE_LOST}"
        return ExecutionResult(
            status=status,
            stderr=stderr_tail[-2000:] if status is ExecutionStatus.CRASHED else "",
            state_reset=True,
            detail=detail,
            duration_s=outcome.duration_s,
        )

    async def _post_mortem(self) -> str:
        if self._engine is None or self._container_id is None:
            return "The Python process stopped."
        engine, container_id = self._engine, self._container_id
        state: Mapping[str, Any] = {}
        with contextlib.suppress(SandboxError):
            state = await asyncio.to_thread(engine.wait_stopped, container_id, 5.0)
        if not state:
            return "The sandbox container disappeared (removed from outside)."
        if state.get("OOMKilled"):
            return (
                "The Python process was killed because it ran out of memory "
                f"(limit {self.config.limits.memory_mb} MB)."
            )
        code = state.get("ExitCode")
        if code == 137:
            return "The sandbox was killed (SIGKILL) from outside."
        if code in (None, 0, -1) and state.get("Running"):
            return "The Python process stopped answering."
        return f"The Python process exited (exit code {code})."


def _replace(result: ExecutionResult, **changes: Any) -> ExecutionResult:
    import dataclasses

    return dataclasses.replace(result, **changes)

"""One stateful sandbox session in a hardened Docker container (:class:`DockerSandbox`).

Owns the container's lifecycle: created on first use from
:func:`~gptoss_agent.sandbox.container.build_spec`, attached over one kept-open stream
whose stdin carries the kernel's source and then every request, replaced when the kernel
is lost (timeout ignored, crash, out of memory, killed from outside), removed on
:meth:`DockerSandbox.close`. Every call's deadline is enforced here, from the host, and
the ``/mnt/data`` quota is watched from the host while code runs. What the kernel
answered is turned into a result by :mod:`gptoss_agent.sandbox.replies`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gptoss_agent.sandbox.bindcheck import bind_shows_folder
from gptoss_agent.sandbox.channel import ByteSink, CellOutcome, KernelChannel, kernel_source
from gptoss_agent.sandbox.config import DATA_MOUNT, SandboxConfig, copies_data
from gptoss_agent.sandbox.container import build_spec, container_name
from gptoss_agent.sandbox.datadir import DataDir
from gptoss_agent.sandbox.engine import Engine, shared_engine
from gptoss_agent.sandbox.errors import (
    ImageNotFoundError,
    KernelError,
    SandboxClosedError,
    SandboxError,
    unexpected_as,
)
from gptoss_agent.sandbox.framing import AttachDemuxer, connect_attach
from gptoss_agent.sandbox.labels import owner_labels, reap_orphans
from gptoss_agent.sandbox.priority import CpuWeight
from gptoss_agent.sandbox.quota import quota_watchdog
from gptoss_agent.sandbox.replies import (
    exit_cause,
    over_quota_after,
    reset_after_cancel,
    result_from_lost,
    result_from_reply,
)
from gptoss_agent.sandbox.results import ExecutionResult
from gptoss_agent.sandbox.volume import VolumeDrive

_reaped: set[str] = set()
_reaped_lock = threading.Lock()


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
        self._volume: VolumeDrive | None = None
        self._cleanup: asyncio.Future[None] | None = None
        self._starting: asyncio.Future[None] | None = None
        self._weight = CpuWeight(self.config.limits.lower_after_s)
        self._after_cancel = False  # the last call was cancelled: its kernel may be lost
        self._reset_unsaid = False  # a container was replaced that no result reported
        self._bind_checked = self.config.data_transport != "auto"  # auto checks it once
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
        try:
            async with self._guard():
                await self._ensure_started()
        except (SandboxError, asyncio.CancelledError):
            raise
        except Exception as exc:
            await self._discard_shielded()
            raise KernelError(f"the sandbox failed to start: {type(exc).__name__}: {exc}") from exc

    async def execute(self, code: str, *, timeout_s: float | None = None) -> ExecutionResult:
        """Run ``code`` as the next cell (see :class:`~gptoss_agent.sandbox.base.Sandbox`).

        A cancelled call (a tool timeout, Ctrl-C, an app cancelling its task) interrupts
        the code and waits out the interrupt, so the next call finds the session in step
        (or, if the code ignored the interrupt, a fresh container); the cancellation is
        then re-raised. Any other failure is a :class:`SandboxError`.

        Args:
            code: Python source; a trailing expression's value is returned as ``value``.
            timeout_s: Deadline of this call; defaults to ``config.limits.timeout_s``.
        """
        limits = self.config.limits
        timeout = limits.timeout_s if timeout_s is None else max(0.001, timeout_s)
        started = time.monotonic()
        try:
            async with self._guard():
                result = await self._execute(code, timeout)
        except (SandboxError, asyncio.CancelledError):
            raise
        except Exception as exc:
            await self._discard_shielded()
            raise KernelError(
                f"the sandbox session failed: {type(exc).__name__}: {exc}"
            ) from exc
        return dataclasses.replace(result, duration_s=time.monotonic() - started)

    async def _execute(self, code: str, deadline_s: float) -> ExecutionResult:
        limits = self.config.limits
        await self._ensure_started()
        channel, container_id = self._channel, self._container_id
        if channel is None or container_id is None or self._closed:
            raise SandboxClosedError("this sandbox was closed")
        volume = self._volume
        before = await asyncio.to_thread(self._data.snapshot) if volume is None else {}
        if volume is not None:
            await asyncio.to_thread(volume.push, container_id)
        options: dict[str, Any] = {"keep_background": self.config.keep_background}
        if volume is not None:
            options.update(snapshot=True, data_root=DATA_MOUNT)
        watchdog = await quota_watchdog(self._data, volume, limits, container_id)
        engine, started = await self._get_engine(), time.monotonic()
        try:
            async with self._weight.call(engine, container_id):
                outcome = await channel.execute(
                    code,
                    timeout_s=deadline_s,
                    grace_s=limits.interrupt_grace_s,
                    output_bytes=limits.output_bytes,
                    value_chars=limits.value_chars,
                    watchdog=watchdog,
                    watch_interval_s=1.0 if volume is not None else 0.25,
                    options=options,
                )
        except asyncio.CancelledError:
            self._after_cancel = True
            if not self.running:
                self._reset_unsaid = True
                await self._discard_shielded()
            raise
        if outcome.reply is None and self._closed:
            raise SandboxClosedError("the sandbox was closed during the call")
        if outcome.reply is None:
            if volume is not None:
                await asyncio.to_thread(volume.pull_all, container_id)
            lost = await self._lost(outcome, deadline_s)  # says the state was reset
            await self._weight.settle(engine, container_id, lost.limit or "lost", 0.0)
            self._reset_unsaid = False
            return lost
        if volume is not None:  # mirrored first: nothing below may lose the call's files
            reply = outcome.reply
            created, modified = await asyncio.to_thread(
                volume.pull, container_id, reply.get("files_before") or {},
                reply.get("files") or {}, reply.get("files_complete") is True,
            )
        else:
            after = await asyncio.to_thread(self._data.snapshot)
            created, modified = DataDir.diff(before, after)
        result = result_from_reply(outcome, deadline_s, limits)
        if outcome.stopped is None:
            # A call shorter than the polling period was never measured while it ran.
            result = over_quota_after(result, await watchdog(), limits)
        await self._weight.settle(engine, container_id, result.limit,
                                  time.monotonic() - started)
        if self._reset_unsaid:  # the cancelled call's code ignored its interrupt
            self._reset_unsaid = False
            result = reset_after_cancel(result)
        return dataclasses.replace(result, files_created=created, files_modified=modified)

    async def close(self) -> None:
        """Remove the container (even while a call runs). Idempotent; keeps the data folder.

        Processes kept running (``keep_background``) end with the container; a data
        volume (an engine elsewhere) is removed too, its files mirrored in the folder.
        If the engine cannot be reached the kernel still exits (its stdin closes) and
        the stopped container is removed by the next run's orphan sweep. A failure is a
        :class:`SandboxError` (the session counts as closed all the same).
        """
        with unexpected_as("closing the sandbox"):
            await self._close()

    async def _close(self) -> None:
        self._closed = True
        starting, self._starting = self._starting, None
        if starting is not None:
            await asyncio.wait({starting})  # its container, if any, is removed below
            if not starting.cancelled():
                starting.exception()  # retrieved: a failed start is not news at close
        if self._volume is not None and self._volume.behind and self._container_id:
            with contextlib.suppress(SandboxError):  # a cancelled or running call's files
                await asyncio.to_thread(self._volume.pull_all, self._container_id)
        await self._discard()
        volume, self._volume = self._volume, None
        if volume is not None:
            await asyncio.to_thread(volume.remove)

    async def processes(self) -> list[dict[str, str]]:
        """The processes in the current container (``docker top``); failures: SandboxError."""
        if self._container_id is None:
            return []
        with unexpected_as("listing the sandbox's processes"):
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

    async def _discard_shielded(self) -> None:
        """Remove the container even if the caller is cancelled meanwhile."""
        self._cleanup = asyncio.ensure_future(self._discard())
        await asyncio.shield(self._cleanup)

    async def _ensure_started(self) -> None:
        if self._cleanup is not None:
            cleanup, self._cleanup = self._cleanup, None
            with contextlib.suppress(SandboxError):
                await cleanup
        if self._channel is not None:
            await self._channel.settled()  # a cancelled call's reply, or a broken channel
        after_cancel, self._after_cancel = self._after_cancel, False
        if self.running:
            return
        self._reset_unsaid |= after_cancel and self.containers_started > 0
        if self._starting is None:
            # Shielded: a call cancelled while the container starts must not leave a
            # container the session does not know about; the next call awaits the start.
            self._starting = asyncio.ensure_future(self._start())
        starting = self._starting
        try:
            await asyncio.shield(starting)
        finally:
            if starting.done():
                self._starting = None

    async def _start(self) -> None:
        await self._discard()
        engine = await self._get_engine()
        labels = await asyncio.to_thread(engine.image_labels, self.config.image)
        if labels is None:
            raise ImageNotFoundError(
                f"sandbox image {self.config.image!r} is not present in the Docker engine; "
                "build it with `gptoss-agent sandbox build`"
            )
        labels = owner_labels(self.session)
        if self._volume is None and await self._copies(engine, labels):
            uid, _, gid = self.config.user.partition(":")
            name = container_name(self.session).replace("gptoss-sbx-", "gptoss-data-", 1)
            self._volume = VolumeDrive(engine, self._data, name, labels, int(uid), int(gid or uid))
        if self._volume is not None:
            await asyncio.to_thread(self._volume.create)
        spec = build_spec(self.config, self.data_dir, labels, self.session,
                          data_volume=self._volume.mount if self._volume else None)
        self._container_id = await asyncio.to_thread(engine.create_container, spec)
        try:
            sock = await asyncio.to_thread(engine.attach, self._container_id)
            transport, reader, demux = await connect_attach(sock)
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

    async def _copies(self, engine: Engine, labels: Mapping[str, str]) -> bool:
        """Whether ``/mnt/data`` moves by copies.

        It does when the config says so, or when ``auto`` finds that this engine's binds
        do not show this machine's folder (:mod:`.bindcheck`).
        """
        if copies_data(self.config.data_transport, engine.base_url):
            return True
        if self._bind_checked:
            return False
        self._bind_checked = True
        return not await asyncio.to_thread(bind_shows_folder, engine, self.config,
                                           self.data_dir, labels, self.session)

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

    # -- a lost kernel -------------------------------------------------------------------

    async def _lost(self, outcome: CellOutcome, deadline_s: float) -> ExecutionResult:
        """The kernel is gone or unresponsive: find out why, then remove the container."""
        cause = await self._post_mortem() if outcome.stopped is None else ""
        stderr_tail = self._demux.stderr_tail if self._demux else ""
        await self._discard()
        return result_from_lost(outcome, deadline_s, self.config.limits, cause, stderr_tail)

    async def _post_mortem(self) -> str:
        if self._engine is None or self._container_id is None:
            return "The Python process stopped."
        state: Mapping[str, Any] = {}
        with contextlib.suppress(SandboxError):
            state = await asyncio.to_thread(self._engine.wait_stopped, self._container_id, 5.0)
        return exit_cause(state, self.config.limits.memory_mb)

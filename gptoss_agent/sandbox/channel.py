"""The host side of a conversation with one kernel: handshake, cells, deadlines.

:class:`KernelChannel` speaks the kernel's framed protocol over any byte stream (a Docker
attach socket in production, a local subprocess in the package's own tests). It owns the
deadline of a call: when the deadline (or the host's watchdog) fires it sends an
interrupt, and when the kernel does not answer within the grace period it reports the
kernel as lost so the caller can replace the container.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.resources
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gptoss_agent.sandbox.errors import KernelError
from gptoss_agent.sandbox.framing import FRAME_HEADER, encode_frame, read_frame

Watchdog = Callable[[], Awaitable[str | None]]
"""Polled during a call; returns a reason (``"quota"``) to stop the call, else ``None``."""


@functools.cache
def kernel_source() -> str:
    """The source of :mod:`gptoss_agent.sandbox.kernel`, as sent into containers."""
    resource = importlib.resources.files("gptoss_agent.sandbox").joinpath("kernel.py")
    return resource.read_text(encoding="utf-8")


class ByteSink:
    """Where frames to the kernel are written (a transport or a subprocess's stdin)."""

    def __init__(self, write: Callable[[bytes], None], close: Callable[[], None]) -> None:
        self.write = write
        self.close = close


@dataclass(frozen=True)
class CellOutcome:
    """What the host saw of one call.

    Attributes:
        reply: The kernel's ``result`` message, or ``None`` when the kernel was lost
            (the stream ended, broke, or the kernel ignored the interrupt).
        stopped: ``"timeout"`` or the watchdog's reason (``"quota"``, ``"files"``) when
            the host stopped the call.
        duration_s: Wall-clock time from sending the cell to the reply (or giving up).
        problem: Why the kernel counts as lost, when it does.
    """

    reply: dict[str, Any] | None
    stopped: str | None
    duration_s: float
    problem: str = ""


class KernelChannel:
    """One kernel, reached through a reader of its output and a sink for its input.

    Args:
        reader: The kernel's framed output.
        sink: Where frames to the kernel go.
    """

    def __init__(self, reader: asyncio.StreamReader, sink: ByteSink) -> None:
        self._reader = reader
        self._sink = sink
        self._next_id = 0
        self._pending: asyncio.Task[dict[str, Any] | None] | None = None
        self._settling: asyncio.Future[None] | None = None
        self.broken = False
        self.kernel_pid: int | None = None
        self.python_version = ""

    async def start(self, kernel_source: str, timeout_s: float) -> dict[str, Any]:
        """Send the kernel's source to the bootstrap, then wait for ``ready``.

        Raises:
            KernelError: The kernel did not answer in time or answered nonsense.
        """
        source = kernel_source.encode("utf-8")
        self._sink.write(FRAME_HEADER.pack(len(source)) + source)
        self._sink.write(encode_frame({"op": "hello"}))
        try:
            message = await asyncio.wait_for(read_frame(self._reader), timeout_s)
        except TimeoutError as exc:
            self.broken = True
            raise KernelError(f"kernel did not start within {timeout_s:g}s") from exc
        except KernelError:
            self.broken = True
            raise
        if message is None or message.get("op") != "ready":
            self.broken = True
            raise KernelError(f"kernel failed to start (answered {message!r})")
        self.kernel_pid = int(message.get("pid") or 0) or None
        self.python_version = str(message.get("python") or "")
        return message

    async def _read_result(self, cell_id: int) -> dict[str, Any] | None:
        while True:
            message = await read_frame(self._reader)
            if message is None:
                return None
            if message.get("op") == "result" and message.get("id") == cell_id:
                return message

    async def execute(
        self,
        code: str,
        *,
        timeout_s: float,
        grace_s: float,
        output_bytes: int,
        value_chars: int,
        watchdog: Watchdog | None = None,
        watch_interval_s: float = 0.25,
        options: Mapping[str, Any] | None = None,
    ) -> CellOutcome:
        """Run one cell under a host-enforced deadline.

        When the caller is cancelled mid-call (a tool timeout, Ctrl-C, an app cancelling
        its task) the cell is interrupted as at a deadline and its reply is awaited for
        ``grace_s`` (even if the caller is cancelled again), so the channel stays in
        step for the next call; a kernel that does not answer leaves it ``broken``.
        The cancellation is then re-raised.

        Args:
            code: The cell.
            timeout_s: Deadline of the call.
            grace_s: How long to wait for the kernel after an interrupt.
            output_bytes: Bytes kept per output stream.
            value_chars: Characters kept of the trailing expression's ``repr``.
            watchdog: Polled every ``watch_interval_s`` while the cell runs.
            watch_interval_s: Polling period of ``watchdog``.
            options: Further fields of the ``exec`` request (``keep_background``, ...).
        """
        await self.settled()
        if self.broken:
            return CellOutcome(None, None, 0.0, "the kernel channel is closed")
        self._next_id += 1
        cell_id = self._next_id
        started = time.monotonic()
        request = {
            **dict(options or {}),
            "op": "exec",
            "id": cell_id,
            "code": code,
            "output_bytes": output_bytes,
            "value_chars": value_chars,
        }
        try:
            self._sink.write(encode_frame(request))
        except (OSError, RuntimeError) as exc:
            self.broken = True
            return CellOutcome(None, None, 0.0, f"could not send the cell: {exc}")
        task = asyncio.ensure_future(self._read_result(cell_id))
        self._pending = task
        interrupted = False
        try:
            stopped = await self._watch(task, started + timeout_s, watchdog, watch_interval_s)
            if stopped is None:
                return self._finish(task, None, started)
            self._send_interrupt(cell_id)
            interrupted = True
            done, _ = await asyncio.wait({task}, timeout=grace_s)
        except asyncio.CancelledError:
            # Cancelled while the cell runs, or while its interrupt is being answered:
            # the reply is still consumed (or the channel marked broken) before the next
            # call reads from the stream.
            self._settling = asyncio.ensure_future(
                self._settle(task, cell_id, grace_s, interrupted)
            )
            await asyncio.shield(self._settling)
            raise
        if done:
            return self._finish(task, stopped, started)
        await self._abandon(task)
        return CellOutcome(
            None,
            stopped,
            time.monotonic() - started,
            f"kernel did not answer the interrupt within {grace_s:g}s",
        )

    async def _watch(
        self,
        task: asyncio.Task[dict[str, Any] | None],
        deadline: float,
        watchdog: Watchdog | None,
        interval_s: float,
    ) -> str | None:
        """Wait for the reply; ``None`` when it came, else why the call must be stopped."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            wait = min(remaining, interval_s) if watchdog else remaining
            done, _ = await asyncio.wait({task}, timeout=wait)
            if done:
                return None
            if watchdog is not None:
                reason = await watchdog()
                if reason:
                    return reason

    async def settled(self) -> None:
        """Wait until a cancelled call's reply was consumed (or the channel gave up)."""
        if self._settling is not None:
            await asyncio.shield(self._settling)

    def _send_interrupt(self, cell_id: int) -> None:
        with contextlib.suppress(OSError, RuntimeError, KernelError):
            self._sink.write(encode_frame({"op": "interrupt", "id": cell_id}))

    async def _abandon(self, task: asyncio.Task[dict[str, Any] | None]) -> None:
        """Give up on a reply: the stream may stop mid-frame, so the channel is broken."""
        self.broken = True
        self._pending = None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, KernelError):
            await task

    async def _settle(
        self,
        task: asyncio.Task[dict[str, Any] | None],
        cell_id: int,
        grace_s: float,
        interrupted: bool = False,
    ) -> None:
        """After a cancelled call: interrupt the cell, consume its reply (or break).

        ``interrupted``: the interrupt was sent already (the deadline had passed).
        """
        try:
            if not task.done():
                if not interrupted:
                    self._send_interrupt(cell_id)
                await asyncio.wait({task}, timeout=grace_s)
            if task.done():
                self._finish(task, "cancelled", time.monotonic())
            else:
                await self._abandon(task)
        finally:
            self._settling = None

    def _finish(
        self, task: asyncio.Task[dict[str, Any] | None], stopped: str | None, started: float
    ) -> CellOutcome:
        self._pending = None
        duration = time.monotonic() - started
        if task.cancelled():
            self.broken = True
            return CellOutcome(None, stopped, duration, "the channel was closed")
        try:
            reply = task.result()
        except Exception as exc:  # a corrupt frame, a broken stream
            self.broken = True
            return CellOutcome(None, stopped, duration, str(exc))
        if reply is None:
            self.broken = True
            return CellOutcome(None, stopped, duration, "the kernel's stream ended")
        return CellOutcome(reply, stopped, duration)

    def close(self) -> None:
        """Stop reading and close the input; the kernel exits when its stdin closes."""
        self.broken = True
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        with contextlib.suppress(Exception):
            self._sink.close()

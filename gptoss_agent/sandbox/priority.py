"""CPU weight of a session that runs long or hits its limits: others' short calls go first.

Every container has the same CPU weight (``cpu_shares``, :data:`NORMAL_SHARES`) and a
quota (``SandboxLimits.cpus``). The quota caps one session, but when sessions together
want more CPU than the machine has, the scheduler shares it by weight: a session
spinning to its deadline, forking, flooding its output or restarting its kernel in a
loop would take as much as a session running a 20 ms computation, whose call then waits.

A :class:`CpuWeight` per session treats such work as batch work, as operating systems
do with processes that use up their time slices: a call still running after
``SandboxLimits.lower_after_s`` drops its container to the lowest weight
(:data:`LOW_SHARES`), and so does a call that ran into a limit. The session stays low
(a restarted container too) until one of its calls ends in time without hitting a
limit. Uncontended, a low session runs as fast as before (weight only matters when the
CPUs are short); contended, every ordinary session's calls are served first. A session
that stays ordinary costs nothing (no Engine API request).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from gptoss_agent.sandbox.errors import SandboxError

if TYPE_CHECKING:
    from gptoss_agent.sandbox.engine import Engine

NORMAL_SHARES = 1024
"""The CPU weight every sandbox container is created with (the engine's default)."""

LOW_SHARES = 2
"""The weight of a session whose calls run long or hit limits (the lowest there is)."""


def set_shares(engine: Engine, container_id: str, shares: int) -> None:
    """Give a container CPU weight ``shares``; a container already gone is fine."""
    try:
        engine.api("change a sandbox container's CPU weight", "update_container",
                   container_id, cpu_shares=shares)
    except SandboxError as exc:
        if "No such" not in str(exc) and "is not running" not in str(exc):
            raise


class CpuWeight:
    """One session's CPU weight, lowered and restored as its calls behave.

    Args:
        after_s: How long a call may run at the normal weight (``None``: always).
    """

    def __init__(self, after_s: float | None) -> None:
        self.after_s = after_s
        self.low = False
        self._container: str | None = None  # the container the weight was last set on
        self._change: asyncio.Future[None] | None = None

    @contextlib.asynccontextmanager
    async def call(self, engine: Engine, container_id: str) -> AsyncIterator[None]:
        """Run one call; past ``after_s`` its container drops to the lowest weight."""
        if self.after_s is None:
            yield
            return
        if self.low and container_id != self._container:  # a restarted container
            await self._set(engine, container_id, LOW_SHARES)
        self._container = container_id
        timer = None if self.low else asyncio.create_task(self._lower_later(engine,
                                                                           container_id))
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()
                with contextlib.suppress(asyncio.CancelledError, SandboxError):
                    await timer

    async def settle(self, engine: Engine, container_id: str, limit: str | None,
                     seconds: float) -> None:
        """After a call: low after a limit or a long call, normal again after a good one."""
        if self.after_s is None:
            return
        if limit is not None or seconds > self.after_s:
            if not self.low:
                await self._set(engine, container_id, LOW_SHARES)
        elif self.low:
            await self._set(engine, container_id, NORMAL_SHARES)

    async def _lower_later(self, engine: Engine, container_id: str) -> None:
        assert self.after_s is not None
        await asyncio.sleep(self.after_s)
        await self._set(engine, container_id, LOW_SHARES)

    async def _set(self, engine: Engine, container_id: str, shares: int) -> None:
        """Change the weight; one change at a time, each finished even if cancelled."""
        if self._change is not None:
            with contextlib.suppress(SandboxError, asyncio.CancelledError):
                await asyncio.shield(self._change)
        self.low = shares == LOW_SHARES
        self._container = container_id
        self._change = asyncio.ensure_future(
            asyncio.to_thread(set_shares, engine, container_id, shares))
        with contextlib.suppress(SandboxError):
            await asyncio.shield(self._change)

"""Gathering the decode steps of concurrent sessions into batches (continuous batching).

Each generating session asks for one decode step at a time. :class:`DecodeBatcher` queues
the requests and runs them in batches: a batch takes every request waiting when it starts
(at most ``max_batch``), so sessions join and leave between steps, and a session never
waits for another one to finish its turn. One session alone runs batches of one. The
backend runs two: one for decode steps, one for prompt chunks (prefill).

A request whose caller is cancelled before its batch starts is never run: once a caller
has given up, the state its request would change may already belong to someone else.

The batcher knows nothing about models: it is given an async ``run_batch`` function that
turns a list of requests into a list of results, where a result may be an exception for
that request alone; an exception ``run_batch`` raises fails the whole batch. It serves
one event loop at a time; a new loop (say, a second ``asyncio.run``) starts afresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

Request = TypeVar("Request")
Result = TypeVar("Result")


class DecodeBatcher(Generic[Request, Result]):
    """Runs ``run_batch`` on the requests of concurrent :meth:`step` calls, in batches.

    Args:
        run_batch: Computes one result per request, in order; a result that is an
            exception is raised by that request's :meth:`step`, an exception
            ``run_batch`` raises by the :meth:`step` of every request in the batch.
        max_batch: Most requests in one batch.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[Request]], Awaitable[Sequence[Result | Exception]]],
        max_batch: int,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._run_batch = run_batch
        self.max_batch = max_batch
        self._waiting: list[tuple[Request, asyncio.Future[Result]]] = []
        self._draining: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0
        """Batches run so far."""
        self.largest_batch = 0
        """Most requests one batch has held so far."""

    async def step(self, request: Request) -> Result:
        """Queue ``request``; return its result once a batch has run it."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # The previous loop is gone (or was never there): its queue and its drain task
            # went with it, whether or not it cancelled them.
            self._loop, self._waiting, self._draining = loop, [], None
        entry = (request, loop.create_future())
        self._waiting.append(entry)
        if self._draining is None:
            self._draining = loop.create_task(self._drain())
        try:
            return await entry[1]
        except asyncio.CancelledError:
            # Not started yet: it must not run for nobody (compared by identity).
            self._waiting = [waiting for waiting in self._waiting if waiting is not entry]
            raise

    async def _drain(self) -> None:
        try:
            while self._waiting:
                # One turn of the event loop first: sessions woken by the previous batch
                # queue their next step and join this batch instead of the one after.
                await asyncio.sleep(0)
                batch = [entry for entry in self._waiting[: self.max_batch]
                         if not entry[1].done()]
                del self._waiting[: self.max_batch]
                if batch:
                    await self._run(batch)
        finally:
            try:
                current = asyncio.current_task()
            except RuntimeError:  # closed by the garbage collector after its loop
                current = None
            if current is not None and self._draining is current:
                self._draining = None
                # Requests still waiting here mean this task was cancelled (its event
                # loop is closing): nobody will run them.
                waiting, self._waiting = self._waiting, []
                for _, future in waiting:
                    future.cancel()

    async def _run(self, batch: list[tuple[Request, asyncio.Future[Result]]]) -> None:
        self.batches += 1
        self.largest_batch = max(self.largest_batch, len(batch))
        try:
            results = await self._run_batch([request for request, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(
                    f"a batch of {len(batch)} requests gave {len(results)} results"
                )
        except Exception as error:  # handed to every step of the batch
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:  # cancelled (the event loop is closing), or interrupted
            for _, future in batch:
                if not future.get_loop().is_closed():  # else nobody waits on it any more
                    future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():  # its caller was cancelled while the batch ran
                continue
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

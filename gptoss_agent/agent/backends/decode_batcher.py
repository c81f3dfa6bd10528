"""Gathering the decode steps of concurrent sessions into batches (continuous batching).

Each generating session asks for one decode step at a time. :class:`DecodeBatcher` queues
the requests and runs them in batches: a batch takes every request waiting when it starts
(at most ``max_batch``), so sessions join and leave between steps, and a session never
waits for another one to finish its turn. One session alone runs batches of one.

The batcher knows nothing about models: it is given an async ``run_batch`` function that
turns a list of requests into a list of results (or one exception for the whole batch).
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
        run_batch: Computes one result per request, in order; an exception it raises is
            raised by the :meth:`step` of every request in that batch.
        max_batch: Most requests in one batch.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[Request]], Awaitable[Sequence[Result]]],
        max_batch: int,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._run_batch = run_batch
        self.max_batch = max_batch
        self._waiting: list[tuple[Request, asyncio.Future[Result]]] = []
        self._draining: asyncio.Task[None] | None = None
        self.batches = 0
        """Batches run so far."""
        self.largest_batch = 0
        """Most requests one batch has held so far."""

    async def step(self, request: Request) -> Result:
        """Queue ``request``; return its result once a batch has run it."""
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._draining is None:
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._waiting:
                # One turn of the event loop first: sessions woken by the previous batch
                # queue their next step and join this batch instead of the one after.
                await asyncio.sleep(0)
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                await self._run(batch)
        finally:
            self._draining = None
            # Only reached with requests waiting if this task was cancelled (the event
            # loop is closing): nobody will run them.
            waiting, self._waiting = self._waiting, []
            for _, future in waiting:
                if not future.done():
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
                future.cancel()
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # a step whose caller was cancelled is skipped
                future.set_result(result)

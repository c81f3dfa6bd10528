"""The decode batcher on its own: how it groups concurrent steps, and how failures reach
the steps of a batch (no model here; ``run_batch`` is a recording function)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from gptoss_agent.agent.backends.transformers.decode_batcher import DecodeBatcher


class Recorder:
    """A ``run_batch`` that records each batch and answers ``request * 10``."""

    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on
        self.release = asyncio.Event()
        self.release.set()
        self.started = asyncio.Event()
        """Set once the first batch has begun."""

    async def __call__(self, requests: Sequence[int]) -> list[int | Exception]:
        self.batches.append(list(requests))
        self.started.set()
        await self.release.wait()
        if self.fail_on in requests:
            raise RuntimeError(f"batch with {self.fail_on} failed")
        return [ValueError(f"bad request {request}") if request < 0 else request * 10
                for request in requests]


async def test_steps_queued_together_run_as_one_batch_in_order() -> None:
    recorder = Recorder()
    batcher = DecodeBatcher(recorder, max_batch=8)
    results = await asyncio.gather(*(batcher.step(request) for request in (3, 1, 2)))
    assert results == [30, 10, 20]
    assert recorder.batches == [[3, 1, 2]]
    assert (batcher.batches, batcher.largest_batch) == (1, 3)


async def test_max_batch_splits_the_waiting_steps() -> None:
    recorder = Recorder()
    batcher = DecodeBatcher(recorder, max_batch=2)
    results = await asyncio.gather(*(batcher.step(request) for request in range(5)))
    assert results == [0, 10, 20, 30, 40]
    assert recorder.batches == [[0, 1], [2, 3], [4]]
    assert batcher.largest_batch == 2


async def test_sessions_join_between_steps() -> None:
    """A session that starts while a batch runs joins the next batch, and the sessions
    of a batch that ask for their next step at once stay together."""
    recorder = Recorder()
    batcher = DecodeBatcher(recorder, max_batch=8)

    async def session(first: int, steps: int) -> list[int]:
        return [await batcher.step(first + step) for step in range(steps)]

    recorder.release.clear()
    early = asyncio.create_task(session(100, 3))
    await recorder.started.wait()  # the first batch (the early session alone) is running
    late = asyncio.create_task(session(200, 2))
    await asyncio.sleep(0)
    recorder.release.set()
    assert await early == [1000, 1010, 1020]
    assert await late == [2000, 2010]
    assert recorder.batches == [[100], [200, 101], [201, 102]]


async def test_a_failed_batch_fails_its_steps_and_the_next_batch_runs() -> None:
    recorder = Recorder(fail_on=2)
    batcher = DecodeBatcher(recorder, max_batch=2)
    results = await asyncio.gather(*(batcher.step(request) for request in range(4)),
                                   return_exceptions=True)
    assert results[0] == 0 and results[1] == 10
    assert all(isinstance(result, RuntimeError) for result in results[2:])
    assert await batcher.step(7) == 70


async def test_an_exception_result_fails_its_own_step_only() -> None:
    recorder = Recorder()
    batcher = DecodeBatcher(recorder, max_batch=8)
    results = await asyncio.gather(*(batcher.step(request) for request in (1, -2, 3)),
                                   return_exceptions=True)
    assert results[0] == 10 and results[2] == 30
    assert isinstance(results[1], ValueError) and "bad request -2" in str(results[1])
    assert recorder.batches == [[1, -2, 3]]


async def test_a_wrong_number_of_results_is_an_error() -> None:
    async def short(requests: Sequence[int]) -> list[int]:
        return [1]

    batcher = DecodeBatcher(short, max_batch=4)
    results = await asyncio.gather(batcher.step(1), batcher.step(2), return_exceptions=True)
    assert all(isinstance(result, RuntimeError) and "2 requests gave 1 results" in str(result)
               for result in results)


async def test_a_cancelled_step_does_not_disturb_the_others() -> None:
    recorder = Recorder()
    recorder.release.clear()
    batcher = DecodeBatcher(recorder, max_batch=8)
    kept = [asyncio.create_task(batcher.step(request)) for request in (1, 2)]
    dropped = asyncio.create_task(batcher.step(3))
    await recorder.started.wait()
    dropped.cancel()
    recorder.release.set()
    assert await asyncio.gather(*kept) == [10, 20]
    with pytest.raises(asyncio.CancelledError):
        await dropped
    assert await batcher.step(4) == 40


async def test_a_step_cancelled_before_its_batch_never_runs() -> None:
    """Its caller is gone, and with it the guarantee that the state it would change is
    still its own: the request is dropped, not run for nobody."""
    recorder = Recorder()
    recorder.release.clear()
    batcher = DecodeBatcher(recorder, max_batch=8)
    running = asyncio.create_task(batcher.step(1))
    await recorder.started.wait()  # the batch of 1 runs; the next requests wait
    dropped = asyncio.create_task(batcher.step(2))
    kept = asyncio.create_task(batcher.step(3))
    await asyncio.sleep(0)
    dropped.cancel()
    with pytest.raises(asyncio.CancelledError):
        await dropped
    recorder.release.set()
    assert (await running, await kept) == (10, 30)
    assert recorder.batches == [[1], [3]]


def test_a_new_event_loop_starts_afresh() -> None:
    """A loop closed in the middle of a batch, without cancelling its tasks, leaves
    nothing behind that a later loop would wait on."""
    recorder = Recorder()
    batcher = DecodeBatcher(recorder, max_batch=8)
    first = asyncio.new_event_loop()

    async def start_a_batch_that_never_ends() -> None:
        recorder.release = asyncio.Event()
        recorder.started = asyncio.Event()
        asyncio.get_running_loop().create_task(batcher.step(1))
        await recorder.started.wait()

    first.run_until_complete(start_a_batch_that_never_ends())
    first.close()

    async def later() -> list[int]:
        recorder.release = asyncio.Event()
        recorder.release.set()
        recorder.started = asyncio.Event()
        return list(await asyncio.gather(batcher.step(2), batcher.step(3)))

    assert asyncio.run(later()) == [20, 30]
    assert recorder.batches == [[1], [2, 3]]


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch must be >= 1"):
        DecodeBatcher(Recorder(), max_batch=0)

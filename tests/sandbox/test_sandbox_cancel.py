"""Cancelling a call mid-way, against the real engine: the code in the container is
interrupted, the kernel channel stays in step and the next call works; only
``SandboxError`` subclasses (and the cancellation itself) leave the package."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gptoss_agent.sandbox import DockerSandbox, ExecutionStatus, SandboxError
from gptoss_agent.sandbox.labels import SESSION

from .conftest import wait_for_file

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]

STALL = (
    "import time\n"
    "try:\n"
    "    open('/mnt/data/started', 'w').close()\n"
    "    time.sleep(60)\n"
    "except KeyboardInterrupt:\n"
    "    interrupted = True\n"
    "    raise\n"
)
"""A cell that says it runs, then waits; ``interrupted`` records a ``KeyboardInterrupt``."""

CTRL_C_CELL = STALL.replace(
    "    interrupted = True\n", "    open('/mnt/data/interrupted', 'w').close()\n"
)


async def started_call(box: DockerSandbox, code: str = STALL) -> asyncio.Task:
    task = asyncio.ensure_future(box.execute(code))
    await wait_for_file(box.data_dir / "started")
    (box.data_dir / "started").unlink()
    return task


async def assert_in_step(box: DockerSandbox, expect_interrupted: bool = True) -> None:
    """The next calls answer in order, each with its own value.

    The first says whether the state was lost: it was when the cancelled code did not
    heed its interrupt (the container was replaced), and only the first says so.
    """
    for n in range(3):
        result = await box.execute(f"{n} * 7")
        assert result.value == str(n * 7), result
        assert result.state_reset is (n == 0 and not expect_interrupted), result
        assert ("previous call was cancelled" in result.detail) is result.state_reset
    if expect_interrupted:
        assert (await box.execute("interrupted")).value == "True"


async def test_cancelling_the_task_interrupts_the_code(make_sandbox):
    box = make_sandbox("cancel-task", timeout_s=60.0)
    await box.start()
    task = await started_call(box)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_in_step(box)
    assert box.containers_started == 1


async def test_a_deadline_around_the_call_interrupts_the_code(make_sandbox):
    box = make_sandbox("cancel-deadline", timeout_s=60.0)
    await box.start()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.0):
            await box.execute(STALL)
    await assert_in_step(box)


async def test_cancelling_twice_still_leaves_the_session_usable(make_sandbox):
    box = make_sandbox("cancel-twice", timeout_s=60.0, interrupt_grace_s=3.0)
    await box.start()
    stubborn = (
        "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "open('/mnt/data/started', 'w').close()\ntime.sleep(60)"
    )
    task = await started_call(box, stubborn)
    task.cancel()
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await assert_in_step(box, expect_interrupted=False)
    assert box.containers_started == 2  # the code ignored the interrupt: a new container


async def test_cancelling_code_that_ignores_the_interrupt_replaces_the_container(
    make_sandbox, docker_engine
):
    box = make_sandbox("cancel-stubborn", timeout_s=60.0)
    await box.start()
    old = box.container_id
    code = (
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "open('/mnt/data/started', 'w').close()\nwhile True:\n    pass"
    )
    task = await started_call(box, code)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert docker_engine.inspect(old) is None
    await assert_in_step(box, expect_interrupted=False)


async def test_cancelling_the_first_call_while_the_container_starts(make_sandbox, docker_engine):
    box = make_sandbox("cancel-start")
    task = asyncio.ensure_future(box.execute("1"))
    for _ in range(3):
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await box.execute("40 + 2")).value == "42"
    labelled = [
        c for c in docker_engine.sandbox_containers()
        if (c.get("Labels") or {}).get(SESSION) == "cancel-start"
    ]
    assert len(labelled) == 1, labelled  # the start went on; nothing was left behind
    await box.close()


async def test_cancelled_calls_in_a_row_then_a_normal_one(make_sandbox):
    box = make_sandbox("cancel-many", timeout_s=60.0)
    await box.start()
    for _ in range(3):
        task = await started_call(box)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    await assert_in_step(box)
    assert box.containers_started == 1


async def test_broken_stream_is_a_sandbox_error_and_the_session_recovers(make_sandbox):
    box = make_sandbox("broken-stream")
    await box.start()
    box._channel._reader.feed_data(b"\xff\xff\xff\xff")  # a corrupt frame from nowhere
    result = await box.execute("1")
    assert result.status is ExecutionStatus.CRASHED and result.state_reset, result
    assert (await box.execute("2")).value == "2"


async def test_ctrl_c_interrupts_the_code_and_leaves_no_container(tmp_path, docker_engine):
    data = tmp_path / "data"
    script = textwrap.dedent(
        f"""
        import asyncio
        from gptoss_agent.sandbox import DockerSandbox, SandboxConfig
        from tests.sandbox.conftest import FAST_LIMITS
        import dataclasses

        async def main():
            limits = dataclasses.replace(FAST_LIMITS, timeout_s=60.0)
            box = DockerSandbox(SandboxConfig(limits=limits), data_dir={str(data)!r},
                                session="ctrl-c")
            try:
                await box.execute({CTRL_C_CELL!r})
            finally:
                await box.close()

        asyncio.run(main())
        """
    )
    process = subprocess.Popen(  # noqa: ASYNC220 - a real process to send Ctrl-C to
        [sys.executable, "-c", script], cwd=ROOT, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        await wait_for_file(data / "started", timeout_s=30.0)
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.to_thread(process.communicate, timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode != 0
    assert "KeyboardInterrupt" in stderr.splitlines()[-1], stderr
    assert "SandboxError" not in stderr and "RuntimeError" not in stderr, stderr
    assert (data / "interrupted").exists()  # the code saw the interrupt, not just a kill
    leftover = [
        c for c in docker_engine.sandbox_containers()
        if (c.get("Labels") or {}).get(SESSION) == "ctrl-c"
    ]
    assert leftover == []


async def test_only_sandbox_errors_leave_a_session(make_sandbox):
    box = make_sandbox("errors")
    await box.close()
    with pytest.raises(SandboxError):
        await box.execute("1")


async def test_an_unexpected_failure_below_is_a_sandbox_error(make_sandbox, docker_engine,
                                                              monkeypatch):
    box = make_sandbox("unexpected")

    def attach(container_id: str) -> None:
        raise ConnectionResetError("the engine dropped the attach stream")

    monkeypatch.setattr(docker_engine, "attach", attach)
    with pytest.raises(SandboxError, match="ConnectionResetError"):
        await box.execute("1")
    with pytest.raises(SandboxError, match="ConnectionResetError"):
        await box.start()
    monkeypatch.undo()
    assert (await box.execute("2")).value == "2"
    labelled = [
        c for c in docker_engine.sandbox_containers()
        if (c.get("Labels") or {}).get(SESSION) == "unexpected"
    ]
    assert len(labelled) == 1  # the failed starts left no container behind


@pytest.mark.parametrize("failure", [ValueError("a reply it could not read"),
                                     OSError(5, "Input/output error")])
async def test_an_unexpected_failure_listing_or_closing_is_a_sandbox_error(
        make_sandbox, docker_engine, monkeypatch, failure):
    box = make_sandbox(f"unexpected-close-{type(failure).__name__}")
    await box.start()
    container_id = box.container_id
    real_remove = docker_engine.remove

    def broken(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(docker_engine, "top", broken)
    with pytest.raises(SandboxError, match=f"processes failed: {type(failure).__name__}"):
        await box.processes()
    monkeypatch.setattr(docker_engine, "remove", broken)
    with pytest.raises(SandboxError, match=f"closing the sandbox failed: {type(failure).__name__}"):
        await box.close()
    with pytest.raises(SandboxError):  # closed all the same
        await box.execute("1")
    monkeypatch.undo()
    real_remove(container_id)  # what the failed close left, removed for the next tests
    assert container_id not in {c["Id"] for c in docker_engine.sandbox_containers()}

"""A cancelled call on an engine elsewhere: the files it wrote still reach the host mirror,
at the next call or at close (the volume is removed at close, so they would be lost)."""

from __future__ import annotations

import asyncio
import time

import pytest

from gptoss_agent.sandbox import SandboxError
from gptoss_agent.sandbox.engine import Engine

from .test_sandbox_remote import remote_box

pytestmark = pytest.mark.docker

WRITE_THEN_STALL = (
    "open('/mnt/data/made-before-cancel.txt', 'w').write('kept')\n"
    "import time\ntime.sleep(60)"
)


async def _wait_in_volume(engine: Engine, container_id: str, path: str) -> None:
    deadline = time.monotonic() + 20.0
    while True:
        try:
            await asyncio.to_thread(engine.api, "look", "get_archive", container_id, path)
            return
        except SandboxError:
            if time.monotonic() > deadline:
                pytest.fail(f"{path} did not appear in the volume")
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("then", ["next_call", "close"])
async def test_files_of_a_cancelled_call_reach_the_mirror(remote_engine, tmp_path, then):
    folder = tmp_path / "drive"
    box = remote_box(remote_engine, folder, f"remote-cancel-{then.replace('_', '-')}")
    try:
        await box.start()
        call = asyncio.ensure_future(box.execute(WRITE_THEN_STALL))
        assert box.container_id is not None
        await _wait_in_volume(remote_engine, box.container_id, "/mnt/data/made-before-cancel.txt")
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        if then == "next_call":
            result = await box.execute("'next'")
            assert result.value == "'next'", result
            assert (folder / "made-before-cancel.txt").read_text() == "kept"
    finally:
        await box.close()
    assert (folder / "made-before-cancel.txt").read_text() == "kept"

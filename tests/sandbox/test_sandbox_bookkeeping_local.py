"""The kernel's bookkeeping under a hostile cell, run as a local subprocess (no Docker):
a cell that used up every file descriptor still has its leftovers stopped and the drive
listed, and a call cancelled while its interrupt is being answered leaves the channel in
step for the next one."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal

import pytest

from .conftest import wait_for_file
from .test_sandbox_kernel_local import _alive

EXHAUST_FDS = (
    "import os, resource\n"
    "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))\n"
    "hog = []\n"
    "try:\n    while True:\n        hog.append(os.open(os.devnull, os.O_RDONLY))\n"
    "except OSError:\n    pass\n"
)


@pytest.mark.parametrize("how", ["new_session", "double_fork"])
async def test_a_cell_out_of_file_descriptors_still_has_its_leftovers_stopped(
    local_kernel, tmp_path, how
):
    # The local kernel shares the host's /proc: a duration no other process uses tells
    # this test's sleeper from any other `sleep` on the machine.
    seconds = f"300.{secrets.randbelow(10**6):06d}"
    start = (
        "import subprocess\n"
        f"subprocess.Popen(['sleep', '{seconds}'], start_new_session=True)\n"
        if how == "new_session"
        else "import os\nif os.fork() == 0:\n    os.setsid()\n"
        f"    os.execvp('sleep', ['sleep', '{seconds}'])\n"
    )
    wanted = f"b'sleep\\x00{seconds}\\x00'"
    reply = await local_kernel.run(
        start + "import glob, time\n"
        "def sleepers():\n"
        "    found = []\n"
        "    for p in glob.glob('/proc/[0-9]*/cmdline'):\n"
        "        try:\n"
        f"            if open(p, 'rb').read() == {wanted}:\n"
        "                found.append(p.split('/')[2])\n"
        "        except OSError:\n"
        "            pass\n"
        "    return found\n"
        "while not sleepers():\n"
        "    time.sleep(0.01)\n"
        "open('pids', 'w').write(' '.join(sleepers()))\n"
        + EXHAUST_FDS + "len(hog) > 0"
    )
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    try:
        assert reply["value"]["head"] == "True"
        assert reply["killed"] == 1, reply
        assert f"sleep {seconds}" in reply["stopped"][0]["command"]
        assert not any(_alive(pid) for pid in pids)
        after = await local_kernel.run("[os.close(fd) for fd in hog] and None\n'in step'")
        assert after["value"]["head"] == "'in step'"
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


async def test_the_drive_listing_survives_a_cell_out_of_file_descriptors(local_kernel, tmp_path):
    (tmp_path / "kept.txt").write_text("x")
    outcome = await local_kernel.channel.execute(
        EXHAUST_FDS + "open_failed = True",
        timeout_s=5.0, grace_s=1.0, output_bytes=1000, value_chars=100,
        options={"snapshot": True, "data_root": str(tmp_path)},
    )
    reply = outcome.reply
    assert reply is not None and reply["status"] == "ok", outcome
    assert "kept.txt" in reply["files"] and reply["files_complete"] is True


async def test_cancelling_while_the_interrupt_is_answered_keeps_the_channel_in_step(
    local_kernel, tmp_path
):
    call = asyncio.ensure_future(local_kernel.channel.execute(
        "import os, time\n"
        "try:\n    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    open('caught', 'w').close()\n"
        "    while not os.path.exists('go'):\n        time.sleep(0.01)\n"
        "    raise",
        timeout_s=0.2, grace_s=10.0, output_bytes=1000, value_chars=100,
    ))
    await wait_for_file(tmp_path / "caught")  # the deadline passed: now in the grace wait
    call.cancel()
    following = asyncio.ensure_future(local_kernel.run("6 * 7"))
    for _ in range(20):
        await asyncio.sleep(0)  # let the next call reach the stream if it (wrongly) can
    (tmp_path / "go").touch()
    with pytest.raises(asyncio.CancelledError):
        await call
    reply = await following
    assert reply["value"]["head"] == "42" and not local_kernel.channel.broken

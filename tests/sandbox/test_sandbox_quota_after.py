"""The ``/mnt/data`` quota around short calls: a call that ends before the watchdog's
first poll is still measured once it ended, and a drive that was already larger than the
quota (input files) is allowed what it held."""

from __future__ import annotations

import pytest

from gptoss_agent.sandbox import ExecutionStatus

pytestmark = pytest.mark.docker


async def test_a_call_too_short_to_be_polled_is_measured_when_it_ends(make_sandbox):
    box = make_sandbox("quota-short")
    result = await box.execute(
        "for i in range(3):\n    open(f'/mnt/data/big{i}', 'wb').write(b'1' * (12 << 20))"
    )
    assert result.status is ExecutionStatus.QUOTA and result.limit == "data_mb", result
    # Usually "The call ended, but ..."; "Stopped: ..." if a slow machine let a poll in.
    assert "/mnt/data grew past its quota of 32 MB (limit data_mb)" in result.detail
    assert not result.state_reset and "big0" in result.files_created


async def test_a_short_flood_of_empty_files_names_the_file_limit(make_sandbox):
    box = make_sandbox("files-short", data_files=100)
    result = await box.execute("for i in range(150):\n    open(f'/mnt/data/e{i}', 'w').close()")
    assert result.status is ExecutionStatus.QUOTA and result.limit == "data_files", result
    assert "100 files and folders (limit data_files)" in result.detail
    within = await box.execute(
        "import os\nfor name in os.listdir('/mnt/data'):\n    os.remove('/mnt/data/' + name)\n"
        "'clean'"
    )
    assert within.ok and within.value == "'clean'", within


async def test_inputs_larger_than_the_quota_are_allowed(make_sandbox, tmp_path):
    box = make_sandbox("quota-inputs", data_files=50)
    for i in range(4):
        box.drive.write_bytes(f"input{i}.bin", b"2" * (10 << 20))  # 40 MB > 32 MB
    for i in range(60):
        box.drive.write_bytes(f"many/f{i}", b"")
    result = await box.execute(
        "import time\ntime.sleep(0.6)\nlen(open('/mnt/data/input0.bin', 'rb').read())"
    )
    assert result.ok and result.value == str(10 << 20), result


async def test_a_would_block_socket_error_is_not_the_process_limit(make_sandbox):
    box = make_sandbox("would-block", keep_background=True)
    result = await box.execute(
        "import socket, subprocess\n"
        "server = subprocess.Popen(['sleep', '300'])\n"
        "a, b = socket.socketpair()\na.setblocking(False)\na.recv(1)"
    )
    assert result.error is not None and result.error.name == "BlockingIOError", result
    assert result.limit is None and "process limit" not in result.detail, result
    assert result.stopped_count == 0 and result.background_count == 1, result
    memory = await box.execute("import errno, os\nraise OSError(errno.ENOMEM, 'no memory')")
    assert memory.limit == "memory_mb" and "memory_mb" in memory.detail, memory

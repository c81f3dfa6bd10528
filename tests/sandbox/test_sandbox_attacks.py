"""Attacks and faults against a real sandbox. Each test asserts the safe outcome and
that the next call works (in the same session, or in the replaced container)."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time

import pytest

from gptoss_agent.sandbox import (
    DockerSandbox,
    EngineUnavailableError,
    ExecutionStatus,
    SandboxConfig,
)
from gptoss_agent.sandbox.engine import Engine

from .conftest import FAST_LIMITS, wait_for_file

pytestmark = pytest.mark.docker


def host_processes_with(marker: str) -> list[int]:
    """Host pids whose command line contains ``marker`` (container processes included)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmdline and state != "Z":
            found.append(int(entry))
    return found


async def assert_works(box: DockerSandbox, expect_state: bool = True) -> None:
    """The session answers; with ``expect_state`` its variable ``alive`` survived."""
    result = await box.execute("alive" if expect_state else "alive = 'yes'; alive")
    assert result.ok, result
    assert result.value == "'yes'"


async def primed(box: DockerSandbox) -> DockerSandbox:
    assert (await box.execute("alive = 'yes'")).ok
    return box


async def test_fork_bomb_is_contained(make_sandbox):
    box = await primed(make_sandbox("fork"))
    result = await box.execute("import os\nwhile True:\n    os.fork()")
    assert result.status is ExecutionStatus.ERROR, result
    assert result.error is not None and result.error.name == "BlockingIOError"
    assert "process limit was reached (pids: at most 64" in result.detail
    assert result.limit == "pids"
    procs = await box.processes()
    assert len(procs) == 2, procs  # init and the kernel: the bomb's clones were killed
    await assert_works(box)


async def test_fork_bomb_that_swallows_errors_is_killed(make_sandbox):
    box = await primed(make_sandbox("fork2", timeout_s=2.0))
    result = await box.execute(
        "import os\nwhile True:\n    try:\n        os.fork()\n"
        "    except BaseException:\n        pass"
    )
    # The interrupt lands in the swallowing ``except`` (the container is restarted) or
    # between statements (the kernel survives and kills the clones): both are safe.
    assert result.status is ExecutionStatus.TIMEOUT, result
    if result.state_reset:
        assert "restarted" in result.detail
    else:
        assert "left running by the code were stopped" in result.detail
    await assert_works(box, expect_state=not result.state_reset)
    assert len(await box.processes()) == 2


async def test_thread_bomb_hits_the_pids_limit(make_sandbox):
    box = await primed(make_sandbox("threads"))
    result = await box.execute(
        "import threading, time\nthreads = []\nwhile True:\n"
        "    t = threading.Thread(target=time.sleep, args=(30,), daemon=True)\n"
        "    t.start(); threads.append(t)"
    )
    assert result.status is ExecutionStatus.ERROR, result
    assert result.error is not None and result.error.name == "RuntimeError"
    await assert_works(box)
    assert int((await box.execute("len(threads)")).value or 0) < FAST_LIMITS.pids


async def test_memory_bomb_is_killed_and_reported(make_sandbox):
    box = await primed(make_sandbox("memory"))
    result = await box.execute("chunks = []\nwhile True:\n    chunks.append(bytearray(8 << 20))")
    assert result.state_reset, result
    assert result.status is ExecutionStatus.CRASHED
    assert "out of memory" in result.detail and "reset" in result.detail
    await assert_works(box, expect_state=False)


async def test_infinite_loop_is_interrupted_and_state_kept(make_sandbox):
    box = await primed(make_sandbox("loop", timeout_s=1.5))
    started = time.monotonic()
    result = await box.execute("while True:\n    pass")
    assert result.status is ExecutionStatus.TIMEOUT and not result.state_reset, result
    assert result.error is not None and result.error.name == "KeyboardInterrupt"
    assert time.monotonic() - started < 1.5 + FAST_LIMITS.interrupt_grace_s + 1
    await assert_works(box)


async def test_timed_out_process_and_children_are_gone(make_sandbox):
    box = await primed(make_sandbox("children", timeout_s=2.0))
    marker = "7391"
    result = await box.execute(
        "import subprocess, time\n"
        f"subprocess.Popen(['sleep', '{marker}1'])\n"
        f"subprocess.Popen(['sleep', '{marker}2'], start_new_session=True)\n"
        f"subprocess.Popen(['sh', '-c', 'sleep {marker}3 & sleep {marker}4'])\n"
        "time.sleep(60)"
    )
    assert result.status is ExecutionStatus.TIMEOUT and not result.state_reset, result
    assert "5 process(es) left running by the code were stopped" in result.detail
    assert result.limit == "timeout_s" and result.stopped_count == 5
    commands = [p["COMMAND"] for p in await box.processes()]
    assert not [c for c in commands if "sleep" in c], commands
    assert host_processes_with(f"sleep {marker}") == []
    await assert_works(box)


async def test_loop_ignoring_sigint_and_sigalrm_gets_container_restarted(
    make_sandbox, docker_engine
):
    box = await primed(make_sandbox("stubborn", timeout_s=1.5))
    old_container = box.container_id
    marker = "8462"
    result = await box.execute(
        "import signal, subprocess\n"
        "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        f"subprocess.Popen(['sleep', '{marker}9'], start_new_session=True)\n"
        "while True:\n    pass"
    )
    assert result.status is ExecutionStatus.TIMEOUT and result.state_reset, result
    assert "restarted" in result.detail and "reset" in result.detail
    assert docker_engine.inspect(old_container) is None
    assert host_processes_with(f"sleep {marker}9") == []
    await assert_works(box, expect_state=False)
    assert box.container_id != old_container


async def test_100_mb_of_output_is_capped_with_a_count(make_sandbox):
    box = await primed(make_sandbox("output", timeout_s=20.0))
    result = await box.execute(
        "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * (1 << 20))"
    )
    assert result.ok, result
    assert result.limit == "output_bytes"
    assert result.stdout_cut == 100 * (1 << 20) - FAST_LIMITS.output_bytes
    assert len(result.stdout) < FAST_LIMITS.output_bytes + 100
    assert f"[... {result.stdout_cut:,} bytes of output cut ...]" in result.stdout
    await assert_works(box)


async def test_invalid_utf8_output(make_sandbox):
    box = await primed(make_sandbox("utf8"))
    result = await box.execute(
        "import os, sys\nsys.stdout.buffer.write(b'\\xff\\xfe\\x00ok\\n'); sys.stdout.flush()\n"
        "os.write(2, b'\\xc3\\x28\\n')\nprint('\\udcff')"
    )
    assert result.ok, result
    assert "\ufffd\ufffd\x00ok" in result.stdout and "\\udcff" in result.stdout
    assert "\ufffd(" in result.stderr
    await assert_works(box)


async def test_filling_tmp_stops_at_the_tmpfs_size(make_sandbox):
    box = await primed(make_sandbox("tmp"))
    result = await box.execute(
        "f = open('/tmp/fill', 'wb')\nwhile True:\n    f.write(b'\\0' * (1 << 20)); f.flush()"
    )
    assert result.status is ExecutionStatus.ERROR, result
    assert result.error is not None and "No space left" in result.error.message
    cleanup = await box.execute(
        "import os; f.close() if not f.closed else None\nos.remove('/tmp/fill'); alive"
    )
    assert cleanup.value == "'yes'"


async def test_one_file_cannot_outgrow_the_drive_quota(make_sandbox):
    box = await primed(make_sandbox("bigfile"))
    result = await box.execute(
        "f = open('/mnt/data/big', 'wb')\nwhile True:\n    f.write(b'\\0' * (1 << 20)); f.flush()"
    )
    # The file-size limit stops the write; on a loaded machine the drive watchdog may see
    # the drive full first. Either way the file stays within the quota and the limit is
    # named.
    if result.status is ExecutionStatus.QUOTA:
        assert result.limit == "data_mb", result
    else:
        assert result.status is ExecutionStatus.ERROR, result
        assert result.error is not None and "File too large" in result.error.message
    assert (box.data_dir / "big").stat().st_size <= FAST_LIMITS.data_mb << 20
    await assert_works(box)


async def test_filling_the_drive_with_many_files_is_stopped(make_sandbox):
    box = await primed(make_sandbox("drive", timeout_s=30.0))
    started = time.monotonic()
    result = await box.execute(
        "import time\ni = 0\nwhile True:\n"
        "    with open(f'/mnt/data/f{i}', 'wb') as f:\n        f.write(b'\\1' * (1 << 20))\n"
        "    i += 1\n    time.sleep(0.01)"
    )
    assert result.status is ExecutionStatus.QUOTA, result
    assert "quota" in result.detail and not result.state_reset
    assert time.monotonic() - started < 15
    used = sum(p.stat().st_size for p in box.data_dir.iterdir())
    assert used < 4 * (FAST_LIMITS.data_mb << 20)
    cleanup = await box.execute(
        "import glob, os\nfor p in glob.glob('/mnt/data/f*'): os.remove(p)\nalive"
    )
    assert cleanup.value == "'yes'"


async def test_exhausting_file_descriptors(make_sandbox):
    box = await primed(make_sandbox("fds"))
    result = await box.execute("handles = []\nwhile True:\n    handles.append(open('/dev/null'))")
    assert result.status is ExecutionStatus.ERROR, result
    assert result.error is not None and "Too many open files" in result.error.message
    assert int((await box.execute("len(handles)")).value or 0) < FAST_LIMITS.nofile
    await assert_works(box)


async def test_network_connections_fail_inside(make_sandbox, docker_engine):
    box = await primed(make_sandbox("network"))
    result = await box.execute(
        "import os, socket\nout = []\n"
        "for host in [('1.1.1.1', 53), ('8.8.8.8', 443)]:\n"
        "    try:\n        socket.create_connection(host, timeout=2); out.append('connected')\n"
        "    except OSError as e:\n        out.append(e.errno)\n"
        "try:\n    socket.getaddrinfo('example.com', 80); out.append('resolved')\n"
        "except OSError:\n    out.append('no-dns')\n"
        "out, sorted(os.listdir('/sys/class/net'))"
    )
    assert result.ok, result
    assert result.value == "([101, 101, 'no-dns'], ['lo'])"  # ENETUNREACH: no route at all
    info = docker_engine.inspect(box.container_id)
    assert info["HostConfig"]["NetworkMode"] == "none"
    assert "bridge" not in (info["NetworkSettings"]["Networks"] or {})
    await assert_works(box)


async def test_host_files_and_the_docker_socket_are_out_of_reach(make_sandbox, tmp_path):
    secret = tmp_path / "host-secret.txt"
    secret.write_text("s3cr3t")
    box = await primed(make_sandbox("escape"))
    result = await box.execute(
        "import os\nout = []\n"
        f"out.append(os.path.exists({str(secret)!r}))\n"
        "for path in ['/var/run/docker.sock', '/run/docker.sock']:\n"
        "    out.append(os.path.exists(path))\n"
        "try:\n    open('/etc/shadow').read(); out.append('read shadow')\n"
        "except PermissionError:\n    out.append('denied')\n"
        "mounts = open('/proc/self/mountinfo').read()\n"
        "out.append('docker.sock' in mounts)\n"
        "out"
    )
    assert result.ok, result
    assert result.value == "[False, False, False, 'denied', False]"
    await assert_works(box)


async def test_os_exit_resets_the_session(make_sandbox):
    box = await primed(make_sandbox("exit"))
    result = await box.execute("import os\nos._exit(7)")
    assert result.status is ExecutionStatus.CRASHED and result.state_reset, result
    assert "exit code 7" in result.detail
    await assert_works(box, expect_state=False)


async def test_killing_pid_1(make_sandbox):
    box = await primed(make_sandbox("pid1"))
    result = await box.execute(
        "import os, signal\nos.kill(1, signal.SIGKILL)\nos.kill(1, signal.SIGTERM)\n"
        "import time; time.sleep(3)"
    )
    # SIGKILL to the namespace's init is dropped; SIGTERM makes init stop the kernel.
    assert result.status is ExecutionStatus.CRASHED and result.state_reset, result
    await assert_works(box, expect_state=False)


async def test_container_killed_from_outside_mid_call(make_sandbox, docker_engine):
    box = await primed(make_sandbox("killed", timeout_s=30.0))
    call = asyncio.ensure_future(
        box.execute("import time\nopen('running','w').close()\ntime.sleep(25)")
    )
    await wait_for_file(box.data_dir / "running")
    docker_engine.kill(box.container_id)
    result = await asyncio.wait_for(call, 15)
    assert result.status is ExecutionStatus.CRASHED and result.state_reset, result
    assert "killed" in result.detail
    await assert_works(box, expect_state=False)


async def test_ten_sessions_one_abusive(make_sandbox):
    boxes = [make_sandbox(f"crowd{i}", timeout_s=3.0, memory_mb=128) for i in range(10)]
    await asyncio.gather(*(primed(box) for box in boxes))
    abusive = (
        "import os, signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "for _ in range(40):\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
        "while True:\n    pass"
    )

    async def polite(box: DockerSandbox, n: int) -> list[tuple[str | None, float]]:
        results = []
        for k in range(3):
            started = time.monotonic()
            result = await box.execute(f"sum(range({n} * 1000)) + {k}")
            results.append((result.value, time.monotonic() - started))
        return results

    outcomes = await asyncio.gather(
        boxes[0].execute(abusive), *(polite(box, i) for i, box in enumerate(boxes[1:], 1))
    )
    bad = outcomes[0]
    assert bad.status is ExecutionStatus.TIMEOUT and bad.state_reset, bad
    for i, results in enumerate(outcomes[1:], 1):
        for k, (value, seconds) in enumerate(results):
            assert value == str(sum(range(i * 1000)) + k)
            assert seconds < 3.0, (i, k, seconds)
    for box in boxes[1:]:
        await assert_works(box)
    await assert_works(boxes[0], expect_state=False)


# -- the engine itself unreachable (no running engine needed) --------------------------


@pytest.mark.docker
async def test_unreachable_engine_fails_fast(tmp_path):
    started = time.monotonic()
    with pytest.raises(EngineUnavailableError, match="cannot reach the Docker engine"):
        Engine.connect(f"unix://{tmp_path}/no-docker.sock", timeout_s=2.0)
    config = SandboxConfig(docker_host=f"unix://{tmp_path}/no-docker.sock", limits=FAST_LIMITS)
    box = DockerSandbox(config, data_dir=tmp_path / "d")
    with pytest.raises(EngineUnavailableError):
        await box.execute("1")
    assert time.monotonic() - started < 5


@pytest.mark.docker
async def test_engine_that_never_answers_hits_the_deadline(tmp_path):
    path = tmp_path / "silent.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        started = time.monotonic()
        with pytest.raises(EngineUnavailableError):
            await asyncio.to_thread(Engine.connect, f"unix://{path}", 1.0)
        assert time.monotonic() - started < 5
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        server.close()

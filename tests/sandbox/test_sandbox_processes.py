"""Processes a call leaves behind, against the real engine: stopped when the call ends
(and said so, with count and commands) by default, kept and listed with
``keep_background``, zombies reaped, and every limit named when it is hit."""

from __future__ import annotations

import pytest

from gptoss_agent.sandbox import DockerSandbox, ExecutionStatus, SandboxConfig

from .conftest import FAST_LIMITS, WAIT_FOR

pytestmark = pytest.mark.docker

LEAVERS = {
    "setsid": "import subprocess\nsubprocess.run(['setsid', '-f', 'sleep', '{m}'])",
    "double_fork": (
        "import os, time\npid = os.fork()\nif pid == 0:\n    if os.fork() == 0:\n"
        "        os.execvp('sleep', ['sleep', '{m}'])\n    os._exit(0)\nos.waitpid(pid, 0)"
    ),
    "new_session": "import subprocess\nsubprocess.Popen(['sleep', '{m}'], start_new_session=True)",
    "nohup": "import os\nos.system('nohup sleep {m} > /dev/null 2>&1 &')",
    "shell_background": "import subprocess\nsubprocess.run('sleep {m} & sleep {m} &', shell=True)",
    "daemon_thread": (
        "import subprocess, threading\n"
        "def spawn():\n    for _ in range(3):\n        subprocess.Popen(['sleep', '{m}'])\n"
        "t = threading.Thread(target=spawn, daemon=True)\nt.start(); t.join()"
    ),
    "python_child": (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep({m})'])"
    ),
}
"""Ways a cell can leave processes running; ``{m}`` is a marker number of seconds."""

EXPECTED_COUNT = {"shell_background": 2, "daemon_thread": 3}

def sleepers(procs: list[dict[str, str]], marker: str) -> list[str]:
    return [p["COMMAND"] for p in procs if marker in p["COMMAND"]]


def keeping(make_sandbox, name: str) -> DockerSandbox:
    return make_sandbox(name, keep_background=True)


@pytest.mark.parametrize("variant", sorted(LEAVERS))
async def test_leftover_processes_are_stopped_and_reported(make_sandbox, variant):
    box = make_sandbox(f"leave-{variant}")
    marker = "9137"
    expected = EXPECTED_COUNT.get(variant, 1)
    code = LEAVERS[variant].format(m=marker) + WAIT_FOR.format(m=marker, n=expected)
    result = await box.execute(code + "state = 'kept'")
    assert result.ok, result
    assert result.stopped_count == expected, result
    assert all(marker in command for command in result.stopped_processes), result
    assert f"{expected} process(es) left running by the code were stopped" in result.detail
    assert sleepers(await box.processes(), marker) == []
    follow = await box.execute("state")
    assert follow.value == "'kept'" and follow.stopped_count == 0 and follow.detail == ""


async def test_a_call_that_leaves_nothing_says_nothing(sandbox):
    result = await sandbox.execute("import subprocess\nsubprocess.run(['true']).returncode")
    assert result.value == "0" and result.stopped_count == 0 and result.detail == ""


async def test_kept_background_processes_are_listed_and_stopped_at_close(
        make_sandbox, docker_engine):
    box = keeping(make_sandbox, "keep")
    marker = "8153"
    started = await box.execute(
        "import subprocess, sys\n"
        f"server = subprocess.Popen([sys.executable, '-m', 'http.server', '{marker}'],\n"
        "    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)\n"
        "server.pid"
    )
    assert started.ok and started.stopped_count == 0, started
    assert started.background_count == 1, started
    assert started.background_processes[0].startswith(f"{started.value} ")
    assert f"http.server {marker}" in started.background_processes[0]
    assert "keep running between calls" in started.detail
    later = await box.execute(
        "import urllib.request, time\n"
        "for _ in range(100):\n"
        "    try:\n"
        f"        status = urllib.request.urlopen('http://127.0.0.1:{marker}/').status\n"
        "        break\n"
        "    except OSError:\n        time.sleep(0.05)\n"
        "status"
    )
    assert later.value == "200" and later.background_count == 1, later
    assert len(sleepers(await box.processes(), f"http.server {marker}")) == 1
    container = box.container_id
    assert container is not None
    await box.close()
    assert box.container_id is None
    assert docker_engine.inspect(container) is None  # removed, and its server with it


async def test_kept_processes_survive_a_timeout_but_the_cells_own_do_not(make_sandbox):
    box = keeping(make_sandbox, "keep-timeout")
    assert (await box.execute("import subprocess\nsubprocess.Popen(['sleep', '6101'])")).ok
    result = await box.execute(
        "import subprocess, time\nsubprocess.Popen(['sleep', '6102'])\ntime.sleep(60)",
        timeout_s=1.0,
    )
    assert result.status is ExecutionStatus.TIMEOUT and not result.state_reset, result
    assert result.stopped_processes == ("sleep 6102",), result
    commands = [p["COMMAND"] for p in await box.processes()]
    assert sleepers([{"COMMAND": c} for c in commands], "6101") and not [
        c for c in commands if "6102" in c
    ]


async def test_kept_fork_bomb_is_still_stopped(make_sandbox):
    box = make_sandbox("keep-bomb", keep_background=True, timeout_s=10.0)
    assert (await box.execute("import subprocess\nsubprocess.Popen(['sleep', '6201'])")).ok
    result = await box.execute("import os\nwhile True:\n    os.fork()")
    # The kernel names the process limit, or (starved of processes itself) the deadline
    # ends the call; either way the clones are gone and the session answers.
    assert result.limit in ("pids", "timeout_s"), result
    commands = [p["COMMAND"] for p in await box.processes()]
    if result.state_reset:  # the container was replaced: init and a new kernel
        assert len(commands) == 2, commands
    else:  # init, the kernel and the kept sleeper
        assert len(commands) == 3 and any("sleep 6201" in c for c in commands), commands
    assert (await box.execute("'answers'")).value == "'answers'"


async def test_zombies_are_reaped_after_every_call(sandbox):
    result = await sandbox.execute(
        "import os, subprocess\nchildren = [subprocess.Popen(['true']) for _ in range(5)]\n"
        "pid = os.fork()\nif pid == 0:\n    os._exit(0)\n"
        "[c.pid for c in children] + [pid]"
    )
    assert result.ok, result
    states = await sandbox.execute(
        "import glob\nstates = []\n"
        "for path in glob.glob('/proc/[0-9]*/stat'):\n"
        "    try:\n        states.append(open(path).read().rsplit(')', 1)[1].split()[0])\n"
        "    except OSError:\n        pass\n"
        "states.count('Z')"
    )
    assert states.value == "0", states
    assert len(await sandbox.processes()) == 2


@pytest.mark.parametrize(
    ("code", "limit", "words"),
    [
        ("import os\nwhile True:\n    os.fork()", "pids", "pids: at most 64"),
        (
            "import threading, time\nwhile True:\n"
            "    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()",
            "pids",
            "process limit",
        ),
        ("h = []\nwhile True:\n    h.append(open('/dev/null'))", "nofile", "nofile: at most 256"),
        (
            "f = open('/tmp/fill', 'wb')\ntry:\n    while True:\n"
            "        f.write(b'0' * (1 << 20)); f.flush()\nfinally:\n"
            "    f.close(); import os; os.remove('/tmp/fill')",
            "tmp_mb",
            "tmp_mb: /tmp holds 16 MB",
        ),
        (
            "f = open('/mnt/data/big', 'wb')\ntry:\n    while True:\n"
            "        f.write(b'0' * (1 << 20)); f.flush()\nfinally:\n"
            "    f.close(); import os; os.remove('/mnt/data/big')",
            "data_mb",
            "data_mb: 32 MB",
        ),
        ("import time\ntime.sleep(30)", "timeout_s", "limit timeout_s"),
        ("x = []\nwhile True:\n    x.append(bytearray(16 << 20))", "memory_mb", "memory_mb: 256"),
    ],
    ids=["fork", "threads", "files", "tmp", "one_file", "time", "memory"],
)
async def test_a_limit_error_names_the_limit(make_sandbox, code, limit, words):
    box = make_sandbox(f"limit-{limit}", timeout_s=2.0)
    result = await box.execute(code)
    assert result.limit == limit, result
    assert words in result.detail, result.detail
    assert (await box.execute("'ok'")).value == "'ok'"


async def test_leftovers_are_stopped_in_a_session_made_by_config(docker_engine, tmp_path):
    box = DockerSandbox(
        SandboxConfig(limits=FAST_LIMITS), data_dir=tmp_path / "d", engine=docker_engine
    )
    try:
        result = await box.execute("import os\nos.system('sleep 7301 &')" + WAIT_FOR.format(
            m="7301", n=1))
        assert result.stopped_processes == ("sleep 7301",), result
    finally:
        await box.close()

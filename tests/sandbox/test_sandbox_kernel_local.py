"""The kernel and its wire protocol, run as a local subprocess (no Docker needed).

The kernel is bootstrapped exactly as in a container (source over stdin); outside a
container it may only kill its own descendants, which these tests rely on.
"""

from __future__ import annotations

import asyncio
import os

from gptoss_agent.sandbox.channel import ByteSink, KernelChannel, kernel_source
from gptoss_agent.sandbox.kernel import BOOTSTRAP

SYSTEM_PYTHON = "python3" if os.path.exists("/usr/bin/python3") else "python"
"""The interpreter a kernel runs under when started by hand (as an image's python3)."""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


async def test_state_persists_and_trailing_expression_is_shown(local_kernel):
    first = await local_kernel.run("x = 40\nimport math")
    assert first["status"] == "ok" and first["value"] is None
    second = await local_kernel.run("x + 2")
    assert second["value"]["head"] == "42"
    assert (await local_kernel.run("math.sqrt(16)"))["value"]["head"] == "4.0"


async def test_semicolon_suppresses_value_and_none_is_not_shown(local_kernel):
    assert (await local_kernel.run("1 + 1;"))["value"] is None
    assert (await local_kernel.run("None"))["value"] is None


async def test_underscore_holds_last_value(local_kernel):
    await local_kernel.run("'abc'")
    assert (await local_kernel.run("_ * 2"))["value"]["head"] == "'abcabc'"


async def test_stdout_stderr_and_subprocess_output_are_captured(local_kernel):
    reply = await local_kernel.run(
        "import sys, os\nprint('out')\nsys.stderr.write('err\\n')\nos.system('echo shell')"
    )
    assert reply["stdout"]["head"] == "out\nshell\n"
    assert reply["stderr"]["head"] == "err\n"
    assert reply["value"]["head"] == "0"


async def test_traceback_shows_cell_lines_without_kernel_frames(local_kernel):
    reply = await local_kernel.run("def f():\n    return 1 / 0\nf()")
    assert reply["status"] == "error"
    error = reply["error"]
    assert error["name"] == "ZeroDivisionError"
    text = error["traceback"]["head"]
    assert 'File "<cell-1>", line 2, in f' in text and "return 1 / 0" in text
    assert "gptoss-kernel" not in text and "kernel.py" not in text


async def test_syntax_error_is_reported_like_a_notebook(local_kernel):
    reply = await local_kernel.run("x = (")
    assert reply["error"]["name"] == "SyntaxError"
    assert "Traceback" not in reply["error"]["traceback"]["head"]
    assert "ast.py" not in reply["error"]["traceback"]["head"]


async def test_system_exit_is_an_error_not_a_dead_kernel(local_kernel):
    reply = await local_kernel.run("import sys; sys.exit(3)")
    assert reply["error"]["name"] == "SystemExit"
    assert (await local_kernel.run("'alive'"))["value"]["head"] == "'alive'"


async def test_output_is_capped_with_head_tail_and_count(local_kernel):
    reply = await local_kernel.run(
        "import sys\nsys.stdout.write('A' * 1000 + 'B' * 100000 + 'C' * 1000)",
        output_bytes=1000,
    )
    out = reply["stdout"]
    assert out["head"] == "A" * 500 and out["tail"] == "C" * 500
    assert out["cut"] == 102000 - 1000


async def test_long_value_repr_is_clipped(local_kernel):
    reply = await local_kernel.run("'x' * 5000", value_chars=100)
    assert len(reply["value"]["head"]) + len(reply["value"]["tail"]) == 100
    assert reply["value"]["cut"] == 5002 - 100


async def test_invalid_utf8_and_lone_surrogates_do_not_break_framing(local_kernel):
    reply = await local_kernel.run(
        "import sys, os\nsys.stdout.buffer.write(b'a\\xff\\xfeb\\n'); sys.stdout.flush()\n"
        "os.write(1, b'\\xc3(\\n')\nprint('\\udcff')\nraise ValueError('\\udcfe')"
    )
    assert "a\ufffd\ufffdb" in reply["stdout"]["head"]
    assert "\\udcff" in reply["stdout"]["head"]
    assert reply["error"]["name"] == "ValueError"
    assert (await local_kernel.run("1"))["value"]["head"] == "1"


async def test_timeout_interrupts_keeps_state_and_kills_children(local_kernel, tmp_path):
    await local_kernel.run("y = 'kept'")
    reply = await local_kernel.run(
        "import subprocess, time\n"
        "child = subprocess.Popen(['sleep', '300'])\n"
        "daemon = subprocess.Popen(['sleep', '301'], start_new_session=True)\n"
        "open('pids', 'w').write(f'{child.pid} {daemon.pid}')\n"
        "time.sleep(60)",
        timeout_s=1.0,
    )
    assert reply["status"] == "interrupted"
    assert reply["error"]["name"] == "KeyboardInterrupt"
    assert reply["killed"] >= 2
    pids = [int(p) for p in (tmp_path / "pids").read_text().split()]
    assert not any(_alive(pid) for pid in pids)
    assert (await local_kernel.run("y"))["value"]["head"] == "'kept'"


async def test_ignored_interrupt_leaves_the_kernel_lost(local_kernel):
    outcome = await local_kernel.channel.execute(
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass",
        timeout_s=0.5,
        grace_s=0.5,
        output_bytes=100,
        value_chars=100,
    )
    assert outcome.reply is None and outcome.stopped == "timeout"
    assert local_kernel.channel.broken
    assert "did not answer" in outcome.problem


async def test_forked_child_leaves_at_end_of_cell_and_stays_silent(local_kernel):
    reply = await local_kernel.run(
        "import os\npid = os.fork()\nif pid == 0:\n    print('child')\nelse:\n"
        "    os.waitpid(pid, 0)\n    print('parent')"
    )
    assert reply["stdout"]["head"] == "child\nparent\n"
    assert (await local_kernel.run("pid > 0"))["value"]["head"] == "True"


async def test_functions_defined_in_cells_pickle_by_reference(local_kernel):
    reply = await local_kernel.run(
        "import pickle\ndef f(): return 1\npickle.loads(pickle.dumps(f))()"
    )
    assert reply["value"]["head"] == "1"


async def test_input_reads_end_of_file(local_kernel):
    reply = await local_kernel.run("input()")
    assert reply["error"]["name"] == "EOFError"


async def test_kernel_exits_when_its_stdin_closes(tmp_path):
    process = await asyncio.create_subprocess_exec(
        SYSTEM_PYTHON,
        "-c",
        BOOTSTRAP,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=tmp_path,
    )
    assert process.stdin is not None and process.stdout is not None
    channel = KernelChannel(process.stdout, ByteSink(process.stdin.write, process.stdin.close))
    await channel.start(kernel_source(), 10.0)
    channel.close()
    assert await asyncio.wait_for(process.wait(), 10.0) == 0

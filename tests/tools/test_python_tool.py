"""The ``python`` tool: its description, rendering, per-session sandboxes, data folders;
then the real thing against Docker (marked ``docker``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gptoss_agent.sandbox import (
    EngineUnavailableError,
    ExceptionInfo,
    ExecutionResult,
    ExecutionStatus,
    SandboxConfig,
    SandboxError,
    SandboxLimits,
)
from gptoss_agent.tools.base import Tool, ToolCall, ToolContext
from gptoss_agent.tools.errors import ToolUnavailableError
from gptoss_agent.tools.python_tool import PythonTool, cap_text, describe, session_folder_name
from tests.sandbox.conftest import WAIT_FOR, require_engine

TRAINED_TEXT = (
    "Use this tool to execute Python code in your chain of thought. The code will not be "
    "shown to the user. This tool should be used for internal reasoning, but not for code "
    "that is intended to be visible to the user (e.g. when creating plots, tables, or "
    "files).\n\nWhen you send a message containing Python code to python, it will be "
    "executed in a stateful Jupyter notebook environment. python will respond with the "
    "output of the execution or time out after 120.0 seconds. The drive at '/mnt/data' can "
    "be used to save and persist user files. Internet access for this session is disabled."
)


def call(code: str) -> ToolCall:
    return ToolCall(call_id="c1", namespace="python", name=None, arguments=code, channel="analysis")


class FakeSandbox:
    """Returns scripted results and records what it was asked."""

    def __init__(self, folder: Path, results: list[ExecutionResult | Exception]) -> None:
        self.folder = folder
        self.results = results
        self.calls: list[tuple[str, float | None]] = []
        self.closed = False

    @property
    def data_dir(self) -> Path:
        return self.folder

    @property
    def timeout_s(self) -> float:
        return 120.0

    @property
    def network(self) -> bool:
        return False

    async def execute(self, code: str, *, timeout_s: float | None = None) -> ExecutionResult:
        self.calls.append((code, timeout_s))
        item = self.results.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    async def close(self) -> None:
        self.closed = True


def fake_tool(tmp_path: Path, results: list[ExecutionResult | Exception], **kw: object):
    made: dict[str, FakeSandbox] = {}

    def factory(session_id: str, folder: Path) -> FakeSandbox:
        made[session_id] = FakeSandbox(folder, results)
        return made[session_id]

    return PythonTool(data_dir=tmp_path, sandbox_factory=factory, **kw), made  # type: ignore[arg-type]


def test_spec_is_the_trained_description_with_the_truth():
    tool = PythonTool()
    assert isinstance(tool, Tool)
    spec = tool.spec
    assert spec.name == "python" and spec.builtin and spec.is_freeform
    assert spec.description == TRAINED_TEXT


def test_description_states_the_configured_timeout_and_network():
    text = describe(30, True)
    assert "time out after 30.0 seconds" in text
    assert text.endswith("Internet access for this session is enabled.")
    tool = PythonTool(SandboxConfig(limits=SandboxLimits(timeout_s=7.5)))
    assert "time out after 7.5 seconds" in tool.spec.description


async def test_result_reads_like_a_notebook(tmp_path):
    result = ExecutionResult(
        ExecutionStatus.ERROR,
        stdout="hello\n",
        stderr="warn",
        error=ExceptionInfo(
            "ZeroDivisionError",
            "division by zero",
            "Traceback...\nZeroDivisionError: division by zero\n",
        ),
    )
    tool, _ = fake_tool(tmp_path, [result, ExecutionResult(ExecutionStatus.OK, value="42")])
    first = await tool.call(call("1/0"), ToolContext(session_id="s"))
    assert first.is_error
    assert first.text == "hello\nwarn\nTraceback...\nZeroDivisionError: division by zero\n"
    second = await tool.call(call("6*7"), ToolContext(session_id="s"))
    assert not second.is_error and second.text == "42"
    assert second.metadata["status"] == "ok"


async def test_timeout_and_reset_are_told_to_the_model(tmp_path):
    reset = ExecutionResult(
        ExecutionStatus.TIMEOUT,
        state_reset=True,
        detail="Execution timed out after 2 seconds ... Its state was reset.",
    )
    tool, _ = fake_tool(tmp_path, [reset])
    result = await tool.call(call("while True: pass"), ToolContext(session_id="s"))
    assert result.is_error
    assert result.text == "[Execution timed out after 2 seconds ... Its state was reset.]"
    assert result.metadata["state_reset"] is True


async def test_long_output_is_capped_with_a_marker(tmp_path):
    big = ExecutionResult(ExecutionStatus.OK, stdout="a" * 600 + "b" * 600)
    tool, _ = fake_tool(tmp_path, [big], max_output_chars=100)
    result = await tool.call(call("..."), ToolContext(session_id="s"))
    assert result.text.startswith("a" * 50) and result.text.endswith("b" * 50)
    assert "[... 1,100 characters of output cut ...]" in result.text
    assert result.metadata["output_cut_chars"] == 1100
    assert cap_text("short", 10) == ("short", 0)


async def test_loop_deadline_tightens_the_timeout(tmp_path):
    ok = ExecutionResult(ExecutionStatus.OK)
    tool, made = fake_tool(tmp_path, [ok, ok])
    await tool.call(call("a"), ToolContext(session_id="s", timeout_s=5.0))
    await tool.call(call("b"), ToolContext(session_id="s", timeout_s=500.0))
    # the caller's deadline binds: the sandbox stops the code a grace period earlier
    assert made["s"].calls == [("a", 2.5), ("b", 120.0)]
    assert tool.call_deadline(1.0) == 0.5 and tool.call_deadline(None) == 120.0


async def test_one_sandbox_per_session_and_aclose_closes_all(tmp_path):
    ok = ExecutionResult(ExecutionStatus.OK)
    tool, made = fake_tool(tmp_path, [ok, ok, ok])
    for session in ("a", "b", "a"):
        await tool.call(call("1"), ToolContext(session_id=session))
    assert sorted(made) == ["a", "b"] and len(made["a"].calls) == 2
    await tool.aclose()
    await tool.aclose()
    assert made["a"].closed and made["b"].closed


async def test_infrastructure_failure_raises_tool_unavailable(tmp_path):
    tool, _ = fake_tool(tmp_path, [EngineUnavailableError("no engine")])
    with pytest.raises(ToolUnavailableError, match="no engine"):
        await tool.call(call("1"), ToolContext(session_id="s"))


async def test_files_are_reported_in_metadata(tmp_path):
    result = ExecutionResult(
        ExecutionStatus.OK, files_created=("plot.png",), files_modified=("a.csv",)
    )
    tool, _ = fake_tool(tmp_path, [result])
    out = await tool.call(call("..."), ToolContext(session_id="s"))
    assert out.metadata["files_created"] == ["plot.png"]
    assert out.metadata["files_modified"] == ["a.csv"]
    assert out.metadata["data_dir"] == str(tmp_path / "s")


def test_input_files_land_in_the_session_drive(tmp_path):
    tool = PythonTool(data_dir=tmp_path / "root")
    tool.put_file("sess/1", "in/a.txt", "text")
    source = tmp_path / "b.bin"
    source.write_bytes(b"\0\1")
    tool.copy_in("sess/1", source)
    folder = tool.data_dir("sess/1")
    assert folder.parent == tmp_path / "root"
    assert (folder / "in" / "a.txt").read_text() == "text"
    assert (folder / "b.bin").read_bytes() == b"\0\1"
    assert tool.data_dir("sess/1") == folder


def test_session_folder_names_are_safe_and_distinct():
    assert session_folder_name("plain-id_1") == "plain-id_1"
    odd = {session_folder_name(s) for s in ("a/b", "a?b", "../..", "")}
    assert len(odd) == 4
    assert all("/" not in name and not name.startswith(".") for name in odd)


def test_default_data_root_is_a_kept_temporary_folder():
    tool = PythonTool()
    root = tool.data_root
    assert root.is_dir() and root.name.startswith("gptoss-agent-data-")
    os.rmdir(root)


# -- the real sandbox ------------------------------------------------------------------


@pytest.fixture
def docker_engine():
    return require_engine()


@pytest.fixture
def docker_tool(docker_engine, tmp_path):
    limits = SandboxLimits(timeout_s=5.0, interrupt_grace_s=1.0, memory_mb=256, data_mb=32)
    return PythonTool(SandboxConfig(limits=limits), data_dir=tmp_path / "drives")


@pytest.mark.docker
async def test_real_sessions_are_stateful_and_isolated(docker_tool, docker_engine):
    tool = docker_tool
    tool.put_file("alice", "input.txt", "from the user")
    try:
        first = await tool.call(
            call("secret = open('/mnt/data/input.txt').read()\nsecret.upper()"),
            ToolContext(session_id="alice"),
        )
        assert first.text == "'FROM THE USER'", first
        again = await tool.call(
            call("import os\nopen('/mnt/data/out.txt','w').write(secret)\nsecret"),
            ToolContext(session_id="alice"),
        )
        assert again.text == "'from the user'"
        assert again.metadata["files_created"] == ["out.txt"]
        assert (tool.data_dir("alice") / "out.txt").read_text() == "from the user"
        other = await tool.call(call("secret"), ToolContext(session_id="bob"))
        assert other.is_error and "NameError" in other.text
        assert not (tool.data_dir("bob") / "input.txt").exists()
        containers = [tool.sandbox(s).container_id for s in ("alice", "bob")]  # type: ignore[attr-defined]
    finally:
        await tool.aclose()
    assert all(docker_engine.inspect(c) is None for c in containers)
    assert (tool.data_dir("alice") / "out.txt").exists()


@pytest.mark.docker
async def test_real_timeout_text_says_what_happened(docker_tool):
    tool = docker_tool
    try:
        result = await tool.call(
            call("x = 1\nwhile True: pass"), ToolContext(session_id="t", timeout_s=1.0)
        )
        assert result.is_error
        assert "KeyboardInterrupt" in result.text
        assert "timed out after 0.5 seconds" in result.text and "were kept" in result.text
        assert (await tool.call(call("x"), ToolContext(session_id="t"))).text == "1"
    finally:
        await tool.aclose()


async def test_unreachable_engine_is_reported_quickly(tmp_path):
    config = SandboxConfig(
        docker_host=f"unix://{tmp_path}/none.sock", limits=SandboxLimits(api_timeout_s=2)
    )
    tool = PythonTool(config, data_dir=tmp_path / "d")
    with pytest.raises(ToolUnavailableError, match="Docker engine"):
        await tool.call(call("1"), ToolContext(session_id="s"))
    await tool.aclose()
    assert issubclass(EngineUnavailableError, SandboxError)


@pytest.mark.docker
async def test_caller_deadline_gets_the_sandboxs_own_account_and_the_next_call_works(
    docker_tool,
):
    import asyncio

    tool = docker_tool
    try:
        assert (await tool.call(call("y = 5"), ToolContext(session_id="d"))).text == ""
        async with asyncio.timeout(2.0):  # what dispatch does around every call
            result = await tool.call(
                call("import time\ntime.sleep(30)"), ToolContext(session_id="d", timeout_s=2.0)
            )
        assert result.is_error and "KeyboardInterrupt" in result.text
        assert result.metadata["limit"] == "timeout_s"
        assert (await tool.call(call("y"), ToolContext(session_id="d"))).text == "5"
    finally:
        await tool.aclose()


@pytest.mark.docker
async def test_an_app_cancelling_the_call_leaves_the_session_usable(docker_tool):
    import asyncio

    tool = docker_tool
    try:
        await tool.call(call("z = 'kept'"), ToolContext(session_id="c"))
        task = asyncio.ensure_future(tool.call(
            call("import time\nopen('/mnt/data/go', 'w').close()\ntime.sleep(30)"),
            ToolContext(session_id="c"),
        ))
        from tests.sandbox.conftest import wait_for_file

        await wait_for_file(tool.data_dir("c") / "go")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert (await tool.call(call("z"), ToolContext(session_id="c"))).text == "'kept'"
    finally:
        await tool.aclose()


@pytest.mark.docker
async def test_processes_left_behind_are_in_the_text_and_metadata(docker_engine, tmp_path):
    limits = SandboxLimits(timeout_s=5.0, interrupt_grace_s=1.0, memory_mb=256, data_mb=32)
    stopping = PythonTool(SandboxConfig(limits=limits), data_dir=tmp_path / "a")
    keeping = PythonTool(
        SandboxConfig(limits=limits, keep_background=True), data_dir=tmp_path / "b"
    )
    code = "import subprocess\nsubprocess.Popen(['sleep', '4711'], start_new_session=True)"
    code += WAIT_FOR.format(m="4711", n=1)
    try:
        stopped = await stopping.call(call(code), ToolContext(session_id="s"))
        assert stopped.metadata["stopped_processes"] == ["sleep 4711"], stopped.metadata
        assert "1 process(es) left running by the code were stopped" in stopped.text
        kept = await keeping.call(call(code), ToolContext(session_id="s"))
        assert kept.metadata["background_count"] == 1 and kept.metadata["stopped_count"] == 0
        assert kept.metadata["background_processes"][0].endswith(" sleep 4711")
        assert "keep running between calls" in kept.text
    finally:
        await stopping.aclose()
        await keeping.aclose()

"""The coding tools against the real sandbox: patches apply inside the container."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptoss_agent.sandbox import SandboxConfig, SandboxLimits
from gptoss_agent.tools.base import ToolCall, ToolContext
from gptoss_agent.tools.coding import CodingToolkit
from gptoss_agent.tools.python_tool import PythonTool
from tests.sandbox.conftest import require_engine

pytestmark = pytest.mark.docker


@pytest.fixture
def python_tool(tmp_path: Path):
    require_engine()
    limits = SandboxLimits(timeout_s=20.0, interrupt_grace_s=1.0, memory_mb=256, data_mb=32)
    return PythonTool(SandboxConfig(limits=limits), data_dir=tmp_path / "drives")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "app.py").write_text("def add(a, b):\n    return a - b\n")
    return folder


async def test_patch_applies_in_the_container_and_leaves_the_notebook_alone(
    python_tool: PythonTool, project: Path
) -> None:
    toolkit = CodingToolkit(python_tool, project)
    context = ToolContext(session_id="coder")
    try:
        await python_tool.call(ToolCall("c0", "python", None, "mine = 41"), context)
        fixed = await toolkit.apply_patch(
            "*** Begin Patch\n*** Update File: app.py\n@@ def add(a, b):\n"
            "-    return a - b\n+    return a + b\n*** Add File: notes.txt\n+done\n"
            "*** End Patch",
            context,
        )
        assert not fixed.is_error, fixed.text
        assert fixed.text == "Done!\nM app.py\nA notes.txt"
        workspace = toolkit.workspace("coder")
        assert (workspace / "app.py").read_text() == "def add(a, b):\n    return a + b\n"
        assert (project / "app.py").read_text().endswith("a - b\n"), "the original is untouched"
        state = await python_tool.call(
            ToolCall("c1", "python", None,
                     "import sys\n(mine, sorted(k for k in globals() if k.startswith('__gx')),"
                     " [m for m in sys.modules if m.startswith('gptoss_agent')])"),
            context,
        )
        assert state.text == "(41, [], [])", state.text
        stale = await toolkit.apply_patch(
            "*** Begin Patch\n*** Update File: app.py\n@@\n-    return a * b\n+    pass\n"
            "*** End Patch",
            context,
        )
        assert stale.is_error and not stale.invalid_call
        assert "the patch was not applied" in stale.text and "hunk 1 does not apply" in stale.text
        assert stale.metadata["kind"] == "patch_failed"
        assert "+    return a + b" in toolkit.diff("coder")
    finally:
        await python_tool.aclose()


async def test_patches_cannot_escape_the_workspace_through_a_planted_link(
    python_tool: PythonTool, tmp_path: Path
) -> None:
    toolkit = CodingToolkit(python_tool)
    context = ToolContext(session_id="escape")
    try:
        planted = await toolkit.shell("ln -s /etc planted && ls -l planted", 10.0, context)
        assert not planted.metadata["failed"], planted.text
        result = await toolkit.apply_patch(
            "*** Begin Patch\n*** Add File: planted/evil.txt\n+x\n*** End Patch", context
        )
        assert result.is_error and not result.invalid_call
        assert "resolves outside the workspace" in result.text
    finally:
        await python_tool.aclose()


async def test_shell_reports_exit_codes_and_deadlines(python_tool: PythonTool) -> None:
    toolkit = CodingToolkit(python_tool, shell_timeout_s=2.0)
    context = ToolContext(session_id="shell")
    try:
        ok = await toolkit.shell("echo hello; pwd", 10.0, context)
        assert ok.text == "hello\n/mnt/data/workspace\n[exit code 0]"
        assert not ok.is_error and not ok.metadata["failed"]
        failed = await toolkit.shell("echo oops >&2; exit 3", 10.0, context)
        assert not failed.is_error and failed.metadata["failed"]
        assert "oops" in failed.text and "[exit code 3]" in failed.text
        slow = await toolkit.shell("sleep 30", 60.0, context)
        assert "[killed after 2 seconds]" in slow.text and slow.metadata["failed"]
    finally:
        await python_tool.aclose()

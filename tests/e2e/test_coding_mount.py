"""Opt-in read-write mounting of a project into the coding workspace (real sandbox)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gptoss_agent.sandbox.config import SANDBOX_UID, SandboxConfig
from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.coding.toolkit import CodingToolkit, project_mount
from gptoss_agent.tools.python_tool import PythonTool
from tests.e2e.test_coding_examples import docker_ready
from tests.support import require_or_skip


@pytest.fixture(scope="module", autouse=True)
def _needs_docker() -> None:
    require_or_skip(docker_ready(), "the Docker engine or the sandbox image is not available")


async def test_mounted_project_is_edited_in_place(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_text("VALUE = 1\n")
    if os.geteuid() == 0:
        for path in (project, project / "app.py"):
            os.chown(path, SANDBOX_UID, SANDBOX_UID)
    python = PythonTool(SandboxConfig(extra_mounts=(project_mount(project),)),
                        data_dir=tmp_path / "data")
    toolkit = CodingToolkit(python, project, mounted=True)
    context = ToolContext("mounted")
    try:
        patch = ("*** Begin Patch\n*** Update File: app.py\n@@\n-VALUE = 1\n+VALUE = 2\n"
                 "*** End Patch")
        applied = await toolkit.apply_patch(patch, context)
        assert not applied.is_error, applied.text
        listing = await toolkit.shell("ls && cat app.py", 30, context)
        assert "VALUE = 2" in listing.text
    finally:
        await python.aclose()
    assert (project / "app.py").read_text() == "VALUE = 2\n", "the host project changed"
    assert toolkit.workspace("mounted") == project.resolve()
    assert toolkit.diff("mounted") == "" and toolkit.apply_back("mounted") == []


def test_copy_is_the_default(tmp_path: Path) -> None:
    python = PythonTool(data_dir=tmp_path / "data")
    toolkit = CodingToolkit(python, tmp_path)
    assert not toolkit.mounted
    assert toolkit.workspace("s") != tmp_path.resolve()

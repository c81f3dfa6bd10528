"""The coding family's offline tool outputs are byte-identical to the Docker sandbox's.

The teacher runs the same projects twice: once with the python tool on host cells (what
data generation uses) and once with the real Docker sandbox. Every tool message the
model reads, and the workspace left behind, must be the same. The shipped model is also
run on the example task file (``examples/tiny_model/coding/task.yaml``): until a model
trained on the coding family ships, its check must fail cleanly.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from examples.tiny_model.agents import tiny_agent
from examples.tiny_model.case import Case
from examples.tiny_model.coding_family import coding_policy, sample_coding
from examples.tiny_model.coding_tools import coding_tools
from examples.tiny_model.teacher import TeacherBackend
from gptoss_agent.agent.result import RunResult
from gptoss_agent.tools.python_tool import PythonTool
from tests.support import require_or_skip

pytestmark = pytest.mark.docker

TASK_FILE = Path(__file__).resolve().parents[2] / "examples" / "tiny_model" / "coding" / \
    "task.yaml"


async def _run(case: Case, python: PythonTool | None) -> tuple[RunResult, dict[str, str]]:
    tools, toolkit = coding_tools(case.data["project"], python=python)
    agent = tiny_agent(TeacherBackend(coding_policy(case)), tools, family=case.family)
    async with agent.session() as session:
        result = await session.send(case.prompt)
        workspace = toolkit.workspace(session.session_id)
        files = {path.name: path.read_text() for path in sorted(workspace.glob("*.py"))}
    if python is None:
        await agent.aclose()
    return result, files


@pytest.mark.slow
async def test_offline_tool_outputs_equal_the_docker_sandboxs() -> None:
    from tests.sandbox.conftest import require_engine

    require_engine()
    rng = random.Random("offline-vs-docker")
    cases = [sample_coding(rng, kind) for kind in ("operator", "off_by_one", "comparison")]
    cases[1] = replace(cases[1], data={**cases[1].data, "recovery": True})
    python = PythonTool()
    try:
        for case in cases:
            offline, offline_files = await _run(case, None)
            docker, docker_files = await _run(case, python)
            assert offline.final_text == docker.final_text == case.answer
            assert [m.to_dict() for m in offline.new_messages] == \
                [m.to_dict() for m in docker.new_messages]
            assert offline_files == docker_files
    finally:
        await python.aclose()


@pytest.mark.slow
async def test_the_example_task_fails_cleanly_with_the_shipped_model(tmp_path: Path) -> None:
    from tests.sandbox.conftest import require_engine

    require_or_skip(all(importlib.util.find_spec(n) for n in ("torch", "transformers")),
                    "torch and transformers are not installed")
    require_engine()
    task = TASK_FILE
    completed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gptoss_agent.agent.cli.entry", "run", str(task), "--json",
         "--set", f"output.transcript={tmp_path / 'run.jsonl'}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert "Traceback" not in completed.stderr, completed.stderr[-3000:]
    events = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    finished = events[-1]
    assert finished["type"] == "task_finished", events[-3:]
    # The shipped model knows only its three families: the check must say so, not crash.
    assert finished["check"]["passed"] is False
    assert completed.returncode != 0

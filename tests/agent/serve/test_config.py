"""The served agent as the server's task file describes it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.serve.config import ServedAgent, ServeLimits
from gptoss_agent.agent.task.load import load_task
from gptoss_agent.agent.task.settings import task_settings
from gptoss_agent.tools.python_tool import PythonTool


async def test_the_task_file_gives_the_tools_instructions_and_budgets(
        tmp_path: Path, codec: HarmonyCodec) -> None:
    task = tmp_path / "server.yaml"
    task.write_text("name: s\nmodel:\n  backend: scripted\n  reasoning_effort: high\n"
                    "  completions: []\ninstructions: Be exact.\ntools:\n  python: true\n"
                    "budgets:\n  max_generations: 3\n")
    settings = task_settings(load_task(task, require_prompt=False))
    served = ServedAgent.from_task(settings, ScriptedBackend([], codec=codec), "s", codec)
    try:
        assert set(served.builtin_tools) == {"python"}
        assert isinstance(served.builtin_tools["python"], PythonTool)
        assert served.instructions == "Be exact." and served.reasoning_effort == "high"
        assert served.limits.max_generations == 3
    finally:
        await served.aclose()


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_runs must be >= 1, got 0"):
        ServeLimits(max_runs=0)

"""The server's python tool, run in the real Docker sandbox for a Responses client."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptoss_agent.sandbox import SandboxConfig, SandboxLimits
from gptoss_agent.tools.python_tool import PythonTool
from tests.agent.serve.conftest import ServeFactory
from tests.agent.serve.test_responses import client
from tests.support import needs_docker  # noqa: F401  (a fixture)

RUN_CODE = "<|channel|>analysis to=python code<|message|>print(6 * 7)<|call|>"
ANSWER = "<|channel|>final<|message|>The answer is 42.<|return|>"


@pytest.mark.docker
@pytest.mark.usefixtures("needs_docker")
def test_code_interpreter_runs_in_the_sandbox(serve: ServeFactory, tmp_path: Path) -> None:
    limits = SandboxLimits(timeout_s=30.0, interrupt_grace_s=1.0, memory_mb=256, data_mb=32)
    python = PythonTool(SandboxConfig(limits=limits), data_dir=tmp_path / "drives")
    with serve([RUN_CODE, ANSWER], builtin_tools={"python": python}) as running:
        response = client(running.url, timeout=120).responses.create(
            model="scripted", input="What is 6 * 7? Use python.",
            tools=[{"type": "code_interpreter", "container": {"type": "auto"}}])
        assert response.status == "completed"
        calls = [item for item in response.output if item.type == "code_interpreter_call"]
        assert len(calls) == 1 and calls[0].code == "print(6 * 7)"
        assert calls[0].status == "completed"
        assert calls[0].outputs is not None and "42" in calls[0].outputs[0].logs  # type: ignore[union-attr]
        assert response.output_text == "The answer is 42."
        # the model read what the sandbox printed
        assert "<|start|>python to=assistant<|channel|>analysis<|message|>42" in \
            running.backend.decoded_prompts()[1]


def test_web_search_runs_the_servers_browser(serve: ServeFactory, tmp_path: Path) -> None:
    from gptoss_agent.tools.browser import BrowserTool
    from gptoss_agent.tools.browser.search import LocalCorpusBackend

    (tmp_path / "keepers.md").write_text("# Lighthouse keepers\n\nThe wick was trimmed.\n")
    search = ('<|channel|>analysis to=browser.search <|constrain|>json'
              '<|message|>{"query": "lighthouse keepers"}<|call|>')
    answer = "<|channel|>final<|message|>Keepers trimmed the wick.<|return|>"
    browser = BrowserTool(LocalCorpusBackend(tmp_path))
    with serve([search, answer], builtin_tools={"browser": browser}) as running:
        response = client(running.url).responses.create(
            model="scripted", input="What did lighthouse keepers do?",
            tools=[{"type": "web_search"}])
        searches = [item for item in response.output if item.type == "web_search_call"]
        assert len(searches) == 1 and searches[0].status == "completed"
        assert searches[0].action.type == "search"
        assert searches[0].action.query == "lighthouse keepers"  # type: ignore[union-attr]
        assert response.output_text == "Keepers trimmed the wick."
        assert "Lighthouse keepers" in running.backend.decoded_prompts()[1]

"""The shipped tiny Harmony-speaking model drives the real loop on inputs it never saw.

A real ``GptOssForCausalLM`` (the shipped tiny model, expanded to a standard checkpoint)
runs on the transformers backend with KV-cache reuse; the loop parses what it samples and
dispatches to real tools: the python tool in the real Docker sandbox, a function tool, and
Chromium on a page served locally. Final answers are checked against ground truth.

Locally these tests skip when torch, the shipped model, Docker or Chromium is missing;
under CI (``CI`` set) a missing piece fails them.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from examples.tiny_model.evaluate import heldout_cases, run_case
from examples.tiny_model.families import Case
from examples.tiny_model.shipped import SHIPPED
from examples.tiny_model.toolsets import stock_tool
from tests.support import require_or_skip

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

pytestmark = pytest.mark.asyncio(loop_scope="module")

CASES = 8
"""Held-out cases per family; the model must answer at least :data:`MIN_CORRECT` exactly."""
MIN_CORRECT = 7


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def backend() -> AsyncIterator[Any]:
    require_or_skip(all(importlib.util.find_spec(n) for n in ("torch", "transformers")),
                    "torch and transformers are not installed")
    require_or_skip((SHIPPED / "config.json").exists(),
                    f"the tiny model is not shipped at {SHIPPED}")
    from examples.tiny_model.evaluate import load_backend
    from examples.tiny_model.shipped import tiny_model_path

    model = load_backend(tiny_model_path())
    yield model
    await model.aclose()


def _score(outcomes: list[Any]) -> tuple[int, list[str]]:
    misses = [f"{o.case.prompt!r} -> {o.answer!r} ({o.stop_reason}); want {o.case.answer!r}"
              for o in outcomes if not o.success]
    return len(outcomes) - len(misses), misses


@pytest.mark.slow
@pytest.mark.docker
async def test_python_arithmetic_in_the_docker_sandbox(backend: Any) -> None:
    from gptoss_agent.tools.python_tool import PythonTool
    from tests.sandbox.conftest import require_engine

    require_engine()
    tool = PythonTool()
    try:
        outcomes = [await run_case(backend, case, lambda _c: [tool], close_tools=False)
                    for case in heldout_cases("python", CASES)]
    finally:
        await tool.aclose()
    correct, misses = _score(outcomes)
    assert correct >= MIN_CORRECT, misses


@pytest.mark.slow
async def test_function_tool_lookups(backend: Any) -> None:
    reused_before = backend.counters.reused_tokens
    outcomes = [await run_case(backend, case, lambda _c: [stock_tool()])
                for case in heldout_cases("function", CASES)]
    correct, misses = _score(outcomes)
    assert correct >= MIN_CORRECT, misses
    # Each run's second turn continues the first turn's KV cache.
    assert backend.counters.reused_tokens - reused_before > CASES * 100


class _Pages(BaseHTTPRequestHandler):
    pages: ClassVar[dict[str, str]] = {}

    def do_GET(self) -> None:
        body = self.pages.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write((body or "not found").encode())

    def log_message(self, *args: Any) -> None:
        """Quiet."""


def _serve(port: int, pages: dict[str, str]) -> ThreadingHTTPServer | None:
    """A page server on ``port`` of 127.0.0.1, or ``None`` when the port is taken."""
    handler = type("Pages", (_Pages,), {"pages": pages})
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError:
        return None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def served_cases() -> Iterator[list[Case]]:
    """:data:`CASES` held-out browser cases, each page served on its own URL's port.

    Each case's URL carries a port drawn with the case (as in training and in
    ``bench/tiny_model.py``), so the test reads exactly the held-out cases the bench
    scores, whatever ports the machine hands out. A case whose port is taken here is
    replaced by the next held-out case.
    """
    servers: list[ThreadingHTTPServer] = []
    cases: list[Case] = []
    for case in heldout_cases("browser", CASES * 3):
        parts = urlsplit(case.data["url"])
        server = _serve(parts.port or 80, {parts.path: case.data["html"]})
        if server is not None:
            servers.append(server)
            cases.append(case)
        if len(cases) == CASES:
            break
    yield cases
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
@pytest.mark.browser
async def test_browser_reads_a_local_page(backend: Any, served_cases: list[Case]) -> None:
    from gptoss_agent.tools.browser import BrowserConfig, BrowserTool
    from gptoss_agent.tools.browser.config import find_chromium

    chromium = find_chromium()
    require_or_skip(chromium is not None and importlib.util.find_spec("playwright") is not None,
                    "Chromium or Playwright is missing")
    assert len(served_cases) == CASES, "too many held-out ports are taken on this machine"
    tool = BrowserTool(None, BrowserConfig(executable_path=chromium, allowlist=("127.0.0.1",),
                                           load_timeout_s=30.0, resolve="map"))
    try:
        outcomes = [await run_case(backend, case, lambda _c: [tool], close_tools=False)
                    for case in served_cases]
    finally:
        await tool.aclose()
    correct, misses = _score(outcomes)
    assert correct >= MIN_CORRECT, misses


@pytest.mark.slow
@pytest.mark.docker
async def test_cli_runs_the_tiny_model_task(tmp_path: Path) -> None:
    """``gptoss-agent run examples/tiny_model/task.yaml``: the compact model loaded by path,
    the python tool in the Docker sandbox, and the task's check on the answer."""
    from tests.sandbox.conftest import require_engine

    require_or_skip(all(importlib.util.find_spec(n) for n in ("torch", "transformers")),
                    "torch and transformers are not installed")
    require_engine()
    completed = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gptoss_agent.agent.cli.entry", "run",
         str(SHIPPED.parent / "task.yaml"), "--json",
         "--set", f"output.transcript={tmp_path / 'run.jsonl'}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    events = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = [event for event in events if event["type"] == "tool_result"]
    assert [result["text"].strip() for result in results] == [str(4821 * 37)]
    finished = events[-1]
    assert finished["type"] == "task_finished"
    assert finished["check"]["passed"] is True



@pytest.mark.slow
async def test_the_shipped_model_under_constraints_still_solves_its_tasks(backend: Any) -> None:
    """Strict calls and tool_choice required, enforced while decoding the trained model:
    its calls stay what it learned, and its answers stay right."""
    from examples.tiny_model.agents import tiny_agent
    from gptoss_agent import Agent

    assert backend.constrains
    correct = 0
    cases = heldout_cases("function", 4)
    for case in cases:
        plain = tiny_agent(backend, [stock_tool()])
        agent = Agent(model=backend, tools=[stock_tool()], instructions=plain.instructions,
                      reasoning_effort="low", conversation_start_date="",
                      sampling=plain.sampling, limits=plain.limits, tool_choice="required",
                      strict=True)
        result = await agent.run(case.prompt)
        assert result.tool_calls >= 1 and result.tool_errors == 0, result.new_messages
        correct += result.final_text == case.answer
    assert correct >= len(cases) - 1

"""``gptoss-agent serve --task`` as a real process: a scripted task file, a bearer key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

REPO = Path(__file__).resolve().parents[3]
TASK = """\
name: served
model:
  backend: scripted
  completions:
    - "<|channel|>final<|message|>Served by a task file.<|return|>"
instructions: Be brief.
"""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("served")
    (folder / "server.yaml").write_text(TASK)
    log = folder / "stderr.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "gptoss_agent.agent.cli.serve", "--task",
             str(folder / "server.yaml"), "--port", "0", "--api-key-env", "SERVE_TEST_KEY"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True,
            env={**os.environ, "SERVE_TEST_KEY": "s3cret"})
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        pytest.fail(f"serve did not start: {line!r}\n{log.read_text()[-3000:]}")
    try:
        yield line.split()[-1]
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]


def test_the_key_is_required_and_the_task_file_serves(served: str) -> None:
    with pytest.raises(openai.AuthenticationError) as caught:
        openai.OpenAI(base_url=served, api_key="wrong", max_retries=0).responses.create(
            model="served", input="Hi")
    assert caught.value.body["code"] == "invalid_api_key"  # type: ignore[index]
    assert httpx.get(served.removesuffix("/v1") + "/health").status_code == 200
    api = openai.OpenAI(base_url=served, api_key="s3cret", max_retries=0)
    assert [m.id for m in api.models.list()] == ["served"]
    assert api.responses.create(model="served", input="Hi").output_text == \
        "Served by a task file."


@pytest.mark.parametrize(("arguments", "message"), [
    (["--host", "0.0.0.0"], "needs an API key: --api-key-env NAME"),
    (["--api-key-env", "SERVE_TEST_UNSET_KEY"], "'SERVE_TEST_UNSET_KEY', which is not set"),
    ([], "give a checkpoint folder or --task FILE"),
])
def test_settings_that_cannot_serve_exit_2(arguments: list[str], message: str) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "gptoss_agent.agent.cli.serve", *arguments],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert completed.returncode == 2, completed.stderr
    assert message in completed.stderr and "Traceback" not in completed.stderr


def test_a_bad_task_file_exits_2_with_its_line(tmp_path: Path) -> None:
    task = tmp_path / "server.yaml"
    task.write_text("name: x\nmodel:\n  backend: nowhere\n")
    completed = subprocess.run(
        [sys.executable, "-m", "gptoss_agent.agent.cli.serve", "--task", str(task)],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert completed.returncode == 2
    assert "server.yaml:3" in completed.stderr and "Traceback" not in completed.stderr


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_with_a_run_waiting_for_the_client(
        tmp_path: Path, stop: signal.Signals) -> None:
    call = ('<|channel|>commentary to=functions.get_weather <|constrain|>json'
            '<|message|>{"city": "Paris"}<|call|>')
    (tmp_path / "server.yaml").write_text(
        "name: waiting\nmodel:\n  backend: scripted\n  completions:\n"
        f"    - {json.dumps(call)}\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "gptoss_agent.agent.cli.serve", "--task",
         str(tmp_path / "server.yaml"), "--port", "0"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None
    url = process.stdout.readline().split()[-1]
    try:
        api = openai.OpenAI(base_url=url, api_key="unused", max_retries=0)
        waiting = api.responses.create(model="waiting", input="Weather?", tools=[{
            "type": "function", "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}])
        assert [item.type for item in waiting.output] == ["function_call"]
    finally:
        process.send_signal(stop)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr

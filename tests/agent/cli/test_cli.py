"""The CLI driven as a user would: in a subprocess, with good and bad task files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import run_cli

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "scripted_weather" / "task.yaml"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd)


def test_example_runs_end_to_end_with_a_function_tool() -> None:
    completed = cli("run", str(EXAMPLE), "--quiet")
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "It is **65.3 °F** in Paris right now."


def test_json_output_is_one_event_per_line() -> None:
    completed = cli("run", str(EXAMPLE), "--json")
    assert completed.returncode == 0, completed.stderr
    events = [json.loads(line) for line in completed.stdout.splitlines()]
    types = [event["type"] for event in events]
    assert types[-2:] == ["run_finished", "task_finished"] and "final" in types
    assert events[-1]["exit_code"] == 0
    call = next(event for event in events if event["type"] == "tool_call")
    result = next(event for event in events if event["type"] == "tool_result")
    assert call["recipient"] == "functions.get_weather"
    # The real function ran: 18.5 °C is 65.3 °F.
    assert json.loads(result["text"])["temperature"] == 65.3
    assert events[-2]["result"]["stop_reason"] == "final"


def write_task(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "task.yaml"
    path.write_text(text)
    return path


GOOD_MODEL = """model:
  backend: scripted
  completions: ["<|channel|>final<|message|>hi<|return|>"]
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (GOOD_MODEL + "prompt: hi\nbudgets:\n  max_generations: 0\n",
         "task.yaml:6: budgets.max_generations: expected a number >= 1, got 0"),
        (GOOD_MODEL + "prompt: hi\ntools:\n  functionz: []\n",
         "task.yaml:6: tools.functionz: unknown key; expected one of: "
         "browser, coding, functions, mcp, python"),
        (GOOD_MODEL + "prompt: 5\n", "task.yaml:4: prompt: expected a string, got 5"),
        (GOOD_MODEL, "(top level): 'prompt' is required"),
        ("model:\n  backend: llama\nprompt: hi\n",
         "task.yaml:2: model.backend: expected one of scripted, transformers, server"),
        ("model: [unclosed\n", "task.yaml:2: not valid YAML"),
        ("model:\n  backend: transformers\nprompt: hi\n",
         "model: the transformers backend needs model.path"),
        (GOOD_MODEL + "prompt: hi\ntools:\n  functions:\n    - import: nosuchmodule:fn\n",
         "cannot import 'nosuchmodule'"),
    ],
)
def test_bad_task_files_name_file_line_key_and_expectation(tmp_path, body, expected) -> None:
    completed = cli("run", str(write_task(tmp_path, body)))
    assert completed.returncode == 2, completed.stdout + completed.stderr
    assert expected in completed.stderr


def test_set_overrides_any_key(tmp_path: Path) -> None:
    task = write_task(tmp_path, GOOD_MODEL + "prompt: hi\n")
    completed = cli("run", str(task), "--quiet", "--set",
                    'model.completions=["<|channel|>final<|message|>overridden<|return|>"]')
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "overridden"


def test_budget_exhaustion_has_its_own_exit_code(tmp_path: Path) -> None:
    call = ('<|channel|>commentary to=functions.nope <|constrain|>json<|message|>{}<|call|>')
    task = write_task(tmp_path, f"model:\n  backend: scripted\n  completions: ['{call}']\n"
                                "prompt: hi\nbudgets:\n  max_generations: 1\n")
    completed = cli("run", str(task), "--quiet")
    assert completed.returncode == 1
    assert "stopped: max_generations" in completed.stderr


def test_a_prompt_that_cannot_fit_the_window_stops_with_context_full(tmp_path: Path) -> None:
    answer = "<|channel|>final<|message|>hi<|return|>"
    task = write_task(tmp_path, f"model:\n  backend: scripted\n  context_window: 64\n"
                                f"  completions: ['{answer}']\nprompt: hi\n")
    completed = cli("run", str(task), "--quiet", cwd=tmp_path)
    assert completed.returncode == 1, completed.stderr
    assert "stopped: context_full" in completed.stderr
    assert "64-token context window" in completed.stderr
    (transcript,) = (tmp_path / "runs").glob("*.jsonl")
    records = [json.loads(line) for line in transcript.read_text().splitlines()]
    (finished,) = [r for r in records if r["type"] == "run_finished"]
    assert finished["result"]["stop_reason"] == "context_full"
    assert finished["result"]["usage"]["generations"] == 0  # no prompt was sent
    assert records[-1]["type"] == "task_finished"


def test_schema_command_prints_the_published_schema() -> None:
    completed = cli("schema")
    assert completed.returncode == 0
    schema = json.loads(completed.stdout)
    assert schema["required"] == ["model", "prompt"]
    assert schema["additionalProperties"] is False


def test_published_schema_file_is_current() -> None:
    from gptoss_agent.agent.task.schema import TASK_SCHEMA

    published = json.loads((ROOT / "docs" / "task.schema.json").read_text())
    assert published == TASK_SCHEMA, "run: gptoss-agent schema > docs/task.schema.json"


def test_unquoted_dates_are_accepted(tmp_path: Path) -> None:
    task = write_task(tmp_path, GOOD_MODEL + "prompt: hi\nconversation_start_date: 2026-01-02\n")
    completed = cli("run", str(task), "--json")
    assert completed.returncode == 0, completed.stderr


@pytest.mark.parametrize(("value", "expected"), [
    ("conversation_start_date: none\n", None),
    ("conversation_start_date: 2026-01-02\n", "2026-01-02"),
])
def test_start_date_can_be_left_out(tmp_path: Path, value: str, expected: str | None) -> None:
    from gptoss_agent.agent.harmony.prompt import system_message_text
    from gptoss_agent.agent.task.build import build_agent
    from gptoss_agent.agent.task.load import load_task
    from gptoss_agent.agent.task.settings import task_settings

    task = load_task(write_task(tmp_path, GOOD_MODEL + "prompt: hi\n" + value))
    agent = build_agent(task_settings(task)).agent
    assert agent.system.conversation_start_date == expected
    text = system_message_text(agent.system, [], has_function_tools=False)
    assert ("Current date" in text) == (expected is not None)


def test_a_missing_checkpoint_is_an_infrastructure_error_not_a_crash(tmp_path: Path) -> None:
    task = write_task(tmp_path, "model:\n  backend: transformers\n  path: nowhere\n"
                                "prompt: hi\n")
    completed = cli("run", str(task), "--quiet")
    assert completed.returncode == 4
    assert f"cannot start: no checkpoint folder at {tmp_path / 'nowhere'}" in completed.stderr
    assert "Traceback" not in completed.stderr
    other = tmp_path / "other.yaml"
    other.write_text(task.read_text())
    summary = tmp_path / "summary.json"
    batch = cli("run", str(task), str(other), "--summary", str(summary), cwd=tmp_path)
    assert batch.returncode == 4 and "Traceback" not in batch.stderr
    rows = json.loads(summary.read_text())["tasks"]
    assert [row["outcome"] for row in rows] == ["infrastructure", "infrastructure"]
    assert all("no checkpoint folder" in row["error"] for row in rows)


def test_an_output_that_cannot_be_written_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("a file, not a folder")
    task = write_task(tmp_path, GOOD_MODEL + "prompt: hi\noutput:\n  final: afile/answer.txt\n")
    completed = cli("run", str(task), "--quiet")
    assert completed.returncode == 2, completed.stderr
    assert "output.final: cannot write" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_structured_answer_is_printed_and_written_as_json(tmp_path: Path) -> None:
    answer = '{\\"city\\": \\"Paris\\", \\"temperature\\": 18.5}'
    task = write_task(tmp_path, (
        'model:\n  backend: scripted\n  completions: ["<|channel|>final<|constrain|>json'
        f'<|message|>{answer}<|return|>"]\n'
        "prompt: weather?\noutput:\n  final: answer.json\n"
        "output_schema:\n  type: object\n  required: [city, temperature]\n"))
    completed = cli("run", str(task), "--json")
    assert completed.returncode == 0, completed.stderr
    finished = json.loads(completed.stdout.splitlines()[-1])
    assert finished["output"] == {"city": "Paris", "temperature": 18.5}
    assert json.loads((tmp_path / "answer.json").read_text()) == finished["output"]

"""The three example coding agents, end to end: scripted gpt-oss behaviour, the real
Docker sandbox, and each example's success check run by the framework."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import docker_ready, require_or_skip

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "coding"


@pytest.fixture(scope="module", autouse=True)
def _needs_docker() -> None:
    require_or_skip(docker_ready(), "the Docker engine or the sandbox image is not available")


def run_example(name: str, tmp_path: Path) -> tuple[int, list[dict[str, object]], str]:
    folder = tmp_path / name
    shutil.copytree(EXAMPLES / name, folder)
    completed = subprocess.run(
        [sys.executable, "-m", "gptoss_agent.agent.cli.entry", "run", str(folder / "task.yaml"),
         "--json", "--set", f"output.transcript={tmp_path / 'run.jsonl'}",
         "--set", f"tools.python.data_dir={tmp_path / 'data'}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    events = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    return completed.returncode, events, completed.stderr


def test_fix_failing_test(tmp_path: Path) -> None:
    code, events, stderr = run_example("fix_failing_test", tmp_path)
    assert code == 0, stderr
    finished = events[-1]
    assert finished["type"] == "task_finished"
    assert finished["check"] == {"passed": True, "detail": "all 4 tests pass"}
    results = [e for e in events if e["type"] == "tool_result"]
    # The first test run fails, the misplaced patch is refused with the hunk named,
    # the corrected patch applies, and the last run is green.
    assert "2 failed" in results[0]["text"]
    assert results[2]["is_error"] and "stats.py: hunk 1 does not apply" in results[2]["text"]
    assert results[3]["text"].startswith("Done!") and "M stats.py" in results[3]["text"]
    assert "4 passed" in results[4]["text"]
    # The original project was copied, never modified.
    original = (tmp_path / "fix_failing_test" / "project" / "stats.py").read_text()
    assert "len(values) + 1" in original


def test_implement_feature(tmp_path: Path) -> None:
    code, events, stderr = run_example("implement_feature", tmp_path)
    assert code == 0, stderr
    assert events[-1]["check"]["passed"], events[-1]
    results = [e for e in events if e["type"] == "tool_result"]
    assert "1 failed" in results[2]["text"], "the first implementation fails a test"
    assert "passed" in results[4]["text"] and "[exit code 0]" in results[4]["text"]


def test_data_analysis(tmp_path: Path) -> None:
    code, events, stderr = run_example("data_analysis", tmp_path)
    assert code == 0, stderr
    check = events[-1]["check"]
    assert check["passed"], check
    chart = next((tmp_path / "data").rglob("sales_by_region.png"))
    assert chart.read_bytes()[:4] == b"\x89PNG"
    calls = [e for e in events if e["type"] == "tool_call"]
    assert [c["recipient"] for c in calls] == ["python", "python"]


def test_a_failed_check_has_its_own_exit_code(tmp_path: Path) -> None:
    folder = tmp_path / "fix_failing_test"
    shutil.copytree(EXAMPLES / "fix_failing_test", folder)
    task = (folder / "task.yaml").read_text()
    # Drop the two patch turns: the model "finishes" without fixing anything.
    lines = task.splitlines()
    kept: list[str] = []
    for line in lines:
        if "functions.apply_patch" in line:
            kept.pop()  # the "- |-" line before it
            continue
        kept.append(line)
    (folder / "task.yaml").write_text("\n".join(kept) + "\n")
    completed = subprocess.run(
        [sys.executable, "-m", "gptoss_agent.agent.cli.entry", "run", str(folder / "task.yaml"),
         "--json", "--set", f"tools.python.data_dir={tmp_path / 'data'}"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert completed.returncode == 5, completed.stderr
    finished = json.loads(completed.stdout.splitlines()[-1])
    assert finished["check"]["passed"] is False
    assert "the tests still fail" in finished["check"]["detail"]

"""Batch runs (``gptoss-agent run a.yaml b.yaml ...``) in process: each task's outcome
and exit code in the summary, whatever the other tasks do.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from gptoss_agent.agent.cli import batch
from gptoss_agent.agent.task import lifecycle
from gptoss_agent.agent.task.load import TaskFileError, load_task
from gptoss_agent.agent.task.settings import task_settings

CHECK = """
def check(ctx):
    assert ctx.result.final_text == "right", f"got {ctx.result.final_text!r}"
    return "the answer is right"
"""


def scripted_task(folder: Path, name: str, answer: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\n"
        "model:\n"
        "  backend: scripted\n"
        f'  completions: ["<|channel|>final<|message|>{answer}<|return|>"]\n'
        "prompt: answer\n"
        "check: check.py:check\n"
    )
    return path


def run(tmp_path: Path, names_and_answers: list[tuple[str, str]]) -> tuple[int, list[Any]]:
    (tmp_path / "check.py").write_text(CHECK)
    tasks = [task_settings(load_task(scripted_task(tmp_path, name, answer), []))
             for name, answer in names_and_answers]
    summary = tmp_path / "summary.json"
    args = argparse.Namespace(concurrency=3, yes=True, summary=summary)
    code = batch.run_batch(tasks, args, Console(file=io.StringIO()))
    return code, json.loads(summary.read_text())["tasks"]


def test_a_failed_check_is_exit_5_in_a_batch_too(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, rows = run(tmp_path, [("good", "right"), ("bad", "wrong")])
    assert [(row["task"], row["outcome"], row["exit_code"]) for row in rows] == [
        ("good", "final", 0), ("bad", "check_failed", 5)]
    assert code == 5


def test_one_task_crashing_does_not_stop_the_others(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    real_run_task = lifecycle.run_task  # batches run each task through run_shared_task

    async def run_task(task: Any, *args: Any) -> Any:
        if task.settings.name == "crashes":
            raise KeyError("surprise")
        if task.settings.name == "misses":
            raise TaskFileError("misses.yaml: inputs: no file data.csv")
        return await real_run_task(task, *args)

    monkeypatch.setattr(lifecycle, "run_task", run_task)
    code, rows = run(tmp_path, [("crashes", "right"), ("misses", "right"), ("fine", "right")])
    assert [(row["task"], row["outcome"], row["exit_code"]) for row in rows] == [
        ("crashes", "infrastructure", 4), ("misses", "bad_config", 2), ("fine", "final", 0)]
    assert rows[0]["error"] == "KeyError: 'surprise'"
    assert code == 4

"""``gptoss-agent eval`` end to end on the scripted backend: scores, reports, resume, errors.

The task's check passes by design for seeds 0 and 3 of every five, so ``-k 5`` gives
n=5, c=2: pass@1 0.4, pass@2 0.7, pass^2 0.1, pass@5 1.0, pass^5 0.0.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.agent.cli.entry import main

CHECK = """
def check(ctx):
    seed = int(ctx.session_id.rsplit("seed", 1)[1])
    assert seed % 5 in (0, 3), f"seed {seed} fails by design"
    return f"seed {seed} passes"
"""


@pytest.fixture
def task(tmp_path: Path) -> Path:
    (tmp_path / "check.py").write_text(CHECK)
    path = tmp_path / "task.yaml"
    path.write_text(
        "name: by-seed\n"
        "model:\n  backend: scripted\n"
        '  completions: ["<|channel|>analysis<|message|>Easy.<|end|><|start|>assistant'
        '<|channel|>final<|message|>done<|return|>"]\n'
        "prompt: do it\n"
        "check: check.py:check\n")
    return path


def _eval(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["eval", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _progress(stderr: str) -> list[str]:
    """The progress lines' counters, one per attempt that ran."""
    return re.findall(r"^\[\d+/\d+\]", stderr, flags=re.MULTILINE)


def _report(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "report.json").read_text())
    return data


def test_five_attempts_print_and_record_the_hand_computed_scores(
        task: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, stdout, stderr = _eval(capsys, str(task), "-k", "5", "--out", str(out),
                                 "--report-k", "1,2,5",
                                 "--set", "model.sampling.temperature=0.7")
    assert code == 0, stderr
    for header in ("pass@1", "pass@2", "pass@5", "pass^2", "pass^5", "parse", "schema",
                   "unknown", "channel", "timeout"):
        assert header in stdout
    row = next(line for line in stdout.splitlines() if "by-seed" in line)
    assert [cell.strip() for cell in row.split("│")[3:9]] == [
        "2/5", "0", "0.400", "0.700", "1.000", "0.100"]
    assert stderr.count("PASS") == 2 and stderr.count("FAIL") == 3
    report = _report(out)
    overall = report["overall"]
    assert (overall["n"], overall["passed"], overall["infra"]) == (5, 2, 0)
    assert overall["pass_at"]["1"] == pytest.approx(0.4)
    assert overall["pass_at"]["2"] == pytest.approx(0.7)
    assert overall["pass_hat"]["2"] == pytest.approx(0.1)
    assert overall["pass_hat"]["5"] == 0.0
    assert overall["stop_reasons"] == {"check_failed": 3, "final": 2}
    assert [a["seed"] for a in report["attempts"]] == [0, 1, 2, 3, 4]
    assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")


def test_a_rerun_skips_finished_attempts_and_a_bigger_k_runs_only_the_new_ones(
        task: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert _eval(capsys, str(task), "-k", "3", "--out", str(out))[0] == 0
    lines = (out / "attempts.jsonl").read_text().splitlines()
    code, _, stderr = _eval(capsys, str(task), "-k", "3", "--out", str(out))
    assert code == 0 and "resuming: 3 of 3" in stderr and _progress(stderr) == []
    assert (out / "attempts.jsonl").read_text().splitlines() == lines
    code, _, stderr = _eval(capsys, str(task), "-k", "5", "--out", str(out))
    assert code == 0 and "resuming: 3 of 5" in stderr
    assert _progress(stderr) == ["[4/5]", "[5/5]"]
    assert [a["seed"] for a in _report(out)["attempts"]] == [0, 1, 2, 3, 4]
    assert len((out / "attempts.jsonl").read_text().splitlines()) == 5
    assert _report(out)["overall"]["passed"] == 2


def test_a_grid_reports_each_setting(task: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    code, stdout, _ = _eval(capsys, str(task), "-k", "2", "--out", str(out), "--jobs", "2",
                            "--set", "model.reasoning_effort=[low,high]", "--seed", "3")
    assert code == 0
    report = _report(out)
    assert [s["setting"] for s in report["settings"]] == [
        "model.reasoning_effort=low", "model.reasoning_effort=high"]
    assert all(s["n"] == 2 and s["passed"] == 1 for s in report["settings"])  # seeds 3, 4
    assert "reasoning_effort=high" in stdout


def test_infra_failures_are_excluded_and_make_exit_4(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "task.yaml"
    path.write_text("model:\n  backend: scripted\n"
                    '  completions: ["<|channel|>analysis to=python<|message|>1<|call|>"]\n'
                    "prompt: go\ntools: {python: false}\n")
    # The one completion calls a disabled tool; the second generation has no script.
    code, _, stderr = _eval(capsys, str(path), "-k", "2", "--out", str(tmp_path / "out"))
    assert code == 4
    overall = _report(tmp_path / "out")["overall"]
    assert (overall["n"], overall["infra"]) == (0, 2)
    assert overall["pass_at"]["1"] is None
    assert "INFRA" in stderr


@pytest.mark.parametrize(("argv", "message"), [
    (["missing.yaml"], "cannot read the task file"),
    (["{task}", "-k", "0"], "-k must be at least 1"),
    (["{task}", "--set", "nokey"], "expected KEY=VALUE"),
    (["{task}", "--set", "budgets.max_generations=0"], "budgets.max_generations"),
    (["{task}", "--set", "model.sampling.seed=[1,2]"], "--seed"),
    (["{task}", "-k", "2", "--report-k", "3"], "between 1 and -k 2"),
    (["{task}", "--jobs", "0"], "--jobs must be at least 1"),
])
def test_bad_input_is_exit_2_with_a_clear_error(
        task: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str],
        message: str) -> None:
    args = [item.replace("{task}", str(task)) for item in argv]
    code, _, stderr = _eval(capsys, *args, "--out", str(tmp_path / "out"))
    assert code == 2
    assert message in stderr
    assert not (tmp_path / "out" / "attempts.jsonl").exists()

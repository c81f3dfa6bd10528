"""``gptoss-agent eval`` on the shipped tiny model: ``-k 2`` with sampling, in the sandbox."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import require_or_skip

TASK = Path(__file__).resolve().parents[3] / "examples" / "tiny_model" / "task.yaml"


@pytest.mark.slow
@pytest.mark.docker
def test_eval_of_the_tiny_model_task_scores_two_sampled_attempts(tmp_path: Path) -> None:
    from tests.sandbox.conftest import require_engine

    require_or_skip(all(importlib.util.find_spec(n) for n in ("torch", "transformers")),
                    "torch and transformers are not installed")
    require_engine()
    out = tmp_path / "eval"
    completed = subprocess.run(
        [sys.executable, "-m", "gptoss_agent.agent.cli.entry", "eval", str(TASK), "-k", "2",
         "--set", "model.sampling.temperature=0.7", "--jobs", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    for header in ("pass@1", "pass@2", "pass^2", "parse", "timeout", "stop reasons"):
        assert header in completed.stdout
    report = json.loads((out / "report.json").read_text())
    overall = report["overall"]
    assert (overall["n"], overall["infra"]) == (2, 0)
    assert [a["seed"] for a in report["attempts"]] == [0, 1]
    assert all(a["tool_calls"] >= 1 and a["generations"] >= 2 for a in report["attempts"])
    assert overall["mean_tokens"]["analysis"] > 0 and overall["mean_tokens"]["final"] > 0
    assert 0.0 <= overall["pass_at"]["1"] <= overall["pass_at"]["2"] <= 1.0
    transcripts = sorted((out / "transcripts").glob("*.jsonl"))
    assert len(transcripts) == 2

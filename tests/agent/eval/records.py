"""Attempt records made by hand, for the aggregation, store and report tests."""

from __future__ import annotations

from gptoss_agent.agent.eval.attempt import VALIDITY_KINDS, AttemptRecord


def record(task: str, setting: str, attempt: int, status: str, *, outcome: str = "",
           generations: int = 2, analysis: int = 10, retries: int = 0,
           **validity: int) -> AttemptRecord:
    """One attempt of ``task`` at ``setting``."""
    default = {"pass": "final", "fail": "check_failed", "infra": "backend_error"}[status]
    counts = dict.fromkeys(VALIDITY_KINDS, 0) | validity
    return AttemptRecord(
        key=f"{task}-{setting}-{attempt}", task=task, task_path=f"/tasks/{task}.yaml",
        setting=setting, attempt=attempt, seed=attempt, status=status,
        outcome=outcome or default, generations=generations, tool_calls=1,
        tokens={"analysis": analysis, "commentary": 4, "final": 6, "sampled": analysis + 10,
                "prompt": 100, "tool_output": 5},
        validity=counts, output_retries=retries, seconds=1.0)


def outcomes(task: str, setting: str, statuses: str) -> list[AttemptRecord]:
    """Records from a string of ``p`` (pass), ``f`` (fail) and ``i`` (infra)."""
    names = {"p": "pass", "f": "fail", "i": "infra"}
    return [record(task, setting, index, names[letter])
            for index, letter in enumerate(statuses)]

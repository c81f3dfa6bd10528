"""Attempts run through the task lifecycle on the scripted backend, counted as records."""

from __future__ import annotations

import json
from pathlib import Path

from gptoss_agent.agent.eval.grid import parse_grid
from gptoss_agent.agent.eval.plan import plan_attempts
from gptoss_agent.agent.eval.runner import pending, run_attempts
from gptoss_agent.agent.eval.store import AttemptStore

TOOLS = """
import asyncio

def add(a: int, b: int) -> int:
    return a + b

async def stall() -> str:
    await asyncio.Event().wait()  # never answers: the call's deadline ends it
    return "never"
"""


def _call(recipient: str, arguments: str, channel: str = "commentary") -> str:
    return (f"<|channel|>{channel} to={recipient} <|constrain|>json<|message|>"
            f"{arguments}<|call|>")


MISBEHAVING = [
    _call("functions.nope", "{}"),                           # unknown tool
    _call("functions.add", '{"a": "x", "b": 1}'),            # schema-invalid
    _call("functions.add", '{"a": 1,'),                      # arguments not JSON
    _call("functions.add", '{"a": 1, "b": 2}', "analysis"),  # function off commentary
    _call("functions.stall", "{}"),                          # timeout
    "<|channel|>final 3<|return|>",                          # no <|message|>: parse error
    "<|channel|>final<|message|>3<|return|>",
]


def _task(folder: Path, completions: list[str], extra: str = "") -> Path:
    (folder / "tools.py").write_text(TOOLS)
    path = folder / "task.yaml"
    path.write_text(
        "name: misbehaving\n"
        "model:\n  backend: scripted\n"
        f"  completions: {json.dumps(completions)}\n"
        "prompt: add 1 and 2\n"
        "tools:\n  functions:\n"
        "    - {file: tools.py, function: add}\n"
        "    - {file: tools.py, function: stall}\n"
        "budgets: {max_consecutive_errors: 10, tool_timeout_s: 0.2}\n" + extra)
    return path


async def test_validity_counts_every_kind_of_invalid_call(tmp_path: Path) -> None:
    planned = plan_attempts([_task(tmp_path, MISBEHAVING)], parse_grid([]), 1,
                            tmp_path / "out")
    store = AttemptStore(tmp_path / "out")
    (record,) = await run_attempts(planned, store)
    assert record.status == "pass" and record.outcome == "final", record
    assert dict(record.validity) == {"parse_error": 2, "schema_invalid": 1,
                                     "unknown_tool": 1, "wrong_channel": 1, "timeout": 1,
                                     "other": 0}
    assert record.generations == 7 and record.tool_calls == 4
    assert record.incidents["function_call_off_commentary"] == 1
    assert record.seed == 0 and record.transcript is not None
    assert Path(record.transcript).parent == (tmp_path / "out" / "transcripts").resolve()


async def test_a_backend_failure_is_infra_and_runs_again(tmp_path: Path) -> None:
    # One completion that calls a tool, and no second one: the scripted backend fails.
    task = _task(tmp_path, [_call("functions.add", '{"a": 1, "b": 2}')])
    planned = plan_attempts([task], parse_grid([]), 2, tmp_path / "out")
    store = AttemptStore(tmp_path / "out")
    records = await run_attempts(planned, store)
    assert [(r.status, r.outcome) for r in records] == [("infra", "infrastructure")] * 2
    assert all((r.error or "").startswith("ScriptError") for r in records), records
    store.close()
    assert len(pending(planned, AttemptStore(tmp_path / "out"))) == 2


async def test_an_attempt_run_again_starts_a_transcript_of_its_own(tmp_path: Path) -> None:
    task = _task(tmp_path, [_call("functions.add", '{"a": 1, "b": 2}')])  # infra each time
    for _ in range(2):
        planned = plan_attempts([task], parse_grid([]), 1, tmp_path / "out")
        store = AttemptStore(tmp_path / "out")
        (record,) = await run_attempts(planned, store)
        store.close()
        assert record.status == "infra"
    folder = tmp_path / "out" / "transcripts"
    latest = folder / f"{record.key}.jsonl"
    earlier = folder / f"{record.key}.try1.jsonl"
    for path in (latest, earlier):
        kinds = [json.loads(line)["type"] for line in path.read_text().splitlines()]
        assert kinds.count("header") == 1, (path, kinds)


async def test_an_attempt_that_cannot_start_is_recorded_not_raised(tmp_path: Path) -> None:
    task = _task(tmp_path, ["<|channel|>final<|message|>3<|return|>"])
    (tmp_path / "tools.py").write_text("def add(a: int, b: int) -> int:\n    return a + b\n")
    planned = plan_attempts([task], parse_grid([]), 1, tmp_path / "out")
    (record,) = await run_attempts(planned, AttemptStore(tmp_path / "out"))
    assert record.status == "infra" and record.outcome == "bad_config"
    assert "stall" in (record.error or "")


async def test_seeds_are_base_plus_index_and_keys_differ(tmp_path: Path) -> None:
    task = _task(tmp_path, ["<|channel|>final<|message|>3<|return|>"],
                 extra="")
    grid = parse_grid(["model.reasoning_effort=[low,high]"])
    planned = plan_attempts([task], grid, 3, tmp_path / "out", base_seed=40)
    assert [p.spec.seed for p in planned] == [40, 41, 42, 40, 41, 42]
    assert [p.settings.sampling.seed for p in planned] == [40, 41, 42, 40, 41, 42]
    assert [p.settings.reasoning_effort for p in planned] == ["low"] * 3 + ["high"] * 3
    assert len({p.spec.key for p in planned}) == 6
    again = plan_attempts([task], grid, 3, tmp_path / "out", base_seed=40)
    assert [p.spec.key for p in again] == [p.spec.key for p in planned]
    task.write_text(task.read_text() + "instructions: be brief\n")  # the task changed
    changed = plan_attempts([task], grid, 3, tmp_path / "out", base_seed=40)
    assert not {p.spec.key for p in changed} & {p.spec.key for p in planned}


def test_a_task_named_twice_runs_once_and_the_default_folder_is_named_after_it(
        tmp_path: Path) -> None:
    from gptoss_agent.agent.eval.plan import default_folder

    task = _task(tmp_path, ["<|channel|>final<|message|>3<|return|>"])
    planned = plan_attempts([task, tmp_path / "." / "task.yaml"], parse_grid([]), 2,
                            tmp_path / "out")
    assert len(planned) == 2
    assert default_folder(task, ["name=my task/1"]).as_posix() == "runs/eval-my_task_1"

"""``--set`` for evals: fixed overrides, list axes, and what stays a plain value."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptoss_agent.agent.eval.errors import EvalError
from gptoss_agent.agent.eval.grid import Setting, parse_grid, takes_list
from gptoss_agent.agent.task.load import load_task


def test_plain_values_are_fixed_and_lists_are_axes_in_order() -> None:
    grid = parse_grid(["budgets.max_generations=3", "model.sampling.temperature=[0.2,0.7]",
                       "model.reasoning_effort=[low, high]"])
    assert grid.fixed == ("budgets.max_generations=3",)
    assert [s.assignments for s in grid.settings] == [
        ("model.sampling.temperature=0.2", "model.reasoning_effort=low"),
        ("model.sampling.temperature=0.2", "model.reasoning_effort=high"),
        ("model.sampling.temperature=0.7", "model.reasoning_effort=low"),
        ("model.sampling.temperature=0.7", "model.reasoning_effort=high"),
    ]
    assert grid.settings[0].label == "model.sampling.temperature=0.2 model.reasoning_effort=low"


def test_no_axes_is_one_default_setting() -> None:
    grid = parse_grid(["model.sampling.temperature=0.7"])
    assert grid.settings == (Setting(),) and grid.settings[0].label == "default"


def test_a_list_for_a_key_that_takes_lists_is_one_value() -> None:
    assert takes_list("approval") and takes_list("model.completions")
    assert not takes_list("model.sampling.temperature") and not takes_list("no.such.key")
    grid = parse_grid(["approval=[python]"])
    assert grid.fixed == ("approval=[python]",) and len(grid.settings) == 1
    axis = parse_grid(["approval=[[python], []]"])
    assert [s.assignments for s in axis.settings] == [('approval=["python"]',),
                                                      ("approval=[]",)]


def test_axis_values_keep_their_type_through_the_task_loader(tmp_path: Path) -> None:
    """A quoted "true" stays a string, a number a number, once ``load_task`` reads it."""
    task = tmp_path / "t.yaml"
    task.write_text("model: {backend: scripted, completions: ['x']}\nprompt: hi\n")
    grid = parse_grid(["prompt=['true', 'a: b', plain]", "model.sampling.temperature=[0.5]"])
    prompts = [load_task(task, list(s.assignments)).data["prompt"] for s in grid.settings]
    assert prompts == ["true", "a: b", "plain"]
    data = load_task(task, list(grid.settings[0].assignments)).data
    assert data["model"]["sampling"]["temperature"] == 0.5


@pytest.mark.parametrize(("assignment", "message"), [
    ("temperature", "expected KEY=VALUE"),
    ("=3", "expected KEY=VALUE"),
    ("model.reasoning_effort=[low", "not valid YAML"),
    ("model.reasoning_effort=[]", "at least one value"),
    ("model.sampling.seed=[1,2]", "--seed"),
])
def test_bad_assignments_say_what_is_wrong(assignment: str, message: str) -> None:
    with pytest.raises(EvalError, match=message):
        parse_grid([assignment])

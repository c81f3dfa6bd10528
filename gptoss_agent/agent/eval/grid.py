"""``--set`` for evals: single overrides, and lists that make a grid of settings.

The syntax of ``run`` is kept: ``--set KEY=VALUE`` parses ``VALUE`` as YAML and sets
``KEY`` for every attempt. A value written as a YAML list, ``--set
model.reasoning_effort=[low,high]``, is a grid axis when ``KEY`` does not itself take a
list: each item is one setting (a list there was always a validation error for ``run``,
so no working command changes meaning). A key that takes a list (``inputs``,
``approval``, ``model.completions``, ...) is an axis only when every item is a list
itself: ``--set approval=[[python],[]]``. Several axes make their cartesian product, in
the order given. ``model.sampling.seed`` cannot be an axis: attempts set it themselves
(``--seed``).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from gptoss_agent.agent.eval.errors import EvalError
from gptoss_agent.agent.task.schema import TASK_SCHEMA

SEED_KEY = "model.sampling.seed"


@dataclass(frozen=True)
class Setting:
    """One point of the grid.

    Attributes:
        assignments: The ``KEY=VALUE`` overrides of this point's axes, in axis order
            (empty without a grid).
    """

    assignments: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How reports name it: its assignments, or ``default`` without a grid."""
        return " ".join(self.assignments) or "default"


@dataclass(frozen=True)
class Grid:
    """What the ``--set`` options of an eval asked for.

    Attributes:
        fixed: Overrides applied to every attempt (as ``run`` applies them).
        settings: The grid's points (one, with no assignments, without axes).
    """

    fixed: tuple[str, ...]
    settings: tuple[Setting, ...]


def parse_grid(assignments: Sequence[str]) -> Grid:
    """Split ``--set`` options into fixed overrides and the grid they span.

    Raises:
        EvalError: An option is not ``KEY=VALUE``, its value is not YAML, an axis is
            empty, or the seed is made an axis.
    """
    fixed: list[str] = []
    axes: list[list[str]] = []
    for assignment in assignments:
        key, values = _split(assignment)
        if values is None:
            fixed.append(assignment)
            continue
        if key == SEED_KEY:
            raise EvalError(f"--set {assignment!r}: each attempt sets {SEED_KEY} itself "
                            "(base + attempt index); give the base with --seed")
        if not values:
            raise EvalError(f"--set {assignment!r}: a grid axis needs at least one value")
        axes.append([f"{key}={_as_yaml(value)}" for value in values])
    settings = tuple(Setting(tuple(point)) for point in itertools.product(*axes))
    return Grid(tuple(fixed), settings)


def _split(assignment: str) -> tuple[str, list[Any] | None]:
    """The key, and the axis values when the assignment is an axis (else ``None``)."""
    key, sep, raw = assignment.partition("=")
    key = key.strip()
    if not sep or not key:
        raise EvalError(f"--set {assignment!r}: expected KEY=VALUE or KEY=[V1,V2,...] "
                        "(e.g. model.sampling.temperature=[0.2,0.7])")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise EvalError(f"--set {assignment!r}: the value is not valid YAML: {exc}") from exc
    if not isinstance(value, list):
        return key, None
    if not takes_list(key):
        return key, value
    if value and all(isinstance(item, list) for item in value):
        return key, value
    return key, None


def _as_yaml(value: Any) -> str:
    """``value`` written so that YAML reads it back as the same value (plain if it can)."""
    if isinstance(value, str):
        try:
            if value and yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    return json.dumps(value, ensure_ascii=False)


def takes_list(key: str) -> bool:
    """Whether the task schema lets ``key`` (dotted) hold a list."""
    schema: Any = TASK_SCHEMA
    for part in key.split("."):
        schema = _child(schema, part)
        if schema is None:
            return False
    return _accepts_array(schema)


def _child(schema: Any, part: str) -> Any:
    """The sub-schema of ``part`` inside an object schema (any branch of a ``oneOf``)."""
    if not isinstance(schema, Mapping):
        return None
    for branch in (*schema.get("oneOf", ()), *schema.get("anyOf", ())):
        found = _child(branch, part)
        if found is not None:
            return found
    properties = schema.get("properties", {})
    if part in properties:
        return properties[part]
    extra = schema.get("additionalProperties")
    return extra if isinstance(extra, Mapping) else None


def _accepts_array(schema: Any) -> bool:
    if not isinstance(schema, Mapping):
        return False
    kind = schema.get("type")
    if kind == "array" or (isinstance(kind, list) and "array" in kind):
        return True
    return any(_accepts_array(branch)
               for branch in (*schema.get("oneOf", ()), *schema.get("anyOf", ())))

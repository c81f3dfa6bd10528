"""Loading task files: YAML in, validated against the published schema, errors with lines.

An error names the file, the line, the key and what was expected, e.g.::

    task.yaml:7: budgets.max_generations: expected an integer >= 1, got 0

``--set key=value`` overrides any key before validation (``value`` is parsed as YAML, so
``--set budgets.max_generations=5`` gives an integer and ``--set tools.python=false`` a boolean).
"""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gptoss_agent.agent.errors import AgentError
from gptoss_agent.agent.task.schema import RENAMED, TASK_SCHEMA


class TaskFileError(AgentError, ValueError):
    """A task file is unreadable or invalid; the message says where and why."""


@dataclass(frozen=True)
class TaskFile:
    """A validated task file.

    Attributes:
        path: Where it was read from.
        data: The validated content (with overrides applied).
    """

    path: Path
    data: Mapping[str, Any]

    @property
    def base_dir(self) -> Path:
        """Relative paths in the task are resolved against this folder."""
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        """A path from the task file, made absolute."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else (self.base_dir / candidate).resolve()

    @property
    def name(self) -> str:
        """The task's name (its file name without suffix when not set)."""
        return str(self.data.get("name") or self.path.stem)


def _line_of(node: yaml.Node | None, path: Sequence[Any]) -> int | None:
    current = node
    for part in path:
        if isinstance(current, yaml.MappingNode):
            match = next((v for k, v in current.value if k.value == part), None)
            if match is None:
                break
            current = match
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(current.value):
                break
            current = current.value[part]
        else:
            break
    return current.start_mark.line + 1 if current is not None else None


def _key_line(node: yaml.Node | None, path: Sequence[Any], key: str) -> int | None:
    """Line of ``key`` inside the mapping at ``path`` (for unknown keys)."""
    current = node
    for part in path:
        if isinstance(current, yaml.MappingNode):
            current = next((v for k, v in current.value if k.value == part), None)
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            current = current.value[part] if part < len(current.value) else None
        if current is None:
            return None
    if isinstance(current, yaml.MappingNode):
        for k, _ in current.value:
            if k.value == key:
                return int(k.start_mark.line) + 1
    return None


def _dotted(path: Sequence[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _expected(error: jsonschema.ValidationError) -> str:
    validator = error.validator
    value: Any = error.validator_value
    if validator == "type":
        article = "an" if str(value)[0] in "aeiou" else "a"
        return f"expected {article} {value}, got {error.instance!r}"
    if validator == "enum":
        return f"expected one of {', '.join(map(str, value))}, got {error.instance!r}"
    if validator == "minimum":
        return f"expected a number >= {value}, got {error.instance!r}"
    if validator == "exclusiveMinimum":
        return f"expected a number > {value}, got {error.instance!r}"
    if validator == "required":
        return error.message.replace("is a required property", "is required")
    return error.message


def _describe(error: jsonschema.ValidationError, root: yaml.Node | None, path: Path) -> str:
    location = list(error.absolute_path)
    if error.validator == "additionalProperties":
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        properties = schema.get("properties", {})
        known = sorted(properties)
        instance = error.instance if isinstance(error.instance, Mapping) else {}
        extras = [key for key in instance if key not in properties]
        key = extras[0] if extras else "?"
        line = _key_line(root, location, key) or _line_of(root, location)
        where = _dotted([*location, key])
        renamed = RENAMED.get(where)
        if renamed is not None:
            return f"{path}:{line}: {where}: this key is now {renamed}"
        return f"{path}:{line}: {where}: unknown key; expected one of: {', '.join(known)}"
    if error.validator == "oneOf" and error.context:
        # The branch of the instance's own type says more than "expected a boolean"; only
        # a branch's own type mismatch is dropped, not a wrong type deeper inside it.
        fitting = [e for e in error.context
                   if e.validator != "type" or e.relative_path] or error.context
        best = jsonschema.exceptions.best_match(fitting)
        return _describe(best, root, path)
    line = _line_of(root, location) or 1
    return f"{path}:{line}: {_dotted(location)}: {_expected(error)}"


def _dates_as_text(value: Any) -> Any:
    """YAML reads an unquoted ``2026-01-01`` as a date; the task format wants text."""
    if isinstance(value, dict):
        return {key: _dates_as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_dates_as_text(item) for item in value]
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def apply_override(data: dict[str, Any], assignment: str) -> None:
    """Apply one ``key.sub=value`` override in place.

    A tool switched on with ``true`` takes sub-keys too (``--set
    tools.python.data_dir=out`` on ``python: true``): ``true`` means "on, with the
    defaults", so it becomes a mapping of the one key set.

    Raises:
        TaskFileError: The assignment has no ``=`` or walks into a non-mapping.
    """
    key, sep, raw = assignment.partition("=")
    if not sep or not key.strip():
        raise TaskFileError(
            f"--set {assignment!r}: expected key=value (e.g. budgets.max_generations=5)")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise TaskFileError(f"--set {assignment!r}: the value is not valid YAML: {exc}") from exc
    parts = key.strip().split(".")
    target: Any = data
    for index, part in enumerate(parts[:-1]):
        nxt = target.get(part)
        if nxt is None or nxt is True:
            nxt = {}
            target[part] = nxt
        if not isinstance(nxt, dict):
            where = ".".join(parts[: index + 1])
            raise TaskFileError(f"--set {assignment!r}: {where} is not a mapping")
        target = nxt
    target[parts[-1]] = value


def load_task(
    path: str | Path, overrides: Sequence[str] = (), *, require_prompt: bool = True
) -> TaskFile:
    """Read, override and validate a task file (``chat`` needs no ``prompt``).

    Raises:
        TaskFileError: The file is missing, not YAML, or does not match the schema.
    """
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaskFileError(f"{file_path}: cannot read the task file: {exc.strerror}") from exc
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TaskFileError(f"{file_path}{line}: not valid YAML: {problem}") from exc
    if data is None:
        data = {}
    data = _dates_as_text(data)
    if not isinstance(data, dict):
        raise TaskFileError(f"{file_path}:1: a task file must be a mapping of keys to values")
    for assignment in overrides:
        apply_override(data, assignment)
    validate(data, root, file_path, require_prompt=require_prompt)
    return TaskFile(path=file_path.resolve(), data=data)


def validate(data: dict[str, Any], root: yaml.Node | None, path: Path, *,
             require_prompt: bool = True) -> None:
    """Check ``data`` against the schema and the rules across keys.

    Raises:
        TaskFileError: Every problem found, one line each, with the line of ``root``
            (the parsed YAML) where it is known.
    """
    schema = TASK_SCHEMA
    if not require_prompt:
        schema = {**TASK_SCHEMA, "required": [k for k in TASK_SCHEMA["required"] if k != "prompt"]}
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = [_describe(error, root, path) for error in errors]
        raise TaskFileError("\n".join(dict.fromkeys(lines)))
    _check_cross_field_rules(data, root, path)


def recorded_task(path: Path, data: Mapping[str, Any]) -> TaskFile:
    """A task as a transcript's header recorded it, with renamed keys brought up to date.

    Transcripts written before a key was renamed still resume with the same settings.

    Raises:
        TaskFileError: The recorded task does not validate.
    """
    upgraded = copy.deepcopy(dict(data))
    for old, new in RENAMED.items():
        value = _pop_dotted(upgraded, old.split("."))
        if value is not _MISSING:
            apply_override(upgraded, f"{new}={json.dumps(value)}")
    validate(upgraded, None, path, require_prompt=False)
    return TaskFile(path=path, data=upgraded)


_MISSING = object()


def _pop_dotted(data: dict[str, Any], parts: list[str]) -> Any:
    for part in parts[:-1]:
        data = data.get(part)  # type: ignore[assignment]
        if not isinstance(data, dict):
            return _MISSING
    return data.pop(parts[-1], _MISSING)


def _check_cross_field_rules(data: dict[str, Any], root: yaml.Node | None, path: Path) -> None:
    model = data["model"]
    backend = model["backend"]
    needs = {"transformers": "path", "server": "url"}
    key = needs.get(backend)
    if key and key not in model:
        line = _line_of(root, ["model"])
        raise TaskFileError(f"{path}:{line}: model: the {backend} backend needs model.{key}")
    if backend == "scripted" and "completions" not in model and "script" not in model:
        line = _line_of(root, ["model"])
        raise TaskFileError(
            f"{path}:{line}: model: the scripted backend needs model.completions or model.script"
        )
    for index, function in enumerate(data.get("tools", {}).get("functions", [])):
        has_import = "import" in function
        has_file = "file" in function and "function" in function
        if has_import == has_file:
            line = _line_of(root, ["tools", "functions", index])
            raise TaskFileError(
                f"{path}:{line}: tools.functions[{index}]: give either import: module:function, "
                "or file: + function:"
            )

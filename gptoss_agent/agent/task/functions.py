"""Importing what a task file names: its function tools and its success check.

A function is ``import: module.path:function`` (the task's folder is on ``sys.path``) or
``file: tools.py`` + ``function: name``. A function already decorated with
``@function_tool`` keeps its own name, description and timeout; the task entry's keys
override only what they set.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gptoss_agent.agent.task.load import TaskFileError
from gptoss_agent.agent.task.settings import FunctionEntry
from gptoss_agent.tools.errors import ToolRegistrationError
from gptoss_agent.tools.function import DEFAULT_TIMEOUT_S, FunctionTool, function_tool


def load_target(base_dir: Path, entry: FunctionEntry) -> Any:
    """Import the object an entry names (a function or a :class:`FunctionTool`).

    Raises:
        TaskFileError: The module, file or function cannot be found.
    """
    if entry.import_path is not None:
        module_name, _, attribute = entry.import_path.partition(":")
        if str(base_dir) not in sys.path:
            sys.path.insert(0, str(base_dir))
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise TaskFileError(f"cannot import {module_name!r}: {exc}") from exc
        where = module_name
    else:
        assert entry.file is not None and entry.function is not None  # the schema's rule
        module = _load_file(entry.file)
        attribute, where = entry.function, str(entry.file)
    target = getattr(module, attribute, None)
    if target is None or not (callable(target) or isinstance(target, FunctionTool)):
        raise TaskFileError(f"{where} has no function {attribute!r}")
    return target


def _load_file(path: Path) -> Any:
    if not path.is_file():
        raise TaskFileError(f"function file {path} does not exist")
    spec = importlib.util.spec_from_file_location(f"gptoss_task_tools_{abs(hash(path))}", path)
    if spec is None or spec.loader is None:
        raise TaskFileError(f"cannot load {path} as Python")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise TaskFileError(f"{path} failed to load: {exc}") from exc
    return module


def build_function_tool(base_dir: Path, entry: FunctionEntry) -> FunctionTool:
    """One function tool from a task entry (type hints, or the entry's explicit schema).

    Raises:
        TaskFileError: The function cannot be found, or its schema is invalid.
    """
    target = load_target(base_dir, entry)
    name = entry.name or getattr(target, "name", None) or target.__name__
    try:
        return _function_tool(target, entry, name)
    except (TypeError, ValueError, ToolRegistrationError) as exc:
        raise TaskFileError(f"tools.functions: {name}: {exc}") from exc


def _function_tool(target: Any, entry: FunctionEntry, name: str) -> FunctionTool:
    if isinstance(target, FunctionTool):
        return _overridden(target, entry)
    timeout = entry.timeout_s if entry.timeout_s is not None else DEFAULT_TIMEOUT_S
    if entry.schema is not None:
        description = entry.description or inspect.getdoc(target) or ""
        return FunctionTool.from_schema(name, description.split("\n\n")[0],
                                        dict(entry.schema), target, timeout_s=timeout,
                                        strict=bool(entry.strict))
    return function_tool(name=name, description=entry.description, timeout_s=timeout,
                         strict=bool(entry.strict))(target)


def _overridden(tool: FunctionTool, entry: FunctionEntry) -> FunctionTool:
    """A decorated tool with the entry's own keys applied over the decorator's."""
    if entry.schema is not None:
        description = entry.description or tool.description
        return FunctionTool.from_schema(entry.name or tool.name, description,
                                        dict(entry.schema), tool.handler,
                                        timeout_s=_timeout(tool, entry),
                                        strict=bool(entry.strict or tool.strict))
    changes: dict[str, Any] = {}
    if entry.strict is not None:
        changes["strict"] = entry.strict
    if entry.name is not None:
        changes["name"] = entry.name
    if entry.description is not None:
        changes["description"] = entry.description
    if entry.timeout_s is not None:
        changes["timeout_s"] = entry.timeout_s
    return dataclasses.replace(tool, **changes) if changes else tool


def _timeout(tool: FunctionTool, entry: FunctionEntry) -> float | None:
    return entry.timeout_s if entry.timeout_s is not None else tool.timeout_s


def load_check(base_dir: Path, reference: str) -> Callable[..., Any]:
    """The success check ``module:function`` or ``file.py:function`` names.

    Raises:
        TaskFileError: The reference is malformed or names nothing callable.
    """
    target, _, function = reference.rpartition(":")
    if not target or not function:
        raise TaskFileError("check must be module:function or file.py:function")
    entry = (FunctionEntry(file=(base_dir / target).resolve(), function=function)
             if target.endswith(".py") else FunctionEntry(import_path=reference))
    loaded = load_target(base_dir, entry)
    return loaded.handler if isinstance(loaded, FunctionTool) else loaded

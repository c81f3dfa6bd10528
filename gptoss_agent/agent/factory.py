"""Building an ``Agent`` from a validated task file: backend, tools, budgets.

Heavy backends and tools are imported only when a task asks for them.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.approval import ApprovalPolicy
from gptoss_agent.agent.backend import ModelBackend, SamplingParams
from gptoss_agent.agent.conversation import AnalysisPolicy
from gptoss_agent.agent.loop import LoopLimits
from gptoss_agent.agent.scripted import ScriptedBackend
from gptoss_agent.agent.taskfile import TaskFile, TaskFileError
from gptoss_agent.tools.base import Tool
from gptoss_agent.tools.function_tool import FunctionTool, function_tool


def load_callable(task: TaskFile, spec: dict[str, Any]) -> Callable[..., Any]:
    """Import the function a ``tools.functions`` entry names.

    Raises:
        TaskFileError: The module, file or function cannot be found.
    """
    if "import" in spec:
        module_name, _, attribute = spec["import"].partition(":")
        if str(task.base_dir) not in sys.path:
            sys.path.insert(0, str(task.base_dir))
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise TaskFileError(f"{task.path}: cannot import {module_name!r}: {exc}") from exc
        where = module_name
    else:
        file_path = task.resolve(spec["file"])
        if not file_path.is_file():
            raise TaskFileError(f"{task.path}: function file {file_path} does not exist")
        module_spec = importlib.util.spec_from_file_location(
            f"gptoss_task_tools_{abs(hash(file_path))}", file_path
        )
        if module_spec is None or module_spec.loader is None:
            raise TaskFileError(f"{task.path}: cannot load {file_path} as Python")
        module = importlib.util.module_from_spec(module_spec)
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:
            raise TaskFileError(f"{task.path}: {file_path} failed to load: {exc}") from exc
        attribute = spec["function"]
        where = str(file_path)
    target = getattr(module, attribute, None)
    if isinstance(target, FunctionTool):
        return target.handler
    if target is None or not callable(target):
        raise TaskFileError(f"{task.path}: {where} has no function {attribute!r}")
    return target


def build_function_tool(task: TaskFile, spec: dict[str, Any]) -> FunctionTool:
    """One function tool from a task entry (type hints, or the explicit schema)."""
    target = load_callable(task, spec)
    name = spec.get("name") or target.__name__
    timeout = spec.get("timeout_s", 60.0)
    if "schema" in spec:
        description = spec.get("description") or inspect.getdoc(target) or ""
        return FunctionTool.from_schema(name, description.split("\n\n")[0], spec["schema"],
                                        target, timeout_s=timeout)
    return function_tool(name=name, description=spec.get("description"), timeout_s=timeout)(
        target
    )


def build_backend(task: TaskFile) -> ModelBackend:
    """The model backend a task names."""
    model = task.data["model"]
    backend = model["backend"]
    if backend == "scripted":
        completions = list(model.get("completions", []))
        if "script" in model:
            script_path = task.resolve(model["script"])
            try:
                loaded = yaml.safe_load(script_path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise TaskFileError(
                    f"{task.path}: cannot read script {script_path}: {exc}"
                ) from exc
            if not isinstance(loaded, list) or not all(isinstance(c, str) for c in loaded):
                raise TaskFileError(f"{script_path}: expected a YAML list of completion strings")
            completions.extend(loaded)
        return ScriptedBackend(completions)
    if backend == "transformers":
        from gptoss_agent.agent.backends import transformers_backend

        return transformers_backend.from_task_settings(task.resolve(model["path"]), model)
    from gptoss_agent.agent.backends import server_backend

    return server_backend.from_task_settings(model)


def build_python_tool(task: TaskFile, settings: dict[str, Any],
                      extra_mounts: tuple[tuple[str, str], ...] = ()) -> Tool:
    """The python sandbox tool with the task's image, limits and network."""
    from gptoss_agent.sandbox.config import SandboxConfig
    from gptoss_agent.sandbox.limits import SandboxLimits
    from gptoss_agent.tools.python_tool import PythonTool

    limit_keys = {"timeout_s": "timeout_s", "memory_mb": "memory_mb", "cpus": "cpus",
                  "pids": "pids", "output_limit_bytes": "output_bytes"}
    limits = SandboxLimits(**{field: settings[key] for key, field in limit_keys.items()
                              if key in settings})
    config_args: dict[str, Any] = {"limits": limits, "network": settings.get("network", False),
                                   "extra_mounts": extra_mounts}
    if "image" in settings:
        config_args["image"] = settings["image"]
    data_dir = task.data.get("output", {}).get("data_dir") or settings.get("data_dir")
    return PythonTool(SandboxConfig(**config_args),
                      data_dir=task.resolve(data_dir) if data_dir else None)


def build_browser_tool(task: TaskFile, settings: dict[str, Any]) -> Tool:
    """The browser tool with the task's search backend, allowlist and Chromium."""
    from gptoss_agent.tools.browser.tool import from_task_settings

    return from_task_settings(settings, base_dir=task.base_dir)


def build_tools(task: TaskFile) -> tuple[list[Tool | FunctionTool], dict[str, Any]]:
    """Every tool the task enables, and the objects checks and commands need later
    (``python``, ``browser``, ``coding``)."""
    tools: list[Tool | FunctionTool] = []
    resources: dict[str, Any] = {}
    config = task.data.get("tools", {})
    coding = config.get("coding")
    project = None
    mounts: tuple[tuple[str, str], ...] = ()
    if coding is not None:
        from gptoss_agent.tools.coding.toolkit import project_mount

        project = task.resolve(coding["project"]) if "project" in coding else None
        if project is not None and not project.is_dir():
            raise TaskFileError(f"{task.path}: tools.coding.project {project} is not a folder")
        if coding.get("mount_project"):
            if project is None:
                raise TaskFileError(f"{task.path}: tools.coding.mount_project needs a project")
            mounts = (project_mount(project),)
    python = config.get("python")
    if python:
        resources["python"] = build_python_tool(
            task, python if isinstance(python, dict) else {}, mounts)
        tools.append(resources["python"])
    if coding is not None:
        if "python" not in resources:
            raise TaskFileError(f"{task.path}: tools.coding runs in the python sandbox; "
                                "enable tools.python too")
        from gptoss_agent.tools.coding.toolkit import CodingToolkit

        toolkit = CodingToolkit(resources["python"], project,
                                shell_timeout_s=coding.get("shell_timeout_s", 120.0),
                                mounted=bool(coding.get("mount_project")))
        resources["coding"] = toolkit
        tools.extend(toolkit.tools())
    browser = config.get("browser")
    if browser:
        resources["browser"] = build_browser_tool(task,
                                                  browser if isinstance(browser, dict) else {})
        tools.append(resources["browser"])
    for spec in config.get("functions", []):
        tools.append(build_function_tool(task, spec))
    return tools, resources


def load_check(task: TaskFile) -> Callable[..., Any] | None:
    """The task's success check function, if it names one."""
    reference = task.data.get("check")
    if not reference:
        return None
    target, _, function = reference.rpartition(":")
    if not target or not function:
        raise TaskFileError(f"{task.path}: check must be module:function or file.py:function")
    spec = ({"file": target, "function": function} if target.endswith(".py")
            else {"import": reference})
    return load_callable(task, spec)


def build_agent(
    task: TaskFile,
    backend: ModelBackend | None = None,
    approval: ApprovalPolicy | None = None,
) -> Agent:
    """The agent a task describes (``backend`` overrides the task's model, for tests)."""
    model = task.data["model"]
    budgets = task.data.get("budgets", {})
    limits = LoopLimits(
        max_generations=budgets.get("max_turns", 32),
        max_tokens=budgets.get("max_tokens", 32_768),
        wall_time_s=budgets.get("wall_time_s"),
        max_repeated_calls=budgets.get("max_repeated_calls", 3),
        max_consecutive_errors=budgets.get("max_consecutive_errors", 3),
        tool_timeout_s=budgets.get("tool_timeout_s", 300.0),
    )
    sampling = SamplingParams(**model.get("sampling", {}))
    tools, resources = build_tools(task)
    agent = Agent(
        backend or build_backend(task),
        tools,
        instructions=task.data.get("instructions"),
        reasoning_effort=model.get("reasoning_effort", "medium"),
        sampling=sampling,
        limits=limits,
        analysis_policy=AnalysisPolicy(task.data.get("analysis_policy", "per_turn")),
        conversation_start_date=_start_date(task.data.get("conversation_start_date")),
        approval=approval,
    )
    agent.resources.update(resources)
    return agent


def _start_date(value: str | None) -> str | None:
    """The task's ``conversation_start_date`` for :class:`Agent`: ``"none"`` becomes
    ``""`` (no date line), absent stays ``None`` (today)."""
    return "" if value == "none" else value


def input_files(task: TaskFile) -> list[Path]:
    """The task's input files, resolved; missing ones are an error.

    Raises:
        TaskFileError: An input file does not exist.
    """
    paths = [task.resolve(item) for item in task.data.get("inputs", [])]
    for path in paths:
        if not path.exists():
            raise TaskFileError(f"{task.path}: input file {path} does not exist")
    return paths


async def place_inputs(task: TaskFile, agent: Agent, session_id: str) -> list[Path]:
    """Copy the task's input files into the session's ``/mnt/data``.

    Raises:
        TaskFileError: Inputs are listed but the python tool is not enabled, or a file
            is missing.
    """
    files = input_files(task)
    if not files:
        return []
    copy_in = getattr(agent.resources.get("python"), "copy_in", None)
    if copy_in is None:
        raise TaskFileError(
            f"{task.path}: inputs are copied to /mnt/data of the python tool; enable tools.python"
        )
    return [copy_in(session_id, path) for path in files]

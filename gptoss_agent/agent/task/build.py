"""Building what a task describes: its model backend, its tools and its agent.

Everything here takes :class:`~.settings.TaskSettings`; heavy backends and tools are
imported only when a task asks for them.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.approval import ApprovalPolicy, Approver
from gptoss_agent.agent.backends.base import ModelBackend
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.choice import normalise_choice
from gptoss_agent.agent.context.config import CompactionConfig
from gptoss_agent.agent.output import output_spec
from gptoss_agent.agent.task.functions import build_function_tool, load_check
from gptoss_agent.agent.task.load import TaskFileError
from gptoss_agent.agent.task.settings import (
    BrowserSettings,
    ModelChoice,
    ScriptedModel,
    ServerModel,
    TaskSettings,
)
from gptoss_agent.tools.base import Tool
from gptoss_agent.tools.browser.search.base import SearchBackend
from gptoss_agent.tools.coding.toolkit import CodingToolkit
from gptoss_agent.tools.function import FunctionTool
from gptoss_agent.tools.python_tool import PythonTool
from gptoss_agent.tools.registry import ToolRegistry


@dataclass(frozen=True)
class TaskTools:
    """The tools a task enables, and the ones its lifecycle reaches again later."""

    tools: tuple[Tool | FunctionTool, ...] = ()
    python: PythonTool | None = None
    coding: CodingToolkit | None = None


@dataclass(frozen=True)
class TaskAgent:
    """A task's agent with its tools, settings and success check: what the lifecycle runs."""

    settings: TaskSettings
    agent: Agent
    tools: TaskTools = field(default_factory=TaskTools)
    check: Callable[..., Any] | None = None

    async def aclose(self, close_backend: bool = True) -> None:
        """Close the tools, a separate summariser and (unless shared) the backend."""
        summariser = self.agent.compaction.summariser
        try:
            await self.agent.aclose()
        finally:
            try:
                if summariser is not None and summariser is not self.agent.model:
                    await summariser.aclose()
            finally:
                if close_backend:
                    await self.agent.model.aclose()


def build_backend(model: ModelChoice) -> ModelBackend:
    """The model backend ``model`` describes (loads an in-process checkpoint; blocking).

    Raises:
        TaskFileError: ``api_key_env`` names an unset variable, or the server kind is
            unknown.
    """
    if isinstance(model, ScriptedModel):
        return ScriptedBackend(list(model.completions))
    if isinstance(model, ServerModel):
        return _server_backend(model)
    from gptoss_agent.agent.backends import TransformersBackend, TransformersBackendConfig

    return TransformersBackend.load(TransformersBackendConfig(
        model=str(model.path), device=model.device, dtype=model.dtype))  # type: ignore[arg-type]


def _server_backend(model: ServerModel) -> ModelBackend:
    from gptoss_agent.agent.backends import ServerBackend, server_config

    key = None
    if model.api_key_env:
        key = os.environ.get(model.api_key_env)
        if not key:
            raise TaskFileError(f"model.api_key_env names {model.api_key_env!r}, which is not set")
    try:
        return ServerBackend(server_config(model.server, model.url, model=model.model_name,
                                           api_key=key, constrain=model.constrain))
    except ValueError as exc:
        raise TaskFileError(f"model.server: {exc}") from exc


def build_tools(settings: TaskSettings) -> TaskTools:
    """Every tool the task enables (the sandbox and browser start on first use)."""
    tools: list[Tool | FunctionTool] = []
    python = coding = None
    if settings.python is not None:
        python = PythonTool(settings.python.sandbox, data_dir=settings.python.data_dir)
        tools.append(python)
    if settings.coding is not None and python is not None:
        coding = CodingToolkit(python, settings.coding.project,
                               shell_timeout_s=settings.coding.shell_timeout_s,
                               mounted=settings.coding.mount_project)
        tools.extend(coding.tools())
    if settings.browser is not None:
        tools.append(_browser_tool(settings.browser))
    tools.extend(build_function_tool(settings.base_dir, entry) for entry in settings.functions)
    if settings.mcp:
        from gptoss_agent.tools.mcp import MCPServer

        tools.extend(MCPServer(config) for config in settings.mcp)
    return TaskTools(tuple(tools), python, coding)


def _browser_tool(settings: BrowserSettings) -> Tool:
    from gptoss_agent.tools.browser import BrowserTool
    from gptoss_agent.tools.browser.search import (
        BraveSearchBackend,
        LocalCorpusBackend,
        SearxngBackend,
    )

    search: SearchBackend | None = None
    spec = settings.search
    if spec is not None and spec.backend == "local":
        if spec.corpus is None:
            raise TaskFileError("tools.browser.search: the local backend needs `corpus`")
        search = LocalCorpusBackend(spec.corpus)
    elif spec is not None and spec.backend == "searxng":
        if not spec.url:
            raise TaskFileError("tools.browser.search: the searxng backend needs `url`")
        search = SearxngBackend(spec.url)
    elif spec is not None:
        search = BraveSearchBackend()
        if spec.url:
            search = dataclasses.replace(search, endpoint=spec.url)
        if spec.api_key_env:
            search = dataclasses.replace(search, api_key_env=spec.api_key_env)
    return BrowserTool(search, settings.config)


def _check_choices(settings: TaskSettings, registry: ToolRegistry) -> None:
    """The tool choice and output schema, checked before a model is loaded."""
    try:
        normalise_choice(settings.tool_choice, registry)
    except ValueError as exc:
        raise TaskFileError(f"tool_choice: {exc}") from exc
    if settings.output_schema is not None:
        try:
            output_spec(settings.output_schema)
        except (TypeError, ValueError, jsonschema.SchemaError) as exc:
            message = exc.message if isinstance(exc, jsonschema.SchemaError) else str(exc)
            raise TaskFileError(f"output_schema: not a valid JSON schema: {message}") from exc


def build_agent(settings: TaskSettings, backend: ModelBackend | None = None,
                approver: Approver | None = None) -> TaskAgent:
    """The agent a task describes.

    Args:
        settings: The task.
        backend: A backend to use instead of building the task's own (a shared one in
            a batch, or a test's).
        approver: Who answers for the calls the task's ``approval`` lists.
    """
    where = str(settings.path)
    try:  # everything that can be wrong in the task, before a model is loaded
        check = load_check(settings.base_dir, settings.check) if settings.check else None
        tools = build_tools(settings)
        _check_choices(settings, ToolRegistry(tools.tools))
    except TaskFileError as exc:
        if str(exc).startswith(where):
            raise
        raise TaskFileError(f"{where}: {exc}") from exc
    agent = Agent(
        backend or build_backend(settings.model),
        tools.tools,
        instructions=settings.instructions,
        reasoning_effort=settings.reasoning_effort,
        sampling=settings.sampling,
        limits=settings.limits,
        analysis_policy=settings.analysis_policy,
        conversation_start_date=settings.conversation_start_date,
        approval=ApprovalPolicy.of(settings.approval, approver),
        output_type=settings.output_schema,
        tool_choice=settings.tool_choice,
        strict=settings.strict,
        context_window=settings.context_window,
        compaction=_compaction(settings),
    )
    return TaskAgent(settings, agent, tools, check)


def _compaction(settings: TaskSettings) -> CompactionConfig | None:
    """The task's compaction config, with its summariser's backend built."""
    section = settings.compaction
    if section is None:
        return None
    if section.summariser is None:
        return section.config
    return dataclasses.replace(section.config, summariser=build_backend(section.summariser))

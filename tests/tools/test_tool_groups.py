"""Tool groups: their own namespace, or inside ``functions`` with a prefix; collisions are
reported; calls reach the group under its own names either way."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from gptoss_agent.tools.base import (
    FunctionSpec,
    NamespaceSpec,
    ToolCall,
    ToolContext,
    ToolGroup,
    ToolResult,
)
from gptoss_agent.tools.errors import ToolRegistrationError
from gptoss_agent.tools.function import function_tool
from gptoss_agent.tools.registry import Resolution, ToolRegistry, Unresolved

SCHEMA: Mapping[str, Any] = {"type": "object", "properties": {"path": {"type": "string"}}}


def echo(path: str) -> str:
    """Echo ``path``."""
    return path


class Group:
    """A group of two functions that echoes what it was called with."""

    def __init__(self, name: str, prefixed: bool) -> None:
        self.name, self.prefixed = name, prefixed
        self.calls: list[ToolCall] = []

    @property
    def spec(self) -> NamespaceSpec:
        return NamespaceSpec(self.name, f"The {self.name} tools.", (
            FunctionSpec("status", "Show the status.", SCHEMA),
            FunctionSpec("log", "Show the log.", None)))

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        self.calls.append(call)
        return ToolResult(text=f"{call.namespace}.{call.name}")

    async def aclose(self) -> None:
        return None


def test_a_prefixed_group_lives_inside_functions() -> None:
    git = Group("git", prefixed=True)
    assert isinstance(git, ToolGroup)
    registry = ToolRegistry([git])
    assert registry.available() == ("functions.git_status", "functions.git_log")
    [functions] = registry.developer_specs
    assert functions.name == "functions"
    assert [f.name for f in functions.functions] == ["git_status", "git_log"]
    resolved = registry.resolve("functions.git_status")
    assert isinstance(resolved, Resolution)
    assert (resolved.tool, resolved.namespace, resolved.name) == (git, "git", "status")


def test_a_namespaced_group_is_its_own_namespace() -> None:
    time = Group("time", prefixed=False)
    registry = ToolRegistry([time, function_tool(echo)])
    assert [spec.name for spec in registry.developer_specs] == ["functions", "time"]
    assert "time.status" in registry.available()
    resolved = registry.resolve("time.log")
    assert isinstance(resolved, Resolution) and resolved.name == "log"
    assert isinstance(registry.resolve("functions.time_log"), Unresolved)


def test_collisions_are_reported_at_start() -> None:
    clash = function_tool(echo, name="git_status")
    with pytest.raises(ToolRegistrationError, match="functions.git_status would name two"):
        ToolRegistry([Group("git", prefixed=True), clash]).check_names()

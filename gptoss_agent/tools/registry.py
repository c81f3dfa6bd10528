"""The registry of an agent's tools: which namespaces exist and who answers a recipient.

It accepts tool namespaces (python, browser, any ``Tool``), :class:`FunctionTool` values
and plain typed callables (wrapped with :func:`function_tool`), rejects duplicates, and
resolves the recipient the model wrote (``functions.get_weather``, ``browser.open``,
``python``) to a tool, or to a message for the model saying why it cannot and what is
available (an unknown name, a built-in tool that is not enabled, a missing namespace).

A :class:`~.base.ToolGroup` (an MCP server, a user's own list) is its own namespace
(``git.status``) or, when ``prefixed``, part of ``functions`` as ``git_status``; either way
its calls reach the group under its own namespace and function names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gptoss_agent.tools.base import FunctionSpec, NamespaceSpec, Tool, ToolGroup
from gptoss_agent.tools.errors import ToolRegistrationError
from gptoss_agent.tools.function import FunctionTool, function_tool
from gptoss_agent.tools.function_toolset import FUNCTIONS_NAMESPACE, FunctionToolset

BUILTIN_NAMESPACES: dict[str, str] = {
    "python": "the python tool (code execution)",
    "browser": "the browser tool (search, open, find)",
}
_BUILTIN_ORDER = ("browser", "python")


@dataclass(frozen=True)
class Resolution:
    """A recipient resolved to the tool that answers it.

    Attributes:
        tool: The namespace's tool.
        namespace: The namespace name.
        name: The function inside the namespace (``None`` for freeform tools).
    """

    tool: Tool
    namespace: str
    name: str | None


@dataclass(frozen=True)
class Unresolved:
    """Why a recipient cannot be called.

    Attributes:
        kind: ``unknown_tool`` or ``tool_not_enabled``.
        message: The text the model reads.
    """

    kind: str
    message: str


ToolLike = Tool | FunctionTool | Callable[..., Any]


class ToolRegistry:
    """The tools of one agent.

    Args:
        tools: Namespaces, function tools and typed callables.

    Raises:
        ToolRegistrationError: Duplicate namespaces or function names, or an object
            that is not a tool.
    """

    def __init__(self, tools: Iterable[ToolLike] = ()) -> None:
        self.functions = FunctionToolset()
        self._namespaces: dict[str, Tool] = {}
        for item in tools:
            self.add(item)

    def add(self, item: ToolLike) -> None:
        """Register a namespace, a function tool or a typed callable."""
        if isinstance(item, FunctionTool):
            self.functions.add(item)
            return
        if isinstance(item, Tool):
            name = item.spec.name
            if name == FUNCTIONS_NAMESPACE:
                raise ToolRegistrationError(
                    "the 'functions' namespace is reserved for function tools"
                )
            if name in self._namespaces:
                raise ToolRegistrationError(f"a tool namespace {name!r} is already registered")
            self._namespaces[name] = item
            return
        if callable(item):
            self.functions.add(function_tool(item))
            return
        raise ToolRegistrationError(f"{item!r} is not a tool, a FunctionTool or a function")

    def _prefixed(self) -> dict[str, tuple[Tool, FunctionSpec]]:
        """The functions of prefixed groups, by their name inside ``functions``.

        Raises:
            ToolRegistrationError: Two functions would have the same name.
        """
        found: dict[str, tuple[Tool, FunctionSpec]] = {}
        for tool in self._namespaces.values():
            if not (isinstance(tool, ToolGroup) and tool.prefixed):
                continue
            for function in tool.spec.functions:
                shown = f"{tool.spec.name}_{function.name}"
                if shown in found or shown in self.functions:
                    raise ToolRegistrationError(
                        f"functions.{shown} would name two tools ({tool.spec.name}'s "
                        f"{function.name} and another); rename one, or show "
                        f"{tool.spec.name} as its own namespace")
                found[shown] = (tool, function)
        return found

    def check_names(self) -> None:
        """Report name collisions across groups now (they are also found when rendering).

        Raises:
            ToolRegistrationError: Two functions would have the same name.
        """
        self._prefixed()

    def _functions_spec(self) -> NamespaceSpec | None:
        """``functions``: the developer's function tools, then the prefixed groups'."""
        prefixed = self._prefixed()
        if not len(self.functions) and not prefixed:
            return None
        renamed = tuple(FunctionSpec(name, function.description, function.parameters,
                                     function.strict)
                        for name, (_, function) in prefixed.items())
        spec = self.functions.spec
        return NamespaceSpec(spec.name, spec.description, (*spec.functions, *renamed))

    @staticmethod
    def _shown_alone(tool: Tool) -> bool:
        return not (isinstance(tool, ToolGroup) and tool.prefixed)

    @property
    def builtin_specs(self) -> tuple[NamespaceSpec, ...]:
        """Namespaces rendered in the system message (browser, then python, then others)."""
        specs = [tool.spec for tool in self._namespaces.values() if tool.spec.builtin]
        order = {name: index for index, name in enumerate(_BUILTIN_ORDER)}
        return tuple(sorted(specs, key=lambda spec: order.get(spec.name, len(order))))

    @property
    def developer_specs(self) -> tuple[NamespaceSpec, ...]:
        """Namespaces rendered in the developer message (functions first)."""
        functions = self._functions_spec()
        specs = [functions] if functions is not None else []
        specs.extend(tool.spec for tool in self._namespaces.values()
                     if not tool.spec.builtin and self._shown_alone(tool))
        return tuple(specs)

    @property
    def tools(self) -> tuple[Tool, ...]:
        """Every namespace tool (function tools excluded)."""
        return tuple(self._namespaces.values())

    def available(self) -> tuple[str, ...]:
        """Every recipient the model may address."""
        names: list[str] = [f"{FUNCTIONS_NAMESPACE}.{name}" for name in self.functions.names]
        names.extend(f"{FUNCTIONS_NAMESPACE}.{name}" for name in self._prefixed())
        for namespace, tool in self._namespaces.items():
            if not self._shown_alone(tool):
                continue
            spec = tool.spec
            if spec.is_freeform:
                names.append(namespace)
            else:
                names.extend(f"{namespace}.{function.name}" for function in spec.functions)
        return tuple(names)

    def resolve(self, recipient: str) -> Resolution | Unresolved:
        """Find the tool that answers ``recipient``."""
        namespace, _, name = recipient.partition(".")
        available = ", ".join(self.available()) or "no tools"
        if namespace == FUNCTIONS_NAMESPACE:
            if name in self.functions:
                return Resolution(self.functions, namespace, name)
            grouped = self._prefixed().get(name)
            if grouped is not None:
                return Resolution(grouped[0], grouped[0].spec.name, grouped[1].name)
            if len(self.functions) or self._prefixed():
                return self._unknown(recipient, available)
        tool = self._namespaces.get(namespace)
        if tool is not None:
            spec = tool.spec
            if spec.is_freeform:
                if name:
                    return Unresolved(
                        "unknown_tool",
                        f"{namespace} takes the whole message as its input; address it as "
                        f"to={namespace}, not to={recipient}. Available tools: {available}",
                    )
                return Resolution(tool, namespace, None)
            if spec.function(name) is not None:
                return Resolution(tool, namespace, name)
            return self._unknown(recipient, available)
        if namespace in BUILTIN_NAMESPACES:
            return Unresolved(
                "tool_not_enabled",
                f"{BUILTIN_NAMESPACES[namespace]} is not enabled in this session, so "
                f"{recipient} cannot be called. Available tools: {available}",
            )
        if not name and recipient in self.functions:
            return Unresolved(
                "unknown_tool",
                f"there is no tool named {recipient!r}; did you mean "
                f"functions.{recipient}? Available tools: {available}",
            )
        return self._unknown(recipient, available)

    @staticmethod
    def _unknown(recipient: str, available: str) -> Unresolved:
        return Unresolved(
            "unknown_tool",
            f"there is no tool named {recipient!r}. Available tools: {available}",
        )

    async def aclose(self) -> None:
        """Close every namespace tool."""
        for tool in self._namespaces.values():
            await tool.aclose()

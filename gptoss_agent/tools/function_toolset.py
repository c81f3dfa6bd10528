"""The ``functions`` namespace: the developer's function tools gathered into one Tool."""

from __future__ import annotations

from collections.abc import Iterable

from gptoss_agent.tools.base import NamespaceSpec, ToolCall, ToolContext, ToolResult
from gptoss_agent.tools.errors import ToolRegistrationError
from gptoss_agent.tools.function import FunctionTool

FUNCTIONS_NAMESPACE = "functions"


class FunctionToolset:
    """All function tools of an agent, addressed as ``functions.<name>``.

    Raises:
        ToolRegistrationError: Two tools share a name.
    """

    def __init__(self, tools: Iterable[FunctionTool] = ()) -> None:
        self._tools: dict[str, FunctionTool] = {}
        for tool in tools:
            self.add(tool)

    def add(self, tool: FunctionTool) -> None:
        """Register one more function; duplicate names are rejected."""
        if tool.name in self._tools:
            raise ToolRegistrationError(
                f"a function tool named {tool.name!r} is already registered"
            )
        self._tools[tool.name] = tool

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def get(self, name: str) -> FunctionTool | None:
        """The function tool called ``name``, if there is one."""
        return self._tools.get(name)

    def is_idempotent(self, name: str | None) -> bool:
        """Whether ``functions.<name>`` was declared safe to call twice."""
        tool = self._tools.get(name or "")
        return tool is not None and tool.idempotent

    @property
    def names(self) -> tuple[str, ...]:
        """The registered function names, in registration order."""
        return tuple(self._tools)

    @property
    def spec(self) -> NamespaceSpec:
        """The ``functions`` namespace as the developer message shows it."""
        return NamespaceSpec(
            name=FUNCTIONS_NAMESPACE,
            description="",
            functions=tuple(tool.spec for tool in self._tools.values()),
            builtin=False,
        )

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        """Run ``functions.<call.name>`` with the model's arguments."""
        tool = self._tools.get(call.name or "")
        if tool is None:
            available = ", ".join(f"functions.{name}" for name in self._tools) or "none"
            return ToolResult.error(
                f"Error: there is no function named {call.name!r}. Available: {available}",
                kind="unknown_tool",
            )
        return await tool.invoke(call.arguments, context)

    async def aclose(self) -> None:
        """Function tools hold nothing."""

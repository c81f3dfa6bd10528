"""What the model can call: the tool protocol, the registry, function tools, python, browser."""

from gptoss_agent.tools.base import (
    FunctionSpec,
    NamespaceSpec,
    StatefulTool,
    Tool,
    ToolCall,
    ToolContext,
    ToolResult,
)

__all__ = [
    "FunctionSpec",
    "NamespaceSpec",
    "StatefulTool",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolResult",
]

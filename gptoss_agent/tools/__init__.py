"""What the model can call: the tool protocol, the registry, function tools, python, browser.

:mod:`.base` holds the seam (values and protocols), :mod:`.registry` who answers a
recipient, :mod:`.function` developer function tools, :mod:`.python_tool` the sandboxed
``python`` tool, :mod:`.browser` the ``browser`` tool and :mod:`.coding` the coding tools.
The heavy ones are loaded on first use.
"""

from gptoss_agent._lazy import lazy_exports
from gptoss_agent.tools.base import (
    FinalReviewer,
    FunctionSpec,
    NamespaceSpec,
    OutputKeeper,
    SelfPagingTool,
    SessionScopedTool,
    StatefulTool,
    Tool,
    ToolCall,
    ToolContext,
    ToolGroup,
    ToolResult,
)
from gptoss_agent.tools.errors import ToolError, ToolRegistrationError, ToolUnavailableError
from gptoss_agent.tools.rerun import RerunnableTool

_WHERE = {
    "FunctionTool": "gptoss_agent.tools.function",
    "function_tool": "gptoss_agent.tools.function",
    "ToolRegistry": "gptoss_agent.tools.registry",
    "PythonTool": "gptoss_agent.tools.python_tool",
    "BrowserTool": "gptoss_agent.tools.browser",
    "CodingToolkit": "gptoss_agent.tools.coding",
    "MCPServer": "gptoss_agent.tools.mcp",
    "MCPServerConfig": "gptoss_agent.tools.mcp",
    "ToolOutputStore": "gptoss_agent.tools.output_pages",
}

__all__ = [
    "BrowserTool",
    "CodingToolkit",
    "FinalReviewer",
    "FunctionSpec",
    "FunctionTool",
    "MCPServer",
    "MCPServerConfig",
    "NamespaceSpec",
    "OutputKeeper",
    "PythonTool",
    "RerunnableTool",
    "SelfPagingTool",
    "SessionScopedTool",
    "StatefulTool",
    "Tool",
    "ToolCall",
    "ToolContext",
    "ToolError",
    "ToolGroup",
    "ToolOutputStore",
    "ToolRegistrationError",
    "ToolRegistry",
    "ToolResult",
    "ToolUnavailableError",
    "function_tool",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

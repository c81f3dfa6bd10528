"""The MCP client's one error: a server that cannot be used at all.

Everything else that goes wrong in a call (a timeout, a crash the restart recovered
from, an ``isError`` result, bad arguments) is a tool message for the model.
"""

from __future__ import annotations

from gptoss_agent.tools.errors import ToolUnavailableError


class MCPServerError(ToolUnavailableError):
    """An MCP server could not be started or reached, or failed again after its restart."""

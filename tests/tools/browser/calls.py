"""Calling the browser tool the way the agent loop does."""

from __future__ import annotations

import json
import uuid

from gptoss_agent.tools.base import ToolCall, ToolContext, ToolResult
from gptoss_agent.tools.browser import BrowserTool


async def call(tool: BrowserTool, context: ToolContext, name: str, **args: object) -> ToolResult:
    """Call ``browser.<name>`` with ``args`` written as JSON, as the model would."""
    return await call_raw(tool, context, name, json.dumps(args))


async def call_raw(tool: BrowserTool, context: ToolContext, name: str, raw: str) -> ToolResult:
    """Call ``browser.<name>`` with the argument text exactly as given."""
    return await tool.call(
        ToolCall(call_id=uuid.uuid4().hex, namespace="browser", name=name, arguments=raw),
        context,
    )

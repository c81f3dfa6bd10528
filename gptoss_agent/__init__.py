"""gptoss-agent: a Harmony-native agent framework for OpenAI's open-weight gpt-oss models.

The public face. Everything a user embeds is importable from here::

    from gptoss_agent import Agent, function_tool, PythonTool, TransformersBackend

Names are loaded on first use, so ``import gptoss_agent`` stays cheap: torch,
transformers, Docker's client and Playwright are imported only by what needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gptoss_agent._lazy import lazy_exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from gptoss_agent.agent.agent import Agent, AgentSession
    from gptoss_agent.agent.approval import ApprovalPolicy
    from gptoss_agent.agent.backends import ServerBackend, TransformersBackend
    from gptoss_agent.agent.backends.base import ModelBackend, SamplingParams
    from gptoss_agent.agent.backends.errors import BackendError
    from gptoss_agent.agent.backends.scripted import ScriptedBackend
    from gptoss_agent.agent.context import CompactionConfig
    from gptoss_agent.agent.errors import AgentError
    from gptoss_agent.agent.events import (
        ContextCompacted,
        Event,
        FinalAnswer,
        IncidentRaised,
        MessageRecorded,
        Preamble,
        PreambleDelta,
        ReasoningDelta,
        RunFinished,
        TextDelta,
        ToolCallFinished,
        ToolCallStarted,
        UsageUpdated,
    )
    from gptoss_agent.agent.harmony.conversation import AnalysisPolicy
    from gptoss_agent.agent.limits import LoopLimits
    from gptoss_agent.agent.result import ChatMessage, Incident, RunResult, StopReason, Usage
    from gptoss_agent.sandbox.errors import SandboxError
    from gptoss_agent.tools.browser import BrowserTool
    from gptoss_agent.tools.errors import ToolError
    from gptoss_agent.tools.function import FunctionTool, function_tool
    from gptoss_agent.tools.mcp import MCPServer, MCPServerConfig
    from gptoss_agent.tools.python_tool import PythonTool

_EVENTS = ("ContextCompacted", "Event", "FinalAnswer", "IncidentRaised", "MessageRecorded",
           "Preamble", "PreambleDelta", "ReasoningDelta", "RunFinished", "TextDelta",
           "ToolCallFinished", "ToolCallStarted", "UsageUpdated")

_LAZY: dict[str, str] = {
    "Agent": "gptoss_agent.agent.agent",
    "AgentSession": "gptoss_agent.agent.agent",
    "ApprovalPolicy": "gptoss_agent.agent.approval",
    "AnalysisPolicy": "gptoss_agent.agent.harmony.conversation",
    "CompactionConfig": "gptoss_agent.agent.context",
    "LoopLimits": "gptoss_agent.agent.limits",
    "ModelBackend": "gptoss_agent.agent.backends.base",
    "SamplingParams": "gptoss_agent.agent.backends.base",
    "ScriptedBackend": "gptoss_agent.agent.backends.scripted",
    "TransformersBackend": "gptoss_agent.agent.backends",
    "ServerBackend": "gptoss_agent.agent.backends",
    "RunResult": "gptoss_agent.agent.result",
    "StopReason": "gptoss_agent.agent.result",
    "ChatMessage": "gptoss_agent.agent.result",
    "Incident": "gptoss_agent.agent.result",
    "Usage": "gptoss_agent.agent.result",
    "FunctionTool": "gptoss_agent.tools.function",
    "function_tool": "gptoss_agent.tools.function",
    "PythonTool": "gptoss_agent.tools.python_tool",
    "BrowserTool": "gptoss_agent.tools.browser",
    "MCPServer": "gptoss_agent.tools.mcp",
    "MCPServerConfig": "gptoss_agent.tools.mcp",
    "AgentError": "gptoss_agent.agent.errors",
    "BackendError": "gptoss_agent.agent.backends.errors",
    "ToolError": "gptoss_agent.tools.errors",
    "SandboxError": "gptoss_agent.sandbox.errors",
    **{name: "gptoss_agent.agent.events" for name in _EVENTS},
}

__all__ = ["Agent", "AgentError", "AgentSession", "AnalysisPolicy", "ApprovalPolicy",
    "BackendError", "BrowserTool", "ChatMessage", "CompactionConfig", "ContextCompacted",
    "Event", "FinalAnswer", "FunctionTool",
    "Incident", "IncidentRaised", "LoopLimits", "MCPServer", "MCPServerConfig",
    "MessageRecorded", "ModelBackend", "Preamble", "PreambleDelta", "PythonTool",
    "ReasoningDelta", "RunFinished", "RunResult", "SamplingParams", "SandboxError",
    "ScriptedBackend", "ServerBackend", "StopReason", "TextDelta", "ToolCallFinished",
    "ToolCallStarted", "ToolError", "TransformersBackend", "Usage", "UsageUpdated",
    "function_tool"]


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

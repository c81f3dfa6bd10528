"""Helpers for loop tests: a scripted agent with a couple of function tools."""

from __future__ import annotations

from collections.abc import Sequence

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.base import SamplingParams
from gptoss_agent.agent.backends.scripted import ScriptedBackend, ScriptedCompletion
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.tools.base import NamespaceSpec, ToolCall, ToolContext, ToolResult
from gptoss_agent.tools.function import function_tool


@function_tool
def add(a: int, b: int) -> int:
    """Add two integers.

    Args:
        a: First addend.
        b: Second addend.
    """
    return a + b


class EchoPython:
    """A freeform builtin standing in for the sandbox: answers with the code's length."""

    def __init__(self) -> None:
        self.calls: list[ToolCall] = []

    @property
    def spec(self) -> NamespaceSpec:
        return NamespaceSpec("python", "Runs Python code (test double).", builtin=True)

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        self.calls.append(call)
        return ToolResult(text=f"ran {len(call.arguments)} chars")

    async def aclose(self) -> None:
        return None


NEXT = "<|start|>assistant"
CALL_ADD = (
    "<|channel|>commentary to=functions.add <|constrain|>json"
    '<|message|>{"a": 2, "b": 3}<|call|>'
)
FINAL = "<|channel|>final<|message|>The sum is 5.<|return|>"


def scripted_agent(
    codec: HarmonyCodec,
    script: Sequence[str | ScriptedCompletion],
    tools: Sequence[object] = (add,),
    *,
    limits: LoopLimits | None = None,
    sampling: SamplingParams | None = None,
    **kwargs: object,
) -> tuple[Agent, ScriptedBackend]:
    backend = ScriptedBackend(script, codec=codec)
    agent = Agent(backend, tools, codec=codec, conversation_start_date="2026-11-28",  # type: ignore[arg-type]
                  limits=limits, sampling=sampling, **kwargs)  # type: ignore[arg-type]
    return agent, backend

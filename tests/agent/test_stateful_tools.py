"""Stateful tools: their per-session state is recorded after every call and handed back
when a session is restored from its transcript."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.transcript import TranscriptWriter, read_records
from gptoss_agent.tools.base import (
    NamespaceSpec,
    StatefulTool,
    ToolCall,
    ToolContext,
    ToolResult,
)


class Counter:
    """A builtin-like freeform tool that counts its calls per session."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    @property
    def spec(self) -> NamespaceSpec:
        return NamespaceSpec("python", "Counts calls (test double).", builtin=True)

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        self.counts[context.session_id] = self.counts.get(context.session_id, 0) + 1
        return ToolResult(text=str(self.counts[context.session_id]))

    async def aclose(self) -> None:
        return None

    def snapshot(self, session_id: str) -> Mapping[str, Any]:
        return {"count": self.counts.get(session_id, 0)}

    def restore(self, session_id: str, state: Mapping[str, Any]) -> None:
        self.counts[session_id] = int(state["count"])


CALL = "<|channel|>analysis to=python code<|message|>1<|call|>"
FINAL = "<|channel|>final<|message|>Counted.<|return|>"


async def test_state_is_recorded_and_restored(codec: HarmonyCodec, tmp_path: Path) -> None:
    counter = Counter()
    assert isinstance(counter, StatefulTool)
    path = tmp_path / "run.jsonl"
    agent = Agent(ScriptedBackend([CALL, CALL, FINAL], codec=codec), [counter], codec=codec,
                  conversation_start_date="")
    async with agent.session("s", transcript=TranscriptWriter(path)) as session:
        await session.send("count twice")
    records = read_records(path)
    states = [r for r in records if r["type"] == "tool_state"]
    assert states == [{"type": "tool_state", "tool": "python", "state": {"count": n}}
                      for n in (1, 2)]  # after each call, so a crash mid-run keeps it

    fresh = Counter()
    again = Agent(ScriptedBackend([CALL, FINAL], codec=codec), [fresh], codec=codec,
                  conversation_start_date="")
    restored = again.restore_session(records)
    assert fresh.counts == {"s": 2}
    result = await restored.send("once more")
    assert [m.text for m in result.new_messages if m.role == "tool"] == ["3"]
    await restored.aclose()

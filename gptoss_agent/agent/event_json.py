"""Events as JSON objects: one per line for ``--json`` output and for transcripts."""

from __future__ import annotations

import dataclasses
from typing import Any

from gptoss_agent.agent.events import (
    Event,
    FinalAnswer,
    IncidentRaised,
    Preamble,
    PreambleDelta,
    ReasoningDelta,
    RunFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
    UsageUpdated,
)
from gptoss_agent.agent.result import RunResult


def result_to_dict(result: RunResult) -> dict[str, Any]:
    """A run result as plain JSON data."""
    return {
        "final_text": result.final_text,
        "stop_reason": result.stop_reason.value,
        "final_content_type": result.final_content_type,
        "usage": result.usage.to_dict(),
        "tool_calls": result.tool_calls,
        "tool_errors": result.tool_errors,
        "incidents": [dataclasses.asdict(incident) for incident in result.incidents],
        "error": result.error,
        "new_messages": [message.to_dict() for message in result.new_messages],
        "extras": result.extras,
    }


def event_to_dict(event: Event) -> dict[str, Any]:
    """One event as ``{"type": ..., ...}``."""
    match event:
        case ReasoningDelta(text=text):
            return {"type": "reasoning_delta", "text": text}
        case TextDelta(text=text):
            return {"type": "text_delta", "text": text}
        case PreambleDelta(text=text):
            return {"type": "preamble_delta", "text": text}
        case Preamble(text=text):
            return {"type": "preamble", "text": text}
        case ToolCallStarted(call=call):
            return {"type": "tool_call", "call_id": call.call_id, "recipient": call.recipient,
                    "channel": call.channel, "arguments": call.arguments}
        case ToolCallFinished(call=call, result=result, seconds=seconds):
            return {"type": "tool_result", "call_id": call.call_id,
                    "recipient": call.recipient, "text": result.text,
                    "is_error": result.is_error, "metadata": dict(result.metadata),
                    "seconds": round(seconds, 4)}
        case IncidentRaised(incident=incident):
            return {"type": "incident", **dataclasses.asdict(incident)}
        case UsageUpdated(usage=usage, generation=generation, tokens_per_second=speed,
                          elapsed_s=elapsed):
            return {"type": "usage", "generation": generation, "usage": usage.to_dict(),
                    "tokens_per_second": round(speed, 2), "elapsed_s": round(elapsed, 3)}
        case FinalAnswer(text=text, content_type=content_type):
            return {"type": "final", "text": text, "content_type": content_type}
        case RunFinished(result=result):
            return {"type": "run_finished", "result": result_to_dict(result)}
    raise TypeError(f"unknown event {event!r}")

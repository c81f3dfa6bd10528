"""Events as JSON objects (one per line for ``--json`` output and transcripts), and back."""

from __future__ import annotations

import dataclasses
from typing import Any

from gptoss_agent.agent.context.compactor import CompactionReport
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
from gptoss_agent.agent.result import ChatMessage, Incident, RunResult, Usage
from gptoss_agent.tools.base import ToolCall, ToolResult


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
        "reviews": dict(result.reviews),
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
        case MessageRecorded(message=message):
            return {"type": "message", **message.to_dict()}
        case ToolCallStarted(call=call):
            started = {"type": "tool_call", "call_id": call.call_id,
                       "recipient": call.recipient, "channel": call.channel,
                       "arguments": call.arguments}
            return {**started, "address": call.address} if call.address else started
        case ToolCallFinished(call=call, result=result, seconds=seconds):
            return {"type": "tool_result", "call_id": call.call_id,
                    "recipient": call.recipient, "text": result.text,
                    "is_error": result.is_error, "metadata": dict(result.metadata),
                    "seconds": round(seconds, 4)}
    return _step_event_to_dict(event)


def _step_event_to_dict(event: Event) -> dict[str, Any]:
    """The events that come once per step, as JSON data."""
    match event:
        case IncidentRaised(incident=incident):
            return {"type": "incident", **dataclasses.asdict(incident)}
        case UsageUpdated(usage=usage, generation=generation, tokens_per_second=speed,
                          elapsed_s=elapsed):
            return {"type": "usage", "generation": generation, "usage": usage.to_dict(),
                    "tokens_per_second": round(speed, 2), "elapsed_s": round(elapsed, 3)}
        case ContextCompacted(report=report):
            return {"type": "context_compacted", **report.to_dict()}
        case FinalAnswer(text=text, content_type=content_type):
            return {"type": "final", "text": text, "content_type": content_type}
        case RunFinished(result=result):
            return {"type": "run_finished", "result": result_to_dict(result)}
    raise TypeError(f"unknown event {event!r}")


def _usage_from(data: dict[str, Any]) -> Usage:
    known = {f.name for f in dataclasses.fields(Usage)}
    return Usage(**{k: int(v) for k, v in data.items() if k in known})


def event_from_dict(data: dict[str, Any]) -> Event | None:
    """Rebuild a recorded event (for ``show``); ``None`` for kinds not drawn again."""
    kind = data.get("type")
    if kind == "message":
        fields = {f.name for f in dataclasses.fields(ChatMessage)}
        return MessageRecorded(ChatMessage(**{k: v for k, v in data.items() if k in fields}))
    if kind in ("tool_call", "tool_result"):
        namespace, _, name = str(data["recipient"]).partition(".")
        call = ToolCall(call_id=str(data["call_id"]), namespace=namespace, name=name or None,
                        arguments=str(data.get("arguments", "")),
                        channel=str(data.get("channel", "commentary")))
        if kind == "tool_call":
            return ToolCallStarted(call)
        result = ToolResult(text=str(data["text"]), is_error=bool(data["is_error"]),
                            metadata=data.get("metadata") or {})
        return ToolCallFinished(call, result, float(data.get("seconds", 0.0)))
    if kind == "incident":
        return IncidentRaised(Incident(str(data["kind"]), str(data["detail"]),
                                       bool(data["repaired"]), int(data["generation"])))
    if kind == "usage":
        return UsageUpdated(_usage_from(data["usage"]), int(data["generation"]),
                            float(data["tokens_per_second"]), float(data["elapsed_s"]))
    if kind == "context_compacted":
        return ContextCompacted(CompactionReport(
            tuple(str(name) for name in data["strategies"]), int(data["tokens_before"]),
            int(data["tokens_after"]), int(data["first_changed_token"]), int(data["window"])))
    if kind == "final":
        return FinalAnswer(str(data["text"]), data.get("content_type"))
    if kind == "preamble":
        return Preamble(str(data["text"]))
    return None

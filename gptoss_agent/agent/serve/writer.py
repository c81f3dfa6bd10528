"""Turning a run's events into a Responses API response and its stream events.

:class:`ResponseWriter` keeps the response object being built (``output`` items:
``reasoning``, ``message``, ``function_call``, ``code_interpreter_call``,
``web_search_call``) and, for a streaming request, hands each event of the Responses
event sequence to a callback as it happens: ``response.created``,
``response.in_progress``, ``response.output_item.added`` / ``.done``,
``response.content_part.added`` / ``.done``, ``response.output_text.delta`` / ``.done``,
``response.reasoning_text.delta`` / ``.done``, ``response.function_call_arguments.delta``
/ ``.done``, and ``response.completed`` (or ``.incomplete`` / ``.failed``), each with its
``sequence_number``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from gptoss_agent.agent.events import (
    Event,
    FinalAnswer,
    PreambleDelta,
    ReasoningDelta,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from gptoss_agent.agent.result import Usage
from gptoss_agent.agent.serve.chain import ClientCall
from gptoss_agent.tools.base import ToolCall, ToolResult

StreamSink = Callable[[dict[str, Any]], None]


def new_id(prefix: str) -> str:
    """A fresh id such as ``resp_3f2a...``."""
    return f"{prefix}_{uuid.uuid4().hex}"


def usage_object(usage: Usage) -> dict[str, Any]:
    """The Responses API ``usage`` of a run's token counts."""
    return {
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {"cached_tokens": usage.prompt_tokens - usage.prefilled_tokens,
                                 "cache_write_tokens": 0},
        "output_tokens": usage.sampled_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.analysis_tokens},
        "total_tokens": usage.prompt_tokens + usage.sampled_tokens,
    }


class ResponseWriter:
    """Builds one response from the run's events.

    Args:
        model: The model name the response carries.
        fields: The request fields echoed in the response (``instructions``, ``tools``,
            ``previous_response_id``, ...).
        client_names: The client's functions (their calls end the response).
        sink: Receives each stream event, or ``None`` for a plain JSON answer.
        hold_answer: The final answer may be rejected (an output schema, a tool
            choice of ``required`` or a function): its text is sent once accepted, not
            as it is sampled, so a rejected answer never becomes part of the response.
    """

    def __init__(self, model: str, fields: Mapping[str, Any], client_names: frozenset[str],
                 sink: StreamSink | None = None, *, hold_answer: bool = False) -> None:
        self.id = new_id("resp")
        self._hold_answer = hold_answer
        self.output: list[dict[str, Any]] = []
        self._client_names = client_names
        self._sink = sink
        self._sequence = 0
        self._open: dict[str, Any] | None = None
        self._builtin: dict[str, dict[str, Any]] = {}
        self.response: dict[str, Any] = {
            "id": self.id, "object": "response", "created_at": int(time.time()),
            "status": "in_progress", "model": model, "output": self.output,
            "error": None, "incomplete_details": None, "instructions": None,
            "metadata": {}, "parallel_tool_calls": False, "temperature": None,
            "top_p": None, "tool_choice": "auto", "tools": [], "previous_response_id": None,
            "reasoning": {"effort": None, "summary": None},
            "text": {"format": {"type": "text"}}, "usage": None, "store": True,
            **fields,
        }

    def emit(self, kind: str, **fields: Any) -> None:
        """Send one stream event (with the next sequence number)."""
        if self._sink is not None:
            self._sink({"type": kind, "sequence_number": self._sequence, **fields})
            self._sequence += 1

    def start(self) -> None:
        """``response.created`` and ``response.in_progress``."""
        snapshot = {**self.response, "output": []}  # not the list items are added to
        self.emit("response.created", response=snapshot)
        self.emit("response.in_progress", response=dict(snapshot))

    def feed(self, event: Event) -> None:
        """Add what ``event`` means to the response."""
        if isinstance(event, ReasoningDelta):
            self._delta("reasoning", event.text)
        elif isinstance(event, TextDelta):
            if not self._hold_answer:
                self._delta("final_answer", event.text)
        elif isinstance(event, PreambleDelta):
            self._delta("commentary", event.text)
        elif isinstance(event, FinalAnswer):
            self._final(event.text)
        elif isinstance(event, ToolCallStarted):
            self._close()
            if event.call.namespace in ("python", "browser"):
                self._builtin_started(event.call)
        elif isinstance(event, ToolCallFinished) and event.call.call_id in self._builtin:
            self._builtin_finished(event.call, event.result)

    def client_call(self, call: ClientCall) -> None:
        """A ``function_call`` item: the client runs it and answers in the next request."""
        self._close()
        item = {"type": "function_call", "id": new_id("fc"), "call_id": call.call_id,
                "name": call.name, "arguments": "", "status": "in_progress"}
        index = self._add(item)
        self.emit("response.function_call_arguments.delta", item_id=item["id"],
                  output_index=index, delta=call.arguments)
        item.update(arguments=call.arguments, status="completed")
        self.emit("response.function_call_arguments.done", item_id=item["id"],
                  output_index=index, arguments=call.arguments, name=call.name)
        self.emit("response.output_item.done", output_index=index, item=dict(item))

    def finish(self, status: str, usage: Usage | None, *, error: str | None = None,
               incomplete: str | None = None, code: str = "server_error") -> dict[str, Any]:
        """Close the response with ``status``; the final stream event carries it.

        ``error`` and ``code`` describe a failed response (``code`` as OpenAI names it,
        e.g. ``context_length_exceeded``).
        """
        self._close()
        self.response.update(status=status, usage=usage_object(usage) if usage else None)
        if error is not None:
            self.response["error"] = {"code": code, "message": error}
        if incomplete is not None:
            self.response["incomplete_details"] = {"reason": incomplete}
        kind = {"completed": "response.completed", "incomplete": "response.incomplete"}.get(
            status, "response.failed")
        self.emit(kind, response=self.response)
        return self.response

    # ------------------------------------------------------------------ items
    def _add(self, item: dict[str, Any]) -> int:
        self.output.append(item)
        index = len(self.output) - 1
        self.emit("response.output_item.added", output_index=index, item=dict(item))
        return index

    def _delta(self, phase: str, text: str) -> None:
        if self._open is None or self._open["phase"] != phase:
            self._close()
            self._open = self._open_item(phase)
        item, index = self._open["item"], self._open["index"]
        self._open["text"] += text
        kind = ("response.reasoning_text.delta" if phase == "reasoning"
                else "response.output_text.delta")
        extra: dict[str, Any] = {} if phase == "reasoning" else {"logprobs": []}
        self.emit(kind, item_id=item["id"], output_index=index, content_index=0, delta=text,
                  **extra)

    def _open_item(self, phase: str) -> dict[str, Any]:
        if phase == "reasoning":
            item: dict[str, Any] = {"type": "reasoning", "id": new_id("rs"), "summary": [],
                                    "content": [], "status": "in_progress"}
            part: dict[str, Any] = {"type": "reasoning_text", "text": ""}
        else:
            item = {"type": "message", "id": new_id("msg"), "role": "assistant",
                    "status": "in_progress", "content": [], "phase": phase}
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        index = self._add(item)
        self.emit("response.content_part.added", item_id=item["id"], output_index=index,
                  content_index=0, part=dict(part))
        return {"phase": phase, "item": item, "index": index, "part": part, "text": ""}

    def _close(self) -> None:
        """Finish the open reasoning or message item."""
        if self._open is None:
            return
        opened, self._open = self._open, None
        item, index, part, text = opened["item"], opened["index"], opened["part"], opened["text"]
        part["text"] = text
        ids = {"item_id": item["id"], "output_index": index, "content_index": 0}
        if opened["phase"] == "reasoning":
            self.emit("response.reasoning_text.done", text=text, **ids)
        else:
            self.emit("response.output_text.done", text=text, logprobs=[], **ids)
        self.emit("response.content_part.done", part=dict(part), **ids)
        item.update(content=[part], status="completed")
        self.emit("response.output_item.done", output_index=index, item=dict(item))

    def _final(self, text: str) -> None:
        """The accepted answer: the open answer item, or one made now (JSON answers)."""
        opened = self._open
        if opened is not None and opened["phase"] == "final_answer" and opened["text"] == text:
            self._close()
            return
        self._close()
        self._delta("final_answer", text)
        self._close()

    def _builtin_started(self, call: ToolCall) -> None:
        if call.namespace == "python":
            item: dict[str, Any] = {"type": "code_interpreter_call", "id": new_id("ci"),
                                    "code": call.arguments, "container_id": call.namespace,
                                    "outputs": None, "status": "in_progress"}
            event = "response.code_interpreter_call.in_progress"
        else:
            item = {"type": "web_search_call", "id": new_id("ws"), "status": "in_progress",
                    "action": _browser_action(call)}
            event = "response.web_search_call.in_progress"
        index = self._add(item)
        self.emit(event, item_id=item["id"], output_index=index)
        self._builtin[call.call_id] = {"item": item, "index": index}

    def _builtin_finished(self, call: ToolCall, result: ToolResult) -> None:
        entry = self._builtin.pop(call.call_id)
        item, index = entry["item"], entry["index"]
        status = "failed" if result.is_error else "completed"
        if item["type"] == "code_interpreter_call":
            item["outputs"] = [{"type": "logs", "logs": result.text}]
            event = "response.code_interpreter_call.completed"
        else:
            event = "response.web_search_call.completed"
        item["status"] = status
        self.emit(event, item_id=item["id"], output_index=index)
        self.emit("response.output_item.done", output_index=index, item=dict(item))


def _browser_action(call: ToolCall) -> dict[str, Any]:
    """The ``web_search_call`` action of a ``browser.search`` / ``open`` / ``find`` call."""
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError:
        arguments = {}
    if not isinstance(arguments, dict):
        arguments = {}
    if call.name == "search":
        return {"type": "search", "query": str(arguments.get("query", ""))}
    if call.name == "find":
        return {"type": "find_in_page", "pattern": str(arguments.get("pattern", "")),
                "url": str(arguments.get("id", ""))}
    return {"type": "open_page", "url": str(arguments.get("id", "") or "")}

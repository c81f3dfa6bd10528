"""The terminal view of a run, drawn with rich: the only place that prints events.

Reasoning streams dimmed (or hidden), preambles in italics, each tool call and its result
in a panel, the final answer as Markdown, a status line after each generation with
the generation, tokens, tokens per second, elapsed time and how full the context window
is, and a line for each compaction of the history.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

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
from gptoss_agent.agent.result import ChatMessage

_MAX_PANEL_CHARS = 4000


class TerminalView:
    """Renders events on a rich console.

    Args:
        console: Where to draw.
        show_reasoning: Show ``analysis`` text (dimmed).
        replay: Drawing a recorded transcript: messages come whole, not as deltas.
    """

    def __init__(
        self, console: Console, *, show_reasoning: bool = True, replay: bool = False
    ) -> None:
        self.console = console
        self.show_reasoning = show_reasoning
        self.replay = replay
        self._streaming: str | None = None

    def _end_stream(self) -> None:
        if self._streaming is not None:
            self.console.print()
            self._streaming = None

    def _stream(self, kind: str, text: str, style: str) -> None:
        if self._streaming != kind:
            self._end_stream()
            label = {"reasoning": "thinking: ", "preamble": ""}.get(kind, "")
            if label:
                self.console.print(Text(label, style="bold dim"), end="")
            self._streaming = kind
        self.console.print(Text(text, style=style), end="", soft_wrap=True)

    def __call__(self, event: Event) -> None:
        """Draw one event (events without a drawing method draw nothing)."""
        for cls in type(event).__mro__:
            draw = _DRAWERS.get(cls)
            if draw is not None:
                draw(self, event)
                return

    def _reasoning_delta(self, event: ReasoningDelta) -> None:
        if self.show_reasoning:
            self._stream("reasoning", event.text, "dim")

    def _preamble_delta(self, event: PreambleDelta) -> None:
        self._stream("preamble", event.text, "italic cyan")

    def _text_delta(self, event: TextDelta) -> None:
        pass  # the final answer is drawn once, as Markdown

    def _preamble(self, event: Preamble) -> None:
        self._end_stream()

    def _message_recorded(self, event: MessageRecorded) -> None:
        if self.replay:
            self._draw_recorded(event.message)

    def _tool_call_started(self, event: ToolCallStarted) -> None:
        self._end_stream()
        call = event.call
        body = _pretty_arguments(call.arguments, call.namespace)
        self.console.print(Panel(body, title=f"→ {call.recipient}", title_align="left",
                                 border_style="blue"))

    def _tool_call_finished(self, event: ToolCallFinished) -> None:
        result = event.result
        text = result.text
        if len(text) > _MAX_PANEL_CHARS:
            text = text[:_MAX_PANEL_CHARS] + f"\n… ({len(result.text)} characters)"
        style = "red" if result.is_error else "green"
        self.console.print(Panel(Text(text), title=f"← {event.call.recipient}",
                                 subtitle=f"{event.seconds:.2f}s", title_align="left",
                                 subtitle_align="right", border_style=style))

    def _incident_raised(self, event: IncidentRaised) -> None:
        self._end_stream()
        incident = event.incident
        label = "repaired" if incident.repaired else "model error"
        self.console.print(Text(f"⚠ {label}: {incident.kind}: {incident.detail}",
                                style="yellow"))

    def _usage_updated(self, event: UsageUpdated) -> None:
        self._end_stream()
        usage = event.usage
        window = (f" · context {usage.context_tokens:,}/{usage.context_window:,} "
                  f"({usage.context_tokens / usage.context_window:.0%})"
                  if usage.context_window else "")
        self.console.print(Text(
            f"generation {event.generation} · {usage.sampled_tokens} tokens out · "
            f"{usage.prompt_tokens} in · {event.tokens_per_second:.1f} tok/s · "
            f"{event.elapsed_s:.1f}s{window}",
            style="dim"))

    def _context_compacted(self, event: ContextCompacted) -> None:
        self._end_stream()
        report = event.report
        self.console.print(Text(
            f"⟲ compacted ({', '.join(report.strategies)}): {report.tokens_before:,} → "
            f"{report.tokens_after:,} tokens of the {report.window:,}-token window; "
            f"unchanged up to token {report.first_changed_token:,}",
            style="yellow"))

    def _final_answer(self, event: FinalAnswer) -> None:
        self._end_stream()
        text = event.text
        answer: Syntax | Markdown = (
            Syntax(text, "json") if event.content_type == "json" else Markdown(text)
        )
        self.console.print(Panel(answer, title="answer", border_style="bold green"))

    def _run_finished(self, event: RunFinished) -> None:
        self._end_stream()
        result = event.result
        citations = result.reviews.get("citations")
        if citations:
            self._draw_citations(citations["citations"])
        if not result.ok:
            detail = f": {result.error}" if result.error else ""
            self.console.print(Text(f"stopped: {result.stop_reason.value}{detail}",
                                    style="bold red"))

    def _draw_citations(self, items: Any) -> None:
        for item in items:
            ok = item["status"] == "ok"
            where = item["url"] if ok else item["problem"]
            self.console.print(Text(f"{item['marker']} {item['status']}: {where}",
                                    style="dim" if ok else "yellow"))

    def _draw_recorded(self, message: ChatMessage) -> None:
        if message.role == "user":
            self.console.print(Panel(Text(message.text), title="user", title_align="left",
                                     border_style="magenta"))
        elif message.role == "assistant" and message.recipient is None:
            if message.channel == "analysis" and self.show_reasoning:
                self._stream("reasoning", message.text, "dim")
                self._end_stream()
            elif message.channel == "commentary":
                self._stream("preamble", message.text, "italic cyan")
                self._end_stream()


def _pretty_arguments(arguments: str, namespace: str) -> Syntax | Text:
    if namespace == "python":
        return Syntax(arguments, "python")
    try:
        return Syntax(json.dumps(json.loads(arguments), indent=2, ensure_ascii=False), "json")
    except ValueError:
        return Text(arguments)


# Which method draws each event type (looked up along the event's MRO, like ``match``).
_DRAWERS: dict[type, Callable[[TerminalView, Any], None]] = {
    ReasoningDelta: TerminalView._reasoning_delta,
    PreambleDelta: TerminalView._preamble_delta,
    TextDelta: TerminalView._text_delta,
    Preamble: TerminalView._preamble,
    MessageRecorded: TerminalView._message_recorded,
    ToolCallStarted: TerminalView._tool_call_started,
    ToolCallFinished: TerminalView._tool_call_finished,
    IncidentRaised: TerminalView._incident_raised,
    UsageUpdated: TerminalView._usage_updated,
    ContextCompacted: TerminalView._context_compacted,
    FinalAnswer: TerminalView._final_answer,
    RunFinished: TerminalView._run_finished,
}

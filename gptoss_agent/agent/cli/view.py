"""The terminal view of a run, drawn with rich: the only place that prints events.

Reasoning streams dimmed (or hidden), preambles in italics, each tool call and its result
in a panel, the final answer as Markdown, and a status line after each generation with
the turn, tokens, tokens per second and elapsed time.
"""

from __future__ import annotations

import json

from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from gptoss_agent.agent.events import (
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
        """Draw one event."""
        match event:
            case ReasoningDelta(text=text):
                if self.show_reasoning:
                    self._stream("reasoning", text, "dim")
            case PreambleDelta(text=text):
                self._stream("preamble", text, "italic cyan")
            case TextDelta():
                pass  # the final answer is drawn once, as Markdown
            case Preamble():
                self._end_stream()
            case MessageRecorded(message=message):
                if self.replay:
                    self._draw_recorded(message)
            case ToolCallStarted(call=call):
                self._end_stream()
                body = _pretty_arguments(call.arguments, call.namespace)
                self.console.print(Panel(body, title=f"→ {call.recipient}", title_align="left",
                                         border_style="blue"))
            case ToolCallFinished(call=call, result=result, seconds=seconds):
                text = result.text
                if len(text) > _MAX_PANEL_CHARS:
                    text = text[:_MAX_PANEL_CHARS] + f"\n… ({len(result.text)} characters)"
                style = "red" if result.is_error else "green"
                self.console.print(Panel(Text(text), title=f"← {call.recipient}",
                                         subtitle=f"{seconds:.2f}s", title_align="left",
                                         subtitle_align="right", border_style=style))
            case IncidentRaised(incident=incident):
                self._end_stream()
                label = "repaired" if incident.repaired else "model error"
                self.console.print(Text(f"⚠ {label}: {incident.kind}: {incident.detail}",
                                        style="yellow"))
            case UsageUpdated(usage=usage, generation=generation, tokens_per_second=speed,
                              elapsed_s=elapsed):
                self._end_stream()
                self.console.print(Text(
                    f"generation {generation} · {usage.sampled_tokens} tokens out · "
                    f"{usage.prompt_tokens} in · {speed:.1f} tok/s · {elapsed:.1f}s",
                    style="dim"))
            case FinalAnswer(text=text, content_type=content_type):
                self._end_stream()
                answer: Syntax | Markdown = (
                    Syntax(text, "json") if content_type == "json" else Markdown(text)
                )
                self.console.print(Panel(answer, title="answer", border_style="bold green"))
            case RunFinished(result=result):
                self._end_stream()
                citations = result.reviews.get("citations")
                if citations:
                    for item in citations["citations"]:
                        ok = item["status"] == "ok"
                        where = item["url"] if ok else item["problem"]
                        self.console.print(Text(f"{item['marker']} {item['status']}: {where}",
                                                style="dim" if ok else "yellow"))
                if not result.ok:
                    detail = f": {result.error}" if result.error else ""
                    self.console.print(Text(f"stopped: {result.stop_reason.value}{detail}",
                                            style="bold red"))


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

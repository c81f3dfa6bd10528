"""The text of the system and developer messages.

The system message holds the model identity, reasoning effort, dates and the built-in
tool namespaces that are enabled; the developer message the instructions, the function
tools and, for structured output, the ``# Response Formats`` section.

The layout follows what openai-harmony renders (and what gpt-oss was trained on) exactly,
namespaces ordered by name as harmony orders them. Tool parameter schemas go through
:mod:`gptoss_agent.agent.harmony.schema_ts`, which equals harmony's rendering wherever
harmony renders a feature meaningfully and renders ``$ref``, unions and index signatures
that harmony turns into ``any`` (``docs/harmony_rendering.md``). harmony 0.0.8 has no
response-format API; that section follows its format guide.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from gptoss_agent.agent.harmony.schema_text import comment_lines, json_text, text_lines
from gptoss_agent.agent.harmony.schema_ts import render_function
from gptoss_agent.tools.base import NamespaceSpec

ReasoningEffort = Literal["low", "medium", "high"]
REASONING_EFFORTS: tuple[str, ...] = ("low", "medium", "high")
DEFAULT_IDENTITY = "You are ChatGPT, a large language model trained by OpenAI."
DEFAULT_KNOWLEDGE_CUTOFF = "2024-06"
_CHANNELS_LINE = (
    "# Valid channels: analysis, commentary, final. Channel must be included for every message."
)


@dataclass(frozen=True)
class SystemSettings:
    """What the system message says.

    Attributes:
        reasoning_effort: ``low``, ``medium`` or ``high``.
        conversation_start_date: ``YYYY-MM-DD``; ``None`` leaves the line out.
        knowledge_cutoff: The cutoff gpt-oss was trained to state.
        model_identity: The first line of the system message.
    """

    reasoning_effort: ReasoningEffort = "medium"
    conversation_start_date: str | None = None
    knowledge_cutoff: str = DEFAULT_KNOWLEDGE_CUTOFF
    model_identity: str = DEFAULT_IDENTITY

    def __post_init__(self) -> None:
        if self.reasoning_effort not in REASONING_EFFORTS:
            raise ValueError(
                f"reasoning_effort must be one of {', '.join(REASONING_EFFORTS)}, "
                f"got {self.reasoning_effort!r}"
            )
        if self.conversation_start_date is not None:
            try:
                _dt.date.fromisoformat(self.conversation_start_date)
            except ValueError as exc:
                raise ValueError(
                    f"conversation_start_date must be YYYY-MM-DD, "
                    f"got {self.conversation_start_date!r}"
                ) from exc


@dataclass(frozen=True)
class ResponseFormat:
    """A structured-output format: the JSON schema the final answer must follow.

    Rendered at the end of the developer message as harmony's format guide specifies
    (openai-harmony 0.0.8 has no API for it): ``# Response Formats``, ``## {name}``,
    ``// {description}`` when given, then the schema as compact JSON on one line.

    Attributes:
        name: The format's name (as the Responses API names a schema).
        schema: The JSON schema.
        description: What the format is for; ``None`` leaves the comment out.
    """

    name: str
    schema: Mapping[str, Any]
    description: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip() or "\n" in self.name or "\r" in self.name:
            raise ValueError(f"a response format needs a one-line name, got {self.name!r}")
        if not isinstance(self.schema, Mapping):
            raise ValueError(f"a response format's schema must be a mapping, got {self.schema!r}")


def _description_lines(text: str, commented: bool) -> list[str]:
    """A namespace or function description, line by line as harmony writes it."""
    return [f"// {line}" if commented else line for line in text_lines(text)]


def render_namespace(spec: NamespaceSpec) -> str:
    """One ``## name`` section of a ``# Tools`` block (harmony's layout)."""
    if spec.is_freeform:
        return "\n".join([f"## {spec.name}\n", *_description_lines(spec.description, False)])
    lines = [f"## {spec.name}\n", *_description_lines(spec.description, True)]
    lines.append(f"namespace {spec.name} {{\n")
    declared: set[str] = set()
    for function in spec.functions:
        rendered = render_function(function.name, function.parameters)
        for declaration in rendered.declarations:
            if declaration not in declared:  # a type shared by several functions
                declared.add(declaration)
                lines.append(f"{declaration}\n")
        lines.extend(_description_lines(function.description, True))
        lines.append(f"{rendered.signature}\n")
    lines.append(f"}} // namespace {spec.name}")
    return "\n".join(lines)


def _tools_section(specs: Sequence[NamespaceSpec]) -> str:
    """``# Tools`` and the namespaces, ordered by name as harmony orders them."""
    ordered = sorted(specs, key=lambda spec: spec.name)
    return "# Tools\n\n" + "\n\n".join(render_namespace(spec) for spec in ordered)


def system_message_text(
    settings: SystemSettings, builtin_tools: Sequence[NamespaceSpec], has_function_tools: bool
) -> str:
    """The body of the system message."""
    parts = [settings.model_identity, f"Knowledge cutoff: {settings.knowledge_cutoff}"]
    if settings.conversation_start_date:
        parts.append(f"Current date: {settings.conversation_start_date}")
    text = "\n".join(parts) + f"\n\nReasoning: {settings.reasoning_effort}"
    if builtin_tools:
        text += f"\n\n{_tools_section(builtin_tools)}"
    text += f"\n\n{_CHANNELS_LINE}"
    if has_function_tools:
        text += "\nCalls to these tools must go to the commentary channel: 'functions'."
    return text


def render_response_format(response_format: ResponseFormat) -> str:
    """The ``# Response Formats`` section, as harmony's format guide lays it out."""
    lines = ["# Response Formats", "", f"## {response_format.name}", ""]
    if response_format.description is not None:
        lines.extend(comment_lines(response_format.description, ""))
    lines.append(json_text(response_format.schema))
    return "\n".join(lines)


def developer_message_text(
    instructions: str | None,
    function_namespaces: Sequence[NamespaceSpec],
    *,
    response_format: ResponseFormat | None = None,
) -> str | None:
    """The body of the developer message, or ``None`` when there is nothing to say.

    Args:
        instructions: The ``# Instructions`` text.
        function_namespaces: The developer's tool namespaces (those without functions
            are left out).
        response_format: The schema the final answer must follow; its ``# Response
            Formats`` section ends the message.
    """
    blocks: list[str] = []
    if instructions:
        blocks.append(f"# Instructions\n\n{instructions}")
    namespaces = [spec for spec in function_namespaces if spec.functions]
    if namespaces:
        blocks.append(_tools_section(namespaces))
    if response_format is not None:
        blocks.append(render_response_format(response_format))
    return "\n\n".join(blocks) if blocks else None

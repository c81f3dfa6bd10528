"""The text of the system and developer messages.

The system message holds the model identity, reasoning effort, dates and the built-in
tool namespaces that are enabled; the developer message the instructions and function
tools.

The layout follows what openai-harmony renders (and what gpt-oss was trained on) exactly;
the one deliberate difference is that tool parameter schemas go through
:mod:`gptoss_agent.agent.harmony.schema_ts`, which renders ``$ref``, unions and index signatures
that harmony turns into ``any``. Golden tests compare both renderings token by token for
the schemas harmony handles.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

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


def render_namespace(spec: NamespaceSpec) -> str:
    """One ``## name`` section of a ``# Tools`` block."""
    if spec.is_freeform:
        return f"## {spec.name}\n\n{spec.description}"
    lines = [f"## {spec.name}", ""]
    if spec.description:
        lines.extend(f"// {line}".rstrip() for line in spec.description.splitlines())
    lines.extend([f"namespace {spec.name} {{", ""])
    declared: set[str] = set()
    for function in spec.functions:
        rendered = render_function(function.name, function.parameters)
        for declaration in rendered.declarations:
            if declaration not in declared:  # a type shared by several functions
                declared.add(declaration)
                lines.extend([declaration, ""])
        if function.description:
            lines.extend(f"// {line}".rstrip() for line in function.description.splitlines())
        lines.extend([rendered.signature, ""])
    lines.append(f"}} // namespace {spec.name}")
    return "\n".join(lines)


def system_message_text(
    settings: SystemSettings, builtin_tools: Sequence[NamespaceSpec], has_function_tools: bool
) -> str:
    """The body of the system message."""
    parts = [settings.model_identity, f"Knowledge cutoff: {settings.knowledge_cutoff}"]
    if settings.conversation_start_date:
        parts.append(f"Current date: {settings.conversation_start_date}")
    text = "\n".join(parts) + f"\n\nReasoning: {settings.reasoning_effort}"
    if builtin_tools:
        sections = "\n\n".join(render_namespace(spec) for spec in builtin_tools)
        text += f"\n\n# Tools\n\n{sections}"
    text += f"\n\n{_CHANNELS_LINE}"
    if has_function_tools:
        text += "\nCalls to these tools must go to the commentary channel: 'functions'."
    return text


def developer_message_text(
    instructions: str | None, function_namespaces: Sequence[NamespaceSpec]
) -> str | None:
    """The body of the developer message, or ``None`` when there is nothing to say."""
    blocks: list[str] = []
    if instructions:
        blocks.append(f"# Instructions\n\n{instructions}")
    namespaces = [spec for spec in function_namespaces if spec.functions]
    if namespaces:
        sections = "\n\n".join(render_namespace(spec) for spec in namespaces)
        blocks.append(f"# Tools\n\n{sections}")
    return "\n\n".join(blocks) if blocks else None

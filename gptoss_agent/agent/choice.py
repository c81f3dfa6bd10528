"""Which calls a generation may make: the tool choice, strict calls, the constraint.

``tool_choice`` holds until the run's first call: ``required`` or a named recipient make
the model call before it may answer, ``none`` forbids calls. A backend that constrains
decoding enforces it while sampling, through the :class:`DecodingConstraint` built here
(which also carries strict calls' schemas and a structured output's schema); for every
other backend the loop enforces it after the fact, telling the model what it must do
instead (:func:`choice_problem`).
"""

from __future__ import annotations

from collections.abc import Iterator

from gptoss_agent.agent.backends.constraint import (
    TOOL_CHOICES,
    CallTarget,
    DecodingConstraint,
)
from gptoss_agent.agent.output import OutputSpec
from gptoss_agent.tools.registry import ToolRegistry


def normalise_choice(choice: str, registry: ToolRegistry) -> str:
    """``tool_choice`` as the loop uses it: a keyword or a full recipient.

    A bare function name is taken as ``functions.NAME``.

    Raises:
        ValueError: The choice names nothing the agent can call.
    """
    if choice in TOOL_CHOICES:
        if choice == "required" and not registry.available():
            raise ValueError("tool_choice 'required' needs at least one tool")
        return choice
    available = registry.available()
    recipient = choice if choice in available else f"functions.{choice}"
    if recipient not in available:
        raise ValueError(f"tool_choice {choice!r} names no tool of this agent; available: "
                         f"{', '.join(available) or 'none'}")
    return recipient


def effective_choice(choice: str, calls_this_run: int) -> str:
    """The choice for the next generation: it holds until the run's first call."""
    return choice if calls_this_run == 0 else "auto"


def choice_problem(choice: str, answered: bool, recipient: str | None) -> str | None:
    """What the model must be told when a generation broke ``choice``, or ``None``.

    Args:
        choice: The effective tool choice.
        answered: The generation ended in a final answer.
        recipient: The call it made, when it made one.
    """
    if choice == "none" and recipient is not None:
        return ("Tools are not available for this answer (tool_choice is none); answer on "
                "the final channel without calling one.")
    if choice == "required" and answered:
        return "Call one of the tools before answering (tool_choice is required)."
    if choice not in TOOL_CHOICES and recipient != choice and (answered or recipient):
        return f"Call {choice} first (tool_choice names it)."
    return None


def decoding_constraint(registry: ToolRegistry, choice: str, strict: bool,
                        output: OutputSpec | None) -> DecodingConstraint | None:
    """The constraint of the next generation, or ``None`` when nothing asks for one.

    Something asks when a tool choice other than ``auto`` is in force, every call or
    one tool is strict, or the answer has a schema.
    """
    targets = tuple(_targets(registry, strict))
    wanted = (choice != "auto" or output is not None
              or any(target.schema is not None for target in targets))
    if not wanted:
        return None
    return DecodingConstraint(targets, choice, output.schema if output is not None else None)


def _targets(registry: ToolRegistry, strict: bool) -> Iterator[CallTarget]:
    for spec in (*registry.builtin_specs, *registry.developer_specs):
        channels = ("analysis", "commentary") if spec.builtin else ("commentary",)
        if spec.is_freeform:
            yield CallTarget(spec.name, channels, freeform=True)
            continue
        for function in spec.functions:
            schema = function.parameters if (strict or function.strict) else None
            if schema is None and (strict or function.strict):
                schema = {"type": "object", "properties": {}, "additionalProperties": False}
            yield CallTarget(f"{spec.name}.{function.name}", channels, schema)

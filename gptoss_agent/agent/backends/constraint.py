"""What a generation may contain, for backends that constrain decoding.

The loop builds a :class:`DecodingConstraint` from the session's tools, its ``tool_choice``
and its structured output type, and hands it over in the
:class:`~.base.GenerationRequest`. A backend that can constrain decoding (the in-process
transformers backend, with a grammar) makes every sampled completion match it; one that
cannot says so (:attr:`ModelBackend.constrains`, where present) and the loop validates
what comes back as it always does.

The completion a constraint describes is Harmony, as gpt-oss samples it after
``<|start|>assistant``: any number of ``analysis`` messages and ``commentary`` preambles
(``<|channel|>C<|message|>TEXT<|end|>``, each further one opened with
``<|start|>assistant``), then one terminal message: a final answer
(``<|channel|>final<|message|>TEXT<|return|>``, its text JSON matching
:attr:`~DecodingConstraint.final_schema` when there is one, optionally with
``<|constrain|>json``), or a call (``<|channel|>CH to=RECIPIENT [<|constrain|>json]
<|message|>ARGS<|call|>``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

TOOL_CHOICES = ("auto", "required", "none")
"""The tool choices besides naming one recipient."""


@dataclass(frozen=True)
class CallTarget:
    """One recipient the model may call.

    Attributes:
        recipient: What follows ``to=`` (``functions.get_weather``, ``browser.search``,
            ``python``).
        channels: The channels it may be called on (``commentary`` for function tools;
            ``analysis`` and ``commentary`` for the built-in ones).
        schema: The JSON schema the arguments must match when the call is strict;
            ``None`` leaves the arguments unconstrained.
        freeform: The whole message is the input (``python``: code, not JSON).
    """

    recipient: str
    channels: tuple[str, ...] = ("commentary",)
    schema: Mapping[str, Any] | None = None
    freeform: bool = False


@dataclass(frozen=True)
class DecodingConstraint:
    """The shape a generation must have.

    Attributes:
        calls: Every recipient the model may address (nothing else can follow ``to=``:
            a built-in tool that is not enabled cannot be called).
        tool_choice: ``auto`` (reason, call or answer), ``required`` (end in a call),
            ``none`` (no call; end in a final answer) or one recipient of ``calls``
            (end in a call to it).
        final_schema: The JSON schema a final answer must match, or ``None`` for text.
    """

    calls: tuple[CallTarget, ...] = ()
    tool_choice: str = "auto"
    final_schema: Mapping[str, Any] | None = field(default=None)

    def __post_init__(self) -> None:
        known = {call.recipient for call in self.calls}
        if self.tool_choice not in TOOL_CHOICES and self.tool_choice not in known:
            raise ValueError(f"tool_choice must be one of {', '.join(TOOL_CHOICES)} or a "
                             f"callable recipient, got {self.tool_choice!r}")
        if self.tool_choice == "required" and not self.calls:
            raise ValueError("tool_choice 'required' needs at least one tool")

    def target(self, recipient: str) -> CallTarget | None:
        """The call target for ``recipient``, if it may be called."""
        return next((call for call in self.calls if call.recipient == recipient), None)

"""The Harmony grammar of a :class:`~gptoss_agent.agent.backends.constraint.DecodingConstraint`.

:func:`harmony_grammar` writes, as a Lark grammar in llguidance's dialect, exactly the
completions a constraint allows after ``<|start|>assistant`` (see
:mod:`~gptoss_agent.agent.backends.constraint`)::

    %llguidance {"no_forcing": true}
    start: prelude* reply
    prelude: <|channel|> ("analysis" | "commentary") <|message|> TEXT <|end|> <|start|> "assistant"
    reply: final | call_0 | call_1 ...                  (as ``tool_choice`` allows)
    final: <|channel|> "final" <|message|> TEXT <|return|>      (or JSON of final_schema)
    call_0: <|channel|> ("commentary") " to=functions.f" content_type? <|message|> args_0 <|call|>
    args_0: %json {...}                                  (or TEXT: freeform / not strict)
    content_type: " "? <|constrain|> "json" | " json" | " code"

Special tokens are named (``<|channel|>``): llguidance matches them as tokens, never as
text, so free text can never contain one, and the only terminators are ``<|call|>`` and
``<|return|>``. ``tool_choice`` shapes ``reply``: ``none`` keeps ``final`` only,
``required`` the calls only, a recipient its own call only; nothing but the recipients of
``calls`` can follow ``to=``. Analysis messages and commentary preambles stay free text.

``no_forcing`` lets any tokenization of fixed text through (by default llguidance allows
only the canonical one, which a restricted-vocabulary model may not have: it spells
``functions.f`` with the pieces it knows).

JSON schemas are embedded with ``%json`` after two adjustments made for decoding (the text
that comes out still validates against the caller's schema, which the loop checks):
objects that list ``properties`` and say nothing about ``additionalProperties`` are
closed (as in OpenAI's strict mode: the model writes the declared keys only), and
whitespace between JSON tokens is bounded (:data:`JSON_WHITESPACE`), so a model cannot
pad forever. Keywords llguidance does not implement are ignored (``lenient``), not
refused.

The same text is what a server running llguidance takes (vLLM's ``guidance`` backend,
SGLang's ``llguidance`` backend). Nothing here imports llguidance.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, cast

from gptoss_agent.agent.backends.constraint import TOOL_CHOICES, CallTarget, DecodingConstraint
from gptoss_agent.agent.backends.errors import BackendError

JSON_WHITESPACE = r"[\x20\x0A\x0D\x09]{1,20}"
"""What may stand between two JSON tokens: a run of at most 20 whitespace characters
(enough for pretty-printed JSON a few levels deep; unbounded runs let a model pad
forever)."""

_NAME = re.compile(r"[^\s\"\\<>|]+")
"""A channel or recipient: no whitespace (Harmony splits headers on it), quotes or
special-token brackets."""

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions",
                "dependentSchemas")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_ONE = ("additionalProperties", "items", "not", "if", "then", "else", "contains",
               "propertyNames", "unevaluatedProperties", "additionalItems")


class ConstraintError(BackendError):
    """A decoding constraint cannot be honoured.

    Its grammar is invalid (a recipient that cannot be written in a header, a schema
    llguidance rejects), or decoding reached a point where the grammar allows no token
    the model can produce. Raised for that generation only.
    """


def harmony_grammar(constraint: DecodingConstraint) -> str:
    """The Lark grammar (llguidance dialect) of the completions ``constraint`` allows.

    Raises:
        ConstraintError: A channel or recipient cannot be written in a Harmony header.
    """
    targets = _targets(constraint)
    replies = [] if constraint.tool_choice == "required" or _named(constraint) else ["final"]
    replies += [f"call_{index}" for index in range(len(targets))]
    if not replies:
        raise ConstraintError("the constraint allows neither a final answer nor a call")
    lines = [
        '%llguidance {"no_forcing": true}',
        "start: prelude* reply",
        'prelude: <|channel|> ("analysis" | "commentary") <|message|> TEXT <|end|> '
        '<|start|> "assistant"',
        "reply: " + " | ".join(replies),
        _final_rule(constraint.final_schema),
    ]
    for index, target in enumerate(targets):
        lines.extend(_call_rules(index, target))
    lines += [
        'json_type: " "? <|constrain|> "json" | " json"',
        'content_type: json_type | " code"',
        "TEXT: /(?s:.*)/",
    ]
    return "\n".join(lines) + "\n"


def _named(constraint: DecodingConstraint) -> bool:
    """Whether ``tool_choice`` names one recipient."""
    return constraint.tool_choice not in TOOL_CHOICES


def _targets(constraint: DecodingConstraint) -> list[CallTarget]:
    """The calls ``reply`` may end in, as ``tool_choice`` says."""
    if constraint.tool_choice == "none":
        return []
    if _named(constraint):
        named = constraint.target(constraint.tool_choice)
        return [named] if named is not None else []
    return list(constraint.calls)


def _final_rule(schema: Mapping[str, Any] | None) -> str:
    if schema is None:
        return 'final: <|channel|> "final" <|message|> TEXT <|return|>'
    return (f'final: <|channel|> "final" json_type? <|message|> {json_body(schema)} '
            "<|return|>")


def _call_rules(index: int, target: CallTarget) -> list[str]:
    """The rules of a call to ``target``: its header, content type and arguments."""
    channels = " | ".join(_literal(channel) for channel in _checked(target.channels))
    recipient = _literal(" to=" + _checked([target.recipient])[0])
    free = target.freeform or target.schema is None
    arguments = "TEXT" if free else json_body(cast(Mapping[str, Any], target.schema))
    return [
        f"call_{index}: <|channel|> ({channels}) {recipient} content_type? <|message|> "
        f"args_{index} <|call|>",
        f"args_{index}: {arguments}",
    ]


def _checked(names: Sequence[str]) -> list[str]:
    """``names``, each one a word a Harmony header can hold.

    Raises:
        ConstraintError: One is empty, holds whitespace, a quote or ``<``/``>``/``|``.
    """
    if not names:
        raise ConstraintError("a call target needs at least one channel")
    for name in names:
        if not _NAME.fullmatch(name):
            raise ConstraintError(f"{name!r} cannot be written in a Harmony header")
    return list(names)


def _literal(text: str) -> str:
    """``text`` as a Lark string literal."""
    return json.dumps(text, ensure_ascii=False)


def json_body(schema: Mapping[str, Any]) -> str:
    """``%json {...}``: ``schema`` prepared for decoding (see the module docstring)."""
    prepared = dict(closed_schema(schema))
    options = {"whitespace_pattern": JSON_WHITESPACE, "lenient": True}
    given = prepared.get("x-guidance")
    prepared["x-guidance"] = {**options, **(given if isinstance(given, Mapping) else {})}
    return "%json " + json.dumps(prepared, separators=(",", ":"), ensure_ascii=True)


def closed_schema(schema: Any) -> Any:
    """``schema`` with every object that lists ``properties`` closed.

    An object schema with ``properties`` and neither ``additionalProperties`` nor
    ``patternProperties`` gets ``"additionalProperties": false``; subschemas are found by
    keyword (values under ``default``, ``examples`` or ``const`` are data, left alone).
    """
    if not isinstance(schema, Mapping):
        return schema
    result = {key: _closed_keyword(key, value) for key, value in schema.items()}
    if isinstance(schema.get("properties"), Mapping) and "additionalProperties" not in schema \
            and "patternProperties" not in schema:
        result["additionalProperties"] = False
    return result


def _closed_keyword(key: str, value: Any) -> Any:
    """The value of keyword ``key`` with its subschemas closed."""
    if key in _SCHEMA_MAPS and isinstance(value, Mapping):
        return {name: closed_schema(sub) for name, sub in value.items()}
    if key in _SCHEMA_LISTS and isinstance(value, list):
        return [closed_schema(sub) for sub in value]
    if key in _SCHEMA_ONE:
        if isinstance(value, list):  # the old tuple form of ``items``
            return [closed_schema(sub) for sub in value]
        return closed_schema(value)
    return value

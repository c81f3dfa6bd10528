"""What tests and benchmarks of constrained decoding share: random schemas and a checker.

* :func:`random_schema` draws a JSON schema of a tool's arguments (objects with strings,
  integers, enums, arrays and nested objects, some keys required) that a random model
  can finish under a grammar: strings, numbers and arrays are bounded, since a random
  model picks the closing token of an unbounded string about once in a hundred
  thousand draws.
* :func:`last_message` splits a sampled completion into the header, body and stop
  token of its last message; :func:`arguments_valid` says whether a call's arguments
  parse and match a schema (``jsonschema``).

No torch, no llguidance.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gptoss_agent.agent.harmony.codec import HarmonyCodec

_RECIPIENT = re.compile(r"\bto=([^\s<]+)")
_WORDS = ("city", "unit", "count", "name", "mode", "tags", "limit", "query", "level",
          "items", "owner", "flag", "depth", "kind")


def random_schema(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    """A random object schema of two to four properties, some required."""
    names = rng.sample(_WORDS, rng.randint(2, 4))
    properties = {name: _random_value(rng, depth) for name in names}
    required = [name for name in names if rng.random() < 0.6]
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _random_value(rng: random.Random, depth: int) -> dict[str, Any]:
    kind = rng.choice(("string", "integer", "enum", "array", "object", "boolean"))
    if kind == "object":
        return random_schema(rng, depth + 1) if depth < 1 else _random_scalar(rng, "string")
    if kind == "array":
        return {"type": "array", "items": _random_scalar(rng), "maxItems": rng.randint(1, 3)}
    return _random_scalar(rng, kind)


def _random_scalar(rng: random.Random, kind: str | None = None) -> dict[str, Any]:
    kind = kind or rng.choice(("string", "integer", "enum", "boolean"))
    if kind == "string":
        return {"type": "string", "maxLength": rng.randint(1, 12)}
    if kind == "integer":
        low = rng.randint(-50, 50)
        return {"type": "integer", "minimum": low, "maximum": low + rng.randint(0, 500)}
    if kind == "enum":
        return {"enum": rng.sample(["red", "green", "blue", "metric", "imperial", "on", "off"],
                                   rng.randint(1, 3))}
    return {"type": "boolean"}


@dataclass(frozen=True)
class Message:
    """The last message of a completion.

    Attributes:
        header: The text between ``<|channel|>`` and ``<|message|>`` (``commentary
            to=functions.f <|constrain|>json``), or everything before the body when
            there is no ``<|channel|>``.
        body: The message text after ``<|message|>``.
        stop: The token that ended it (``<|call|>``, ``<|return|>``), or ``None`` when
            the completion ran out of budget first.
    """

    header: str
    body: str
    stop: int | None

    @property
    def recipient(self) -> str | None:
        """What follows ``to=`` in the header (up to a space or ``<|constrain|>``)."""
        found = _RECIPIENT.search(self.header)
        return found.group(1) if found else None


def last_message(tokens: Sequence[int], codec: HarmonyCodec,
                 stops: frozenset[int] | None = None) -> Message:
    """The last message of the completion ``tokens`` (sampled after ``<|start|>assistant``)."""
    special = codec.special
    stops = stops if stops is not None else frozenset({special.call, special.return_})
    stop = tokens[-1] if tokens and tokens[-1] in stops else None
    body_end = len(tokens) - (stop is not None)
    start = max((i + 1 for i, token in enumerate(tokens) if token == special.start), default=0)
    message = tokens[start:body_end]
    if special.message in message:
        cut = list(message).index(special.message)
        head, body = message[:cut], message[cut + 1:]
    else:
        head, body = message, []
    if special.channel in head:  # the role before it ("assistant") is not the header
        head = head[list(head).index(special.channel) + 1:]
    return Message(header=codec.decode(list(head)).strip(), body=codec.decode(list(body)),
                   stop=stop)


def arguments_valid(text: str, schema: Mapping[str, Any]) -> bool:
    """Whether ``text`` is JSON that matches ``schema``."""
    import jsonschema

    try:
        value = json.loads(text)
    except ValueError:
        return False
    return not list(jsonschema.Draft202012Validator(schema).iter_errors(value))

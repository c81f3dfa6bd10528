"""Random JSON schemas drawn only from the features openai-harmony renders meaningfully.

Used by the generated comparison in ``test_render_vs_harmony.py``: for every schema made
here, our rendering must equal harmony's token for token. The features: scalar types and
lists of them, string enums, arrays (of scalars, single-value enums, objects, arrays, or
without items), nested objects (with their own description), property-level ``oneOf``
with per-variant comments and defaults, titles, descriptions (also empty, also with
trailing spaces), string examples, defaults of every JSON kind, ``nullable``,
required/optional properties, a root ``oneOf`` and functions without parameters.

What is left out is exactly what ``docs/harmony_rendering.md`` lists as a deliberate
difference (``$ref``, ``anyOf``, ``additionalProperties``, tuples, multi-line property
texts, strings with quotes or backslashes, unions inside arrays, ...).
"""

from __future__ import annotations

import json
import random
import string
from typing import Any

_WORDS = ("city", "unit", "days", "limit", "query", "mode", "tags", "path", "user_id",
          "max-results", "x.y", "Zeta", "a1", "ünï", "名前", "$ref_like", "_private")
_CHARS = string.ascii_letters + string.digits + " .,;:!?()[]{}<>-_+=*&^%$#@~|'`" + "éß世界→"
_SCALAR_TYPES = ("string", "number", "integer", "boolean")


def text(rng: random.Random, *, allow_empty: bool = False) -> str:
    """A one-line string without quotes, backslashes or the word null."""
    while True:
        size = rng.randint(0 if allow_empty else 1, 24)
        value = "".join(rng.choice(_CHARS) for _ in range(size))
        if "null" not in value.lower():
            return value


def _number(rng: random.Random) -> float | int:
    kind = rng.random()
    if kind < 0.4:
        return rng.randint(-1000, 10**12)
    if kind < 0.6:
        return rng.choice([0.0, -0.0, 1.5, 100.0, 1e16, 1e15, 1e-5, 1e-6, 2.5e-7, 1e21, 0.1])
    # At most 15 significant digits and 22 decimal places either way: harmony's JSON
    # parser rounds other numbers (see the docs).
    value = rng.uniform(-1e6, 1e6) * 10 ** rng.randint(-8, 7)
    return float(f"{value:.{rng.randint(1, 15)}g}")


def json_value(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value (strings without quotes or backslashes)."""
    kinds = ["str", "num", "bool", "null"] + (["list", "dict"] if depth < 2 else [])
    kind = rng.choice(kinds)
    if kind == "str":
        return text(rng, allow_empty=True)
    if kind == "num":
        return _number(rng)
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "null":
        return None
    if kind == "list":
        return [json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {text(rng): json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}


def _scalar(rng: random.Random) -> dict[str, Any]:
    kind = rng.random()
    if kind < 0.55:
        return {"type": rng.choice(_SCALAR_TYPES)}
    if kind < 0.8:
        return {"type": "string", "enum": [text(rng) for _ in range(rng.randint(1, 4))]}
    types = rng.sample(["string", "number", "integer", "boolean", "null"], rng.randint(1, 3))
    return {"type": types}


def _items(rng: random.Random, depth: int) -> dict[str, Any]:
    """An array's items: no unions (harmony's ``a | b[]`` misreads; we parenthesise)."""
    kind = rng.random()
    if kind < 0.5:
        return {"type": rng.choice(_SCALAR_TYPES), **_maybe(rng, "description", 0.2)}
    if kind < 0.6:
        return {"type": "string", "enum": [text(rng)]}
    if kind < 0.85 and depth < 3:
        return _object(rng, depth + 1)
    if depth < 3:
        return _array(rng, depth + 1)
    return {"type": "boolean"}


def _array(rng: random.Random, depth: int) -> dict[str, Any]:
    if rng.random() < 0.15:
        return {"type": "array"}
    return {"type": "array", "items": _items(rng, depth)}


def _maybe(rng: random.Random, key: str, chance: float) -> dict[str, Any]:
    if rng.random() >= chance:
        return {}
    return {key: text(rng, allow_empty=True) + rng.choice(["", " ", "  "])}


def _object(rng: random.Random, depth: int) -> dict[str, Any]:
    """A nested object with at least one property (an empty one is ours, see the docs)."""
    schema: dict[str, Any] = {"type": "object", **_maybe(rng, "description", 0.3)}
    schema.update(properties(rng, depth, minimum=1))
    return schema


def _variant(rng: random.Random, depth: int) -> dict[str, Any]:
    variant = _object(rng, depth + 1) if depth < 3 and rng.random() < 0.3 else _scalar(rng)
    variant.update(_maybe(rng, "description", 0.5))
    if rng.random() < 0.3:
        variant["default"] = _default_for(rng, variant)
    if variant.get("type") != "object" and rng.random() < 0.2:
        variant["nullable"] = rng.random() < 0.8
    return variant


def _one_of(rng: random.Random, depth: int) -> dict[str, Any]:
    return {"oneOf": [_variant(rng, depth) for _ in range(rng.randint(1, 4))]}


def _default_for(rng: random.Random, schema: dict[str, Any]) -> Any:
    values = schema.get("enum")
    if values and rng.random() < 0.8:
        return rng.choice(values)  # an enum's string default is printed bare
    return json_value(rng)


def _property(rng: random.Random, depth: int) -> dict[str, Any]:
    kind = rng.random()
    if kind < 0.5:
        prop = _scalar(rng)
    elif kind < 0.65:
        prop = _array(rng, depth)
    elif kind < 0.8 and depth < 3:
        prop = _object(rng, depth)
    elif kind < 0.95:
        prop = _one_of(rng, depth)
    else:
        prop = {"type": "boolean"}
    prop.update(_maybe(rng, "title", 0.2))
    prop.update(_maybe(rng, "description", 0.5))
    if rng.random() < 0.15:
        prop["examples"] = [text(rng, allow_empty=True) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.35:
        prop["default"] = _default_for(rng, prop)
    first = prop["oneOf"][0] if "oneOf" in prop else {}
    if "description" in prop and first.get("description") == prop["description"]:
        del first["description"]  # harmony then drops it (see the docs)
    if "oneOf" not in prop and not _may_mention_null(prop) and rng.random() < 0.2:
        prop["nullable"] = rng.random() < 0.8
    return prop


def _may_mention_null(prop: dict[str, Any]) -> bool:
    """Whether the type text could contain ``null`` (harmony then adds no ``| null``)."""
    shape = {key: value for key, value in prop.items()
             if key not in ("default", "examples", "title", "description")}
    return "null" in json.dumps(shape)


def properties(rng: random.Random, depth: int, minimum: int = 0) -> dict[str, Any]:
    """``properties`` and ``required`` for an object."""
    names = rng.sample(_WORDS, rng.randint(minimum, 5 if depth == 0 else 3))
    props = {name: _property(rng, depth + 1) for name in names}
    schema: dict[str, Any] = {"properties": props}
    if rng.random() < 0.9:
        schema["required"] = [name for name in names if rng.random() < 0.5]
        if rng.random() < 0.1:
            schema["required"].append("not_a_property")
    return schema


def parameters(rng: random.Random) -> dict[str, Any] | None:
    """A function's parameters: usually an object, sometimes none, bare or a ``oneOf``."""
    kind = rng.random()
    if kind < 0.08:
        return None
    if kind < 0.12:
        return {"type": "object", **_maybe(rng, "description", 0.5)}
    if kind < 0.17:
        variants = [_object(rng, 1) for _ in range(rng.randint(1, 3))]
        variants[-1].pop("description", None)  # its comment would swallow ") => any;"
        return {"oneOf": variants}
    schema: dict[str, Any] = {"type": "object", **_maybe(rng, "description", 0.2)}
    schema.update(properties(rng, 0))
    return schema


def description(rng: random.Random) -> str:
    """A function description: one or more lines, maybe blank ones and CRLF endings."""
    lines = [text(rng, allow_empty=True) for _ in range(rng.randint(0, 3))]
    return rng.choice(["\n", "\r\n"]).join(lines) + rng.choice(["", "", "\n"])


def function_name(rng: random.Random) -> str:
    """A function name (an identifier)."""
    first = rng.choice(string.ascii_letters + "_")
    return first + "".join(rng.choice(string.ascii_letters + string.digits + "_")
                           for _ in range(rng.randint(0, 12)))

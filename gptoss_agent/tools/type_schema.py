"""JSON Schema from Python type hints, and JSON values back into those types.

Supported annotations: ``str``, ``int``, ``float``, ``bool``, ``None``, ``Any``,
``list[T]``/``Sequence[T]``, ``set[T]``, ``tuple[A, B]``/``tuple[T, ...]``,
``dict[str, T]``/``Mapping[str, T]``, ``Optional``/``Union``/``X | Y``, ``Literal``,
``Enum`` subclasses, dataclasses and ``TypedDict`` (as ``$defs`` entries referenced by
``$ref``, so recursive types work), and ``Annotated[T, "description"]``.

:func:`coerce` turns validated JSON back into the annotated Python types (dataclass
instances, enum members, tuples), so user functions receive what they declared.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Mapping, MutableMapping, MutableSequence, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Literal, Union, get_args, get_origin

from gptoss_agent.tools.errors import ToolRegistrationError

_PRIMITIVES: dict[Any, dict[str, Any]] = {
    str: {"type": "string"},
    int: {"type": "integer"},
    float: {"type": "number"},
    bool: {"type": "boolean"},
    type(None): {"type": "null"},
}
_SEQUENCES = (list, Sequence, MutableSequence)
_SETS = (set, frozenset, AbstractSet)
_MAPPINGS = (dict, Mapping, MutableMapping)
_WRAPPERS = tuple(
    getattr(typing, name) for name in ("NotRequired", "Required", "ReadOnly")
    if hasattr(typing, name)
)


def _is_typeddict(annotation: Any) -> bool:
    return isinstance(annotation, type) and typing.is_typeddict(annotation)


def _is_union(origin: Any) -> bool:
    return origin is Union or origin is types.UnionType


class SchemaBuilder:
    """Builds schemas for annotations, collecting named types in ``$defs``."""

    def __init__(self) -> None:
        self.defs: dict[str, dict[str, Any]] = {}
        self._building: set[str] = set()
        self._owners: dict[str, type] = {}

    def schema(self, annotation: Any) -> dict[str, Any]:
        """The JSON schema of ``annotation``.

        Raises:
            ToolRegistrationError: The annotation has no JSON equivalent.
        """
        if annotation is Any or annotation is object:
            return {}
        if annotation in _PRIMITIVES:
            return dict(_PRIMITIVES[annotation])
        origin = get_origin(annotation)
        args = get_args(annotation)
        built = self._special_form_schema(origin, args)
        if built is None:
            built = self._container_schema(annotation, origin, args)
        if built is None:
            built = self._named_class_schema(annotation)
        return built

    def _special_form_schema(self, origin: Any, args: tuple[Any, ...]) -> dict[str, Any] | None:
        """Wrappers, ``Annotated``, unions and ``Literal``; ``None`` for anything else."""
        if origin in _WRAPPERS:  # NotRequired[T] and friends inside a TypedDict
            return self.schema(args[0])
        if origin is typing.Annotated:
            schema = self.schema(args[0])
            descriptions = [arg for arg in args[1:] if isinstance(arg, str)]
            if descriptions:
                schema["description"] = " ".join(descriptions)
            return schema
        if _is_union(origin):
            return {"anyOf": [self.schema(arg) for arg in args]}
        if origin is Literal:
            return {"enum": list(args)}
        return None

    def _container_schema(
        self, annotation: Any, origin: Any, args: tuple[Any, ...]
    ) -> dict[str, Any] | None:
        """Sequences, sets, tuples and mappings; ``None`` for anything else."""
        if origin in _SEQUENCES or annotation in (list, Sequence):
            return {"type": "array", "items": self.schema(args[0]) if args else {}}
        if origin in _SETS or annotation in (set, frozenset):
            items = self.schema(args[0]) if args else {}
            return {"type": "array", "items": items, "uniqueItems": True}
        if origin is tuple:
            return self._tuple_schema(args)
        if origin in _MAPPINGS or annotation in (dict, Mapping):
            if args and args[0] is not str:
                raise ToolRegistrationError(f"mapping keys must be str, got {args[0]!r}")
            values = self.schema(args[1]) if args else {}
            return {"type": "object", "additionalProperties": values or True}
        return None

    def _tuple_schema(self, args: tuple[Any, ...]) -> dict[str, Any]:
        """``tuple[T, ...]`` as an array of ``T``, ``tuple[A, B]`` as fixed ``prefixItems``."""
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": self.schema(args[0])}
        prefix = [self.schema(arg) for arg in args]
        return {
            "type": "array",
            "prefixItems": prefix,
            "minItems": len(prefix),
            "maxItems": len(prefix),
        }

    def _named_class_schema(self, annotation: Any) -> dict[str, Any]:
        """Enums, dataclasses and ``TypedDict`` classes, as ``$ref`` into ``$defs``.

        Raises:
            ToolRegistrationError: ``annotation`` is none of them.
        """
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            return self._named(annotation, self._enum_schema)
        if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
            return self._named(annotation, self._dataclass_schema)
        if _is_typeddict(annotation):
            return self._named(annotation, self._typeddict_schema)
        raise ToolRegistrationError(f"cannot express {annotation!r} as JSON Schema")

    def _named(self, cls: type, build: typing.Callable[[type], dict[str, Any]]) -> dict[str, Any]:
        name = self._name_for(cls)
        if name not in self.defs and name not in self._building:
            self._building.add(name)
            try:
                self.defs[name] = build(cls)
            finally:
                self._building.discard(name)
        return {"$ref": f"#/$defs/{name}"}

    def _name_for(self, cls: type) -> str:
        """A ``$defs`` name for ``cls``: its own name, qualified when two classes share it."""
        owner = self._owners.setdefault(cls.__name__, cls)
        if owner is cls:
            return cls.__name__
        qualified = f"{cls.__module__}.{cls.__qualname__}".replace(".", "_")
        self._owners.setdefault(qualified, cls)
        return qualified

    def _enum_schema(self, cls: type) -> dict[str, Any]:
        assert issubclass(cls, enum.Enum)
        schema: dict[str, Any] = {"enum": [member.value for member in cls]}
        if cls.__doc__ and cls.__doc__ != enum.Enum.__doc__:
            schema["description"] = _first_paragraph(cls.__doc__)
        return schema

    def _dataclass_schema(self, cls: type) -> dict[str, Any]:
        hints = typing.get_type_hints(cls, include_extras=True)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for item in dataclasses.fields(cls):
            if not item.init:
                continue
            prop = self.schema(hints[item.name])
            if item.default is not dataclasses.MISSING:
                prop["default"] = jsonable_default(item.default)
            elif item.default_factory is dataclasses.MISSING:
                required.append(item.name)
            properties[item.name] = prop
        return _class_schema(properties, required, cls.__doc__)

    def _typeddict_schema(self, cls: type) -> dict[str, Any]:
        hints = typing.get_type_hints(cls, include_extras=True)
        required_keys: frozenset[str] = getattr(cls, "__required_keys__", frozenset(hints))
        properties = {name: self.schema(hint) for name, hint in hints.items()}
        required = []
        for name, hint in hints.items():
            marker = get_origin(hint)
            # Postponed annotations hide NotRequired from the class: read it from the hint.
            if marker is getattr(typing, "NotRequired", None):
                continue
            if marker is getattr(typing, "Required", None) or name in required_keys:
                required.append(name)
        return _class_schema(properties, required, cls.__doc__)


def object_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """A closed object schema (no properties beyond those listed)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def _class_schema(
    properties: dict[str, Any], required: list[str], doc: str | None
) -> dict[str, Any]:
    schema = object_schema(properties, required)
    if doc and not doc.startswith(("TypedDict(", "Dict(")) and "(" not in doc.split("\n")[0]:
        schema["description"] = _first_paragraph(doc)
    return schema


def _first_paragraph(doc: str) -> str:
    return " ".join(doc.strip().split("\n\n")[0].split())


def jsonable_default(value: Any) -> Any:
    """A Python default as the JSON value the model is shown (enum values, lists)."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | frozenset | set):
        return [jsonable_default(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def coerce(value: Any, annotation: Any) -> Any:
    """Convert a validated JSON value into ``annotation``'s Python type."""
    if annotation is Any or annotation is object or value is None:
        return value
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is typing.Annotated:
        return coerce(value, args[0])
    if _is_union(origin):
        return _coerce_union(value, args)
    converted = _coerce_to_class(value, annotation)
    if converted is not _UNCONVERTED:
        return converted
    if isinstance(value, list):
        return _coerce_list(value, origin, args)
    if isinstance(value, dict) and origin in _MAPPINGS and len(args) == 2:
        return {key: coerce(item, args[1]) for key, item in value.items()}
    return value


_UNCONVERTED: Any = object()  # _coerce_to_class's "not a class it converts to"


def _coerce_union(value: Any, args: tuple[Any, ...]) -> Any:
    """The value as the first union member it converts to, else unchanged."""
    for arg in args:
        if arg is type(None):
            continue
        try:
            return coerce(value, arg)
        except (TypeError, ValueError):
            continue
    return value


def _coerce_to_class(value: Any, annotation: Any) -> Any:
    """``float``, enum, dataclass and ``TypedDict`` conversions; ``_UNCONVERTED`` otherwise.

    Raises:
        TypeError: ``annotation`` is a dataclass and ``value`` is not an object.
    """
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return annotation(value)
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise TypeError(f"expected an object for {annotation.__name__}")
        hints = typing.get_type_hints(annotation, include_extras=True)
        return annotation(**{key: coerce(item, hints[key]) for key, item in value.items()})
    if _is_typeddict(annotation) and isinstance(value, dict):
        hints = typing.get_type_hints(annotation, include_extras=True)
        return {key: coerce(item, hints.get(key, Any)) for key, item in value.items()}
    return _UNCONVERTED


def _coerce_list(value: list[Any], origin: Any, args: tuple[Any, ...]) -> Any:
    """A JSON array as a tuple, a set or a list of the annotated item types."""
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(item, args[0]) for item in value)
        return tuple(coerce(item, arg) for item, arg in zip(value, args, strict=False))
    item_type = args[0] if args else Any
    items = [coerce(item, item_type) for item in value]
    if origin in _SETS:
        return frozenset(items) if origin is frozenset else set(items)
    return items

"""The ``input`` of a Responses request, item by item, in the order the client sent it.

A client that keeps its own history (the OpenAI Agents SDK without
``previous_response_id``, an evaluation harness, an app that stores conversations)
resends every item: text messages, the ``function_call`` items the model made and the
``function_call_output`` items that answered them, ``reasoning`` items and the
``code_interpreter_call`` items of the server's python tool. :func:`parse_input` keeps
all of them, in order, as values the service replays into Harmony
(:mod:`~gptoss_agent.agent.serve.history`). Anything invalid raises
:class:`~gptoss_agent.agent.backends.http.errors.HTTPError` 400 naming the item.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gptoss_agent.agent.backends.http.errors import HTTPError

SKIPPED_ITEMS = frozenset({"item_reference", "web_search_call"})
"""Item types accepted and left out of the replayed history: a reference names an item
this server does not keep apart from its conversation, and a ``web_search_call`` does
not carry what the browser answered, so replaying it would leave a call unanswered."""

_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}\Z")


@dataclass(frozen=True)
class InputMessage:
    """A text message of the input: ``user``, ``assistant``, ``system`` or ``developer``."""

    role: str
    text: str


@dataclass(frozen=True)
class FunctionCallItem:
    """A ``function_call`` the model made earlier, as the client resends it."""

    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class FunctionOutput:
    """A client's ``function_call_output`` item: the result of a call it was asked for."""

    call_id: str
    output: str


@dataclass(frozen=True)
class ReasoningItem:
    """A ``reasoning`` item: the model's earlier chain of thought (its text parts)."""

    text: str


@dataclass(frozen=True)
class PythonCallItem:
    """A ``code_interpreter_call``: code the server's python tool ran, and what it printed."""

    code: str
    output: str


InputItem = InputMessage | FunctionCallItem | FunctionOutput | ReasoningItem | PythonCallItem


def bad_request(message: str, param: str) -> HTTPError:
    """An OpenAI-shaped 400 naming the field at fault."""
    return HTTPError(400, message, param=param)


def parse_input(value: Any) -> tuple[InputItem, ...]:
    """The items of ``input`` (a string is one user message), in order.

    Raises:
        HTTPError: 400 naming the first bad item.
    """
    if isinstance(value, str):
        return (InputMessage("user", value),)
    if not isinstance(value, list) or not value:
        raise bad_request("'input' must be a string or a non-empty list of items", "input")
    items: list[InputItem] = []
    for index, item in enumerate(value):
        where = f"input[{index}]"
        if not isinstance(item, Mapping):
            raise bad_request(f"'{where}' must be an object", where)
        parsed = _item(item, where)
        if parsed is not None:
            items.append(parsed)
    return tuple(items)


def _item(item: Mapping[str, Any], where: str) -> InputItem | None:
    kind = item.get("type", "message")
    if kind == "message":
        return _message(item, where)
    if kind == "function_call_output":
        return FunctionOutput(_string(item, "call_id", where),
                              text_of(item.get("output"), f"{where}.output"))
    if kind == "function_call":
        name = _string(item, "name", where)
        if not _NAME.match(name):
            raise bad_request(f"'{where}.name' must be a function name (letters, digits, "
                              "'_' and '-', at most 64)", f"{where}.name")
        arguments = item.get("arguments", "")
        if not isinstance(arguments, str):
            raise bad_request(f"'{where}.arguments' must be a string of JSON",
                              f"{where}.arguments")
        return FunctionCallItem(_string(item, "call_id", where), name, arguments)
    if kind == "reasoning":
        return _reasoning(item, where)
    if kind == "code_interpreter_call":
        return _python_call(item, where)
    if kind in SKIPPED_ITEMS:
        return None
    raise bad_request(f"'{where}': items of type {kind!r} are not supported",
                      f"{where}.type")


def _string(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise bad_request(f"'{where}.{key}' must be a non-empty string", f"{where}.{key}")
    return value


def _message(item: Mapping[str, Any], where: str) -> InputMessage:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise bad_request(f"'{where}.role' must be user, assistant, system or developer",
                          f"{where}.role")
    return InputMessage(str(role), text_of(item.get("content"), f"{where}.content"))


def _reasoning(item: Mapping[str, Any], where: str) -> ReasoningItem | None:
    """The reasoning's text parts (``content``, else the ``summary``); none: skipped."""
    for key, kinds in (("content", ("reasoning_text", "text")),
                       ("summary", ("summary_text", "text"))):
        parts = item.get(key) or []
        if not isinstance(parts, list):
            raise bad_request(f"'{where}.{key}' must be a list of text parts",
                              f"{where}.{key}")
        texts = [part["text"] for part in parts if isinstance(part, Mapping)
                 and part.get("type") in kinds and isinstance(part.get("text"), str)]
        if texts:
            return ReasoningItem("\n".join(texts))
    return None  # only encrypted content, or nothing: there is no text to replay


def _python_call(item: Mapping[str, Any], where: str) -> PythonCallItem:
    code = item.get("code")
    if not isinstance(code, str):
        raise bad_request(f"'{where}.code' must be a string", f"{where}.code")
    outputs = item.get("outputs") or []
    if not isinstance(outputs, list):
        raise bad_request(f"'{where}.outputs' must be a list", f"{where}.outputs")
    logs = [str(part.get("logs", "")) for part in outputs
            if isinstance(part, Mapping) and part.get("type") == "logs"]
    return PythonCallItem(code, "".join(logs))


def text_of(content: Any, where: str) -> str:
    """The text of a content field: a string or a list of text parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad_request(f"'{where}' must be a string or a list of text parts", where)
    texts = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind not in ("input_text", "output_text", "text") or not isinstance(
                part.get("text"), str):
            raise bad_request(f"'{where}[{index}]': only text parts are supported "
                              f"(input_text, output_text), got {kind!r}", f"{where}[{index}]")
        texts.append(part["text"])
    return "".join(texts)

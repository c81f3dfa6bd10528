"""Render a JSONL conversation (a list of Harmony messages) to ``(tokens, mask)``.

A conversation line looks like::

    {"messages": [
      {"role": "system", "content": "You are ..."},
      {"role": "user", "content": "What is 2 + 3?"},
      {"role": "assistant", "channel": "analysis", "recipient": "python",
       "content_type": "code", "content": "2 + 3"},
      {"role": "tool", "name": "python", "channel": "analysis", "content": "5"},
      {"role": "assistant", "channel": "final", "content": "5."}
    ]}

Each message is rendered by openai-harmony exactly as in training: a call (an assistant
message with a ``recipient``) ends in ``<|call|>``, and the last assistant message, when
it is a ``final``, ends in ``<|return|>``. The mask is 1 on the tokens of assistant
messages after their ``<|start|>assistant`` tokens (which the prompt supplies), i.e. on
what the model samples, the recipient and channel included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gptoss_agent.agent.finetune.errors import DataError
from gptoss_agent.agent.harmony.codec import HarmonyCodec

_ROLES = ("system", "developer", "user", "assistant", "tool")


def _harmony_message(message: Mapping[str, Any]) -> Any:
    from openai_harmony import Message

    role = message.get("role")
    content = message.get("content")
    if role not in _ROLES:
        raise DataError(f"message role must be one of {', '.join(_ROLES)}, got {role!r}")
    if not isinstance(content, str):
        raise DataError(f"message content must be a string, got {type(content).__name__}")
    data: dict[str, Any] = {"role": role, "content": [{"type": "text", "text": content}]}
    if role == "tool":
        name = message.get("name")
        if not isinstance(name, str) or not name:
            raise DataError("a tool message needs a 'name' (e.g. 'functions.get_stock')")
        data["name"] = name
        data["recipient"] = "assistant"
        data.setdefault("channel", message.get("channel", "commentary"))
    for key in ("channel", "recipient", "content_type"):
        value = message.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise DataError(f"message {key!r} must be a string")
            data[key] = value
    try:
        return Message.from_dict(data)
    except Exception as exc:  # harmony raises several types for a bad message
        raise DataError(f"not a Harmony message: {exc}") from exc


def render_conversation(
    messages: Sequence[Mapping[str, Any]], codec: HarmonyCodec
) -> tuple[list[int], list[int]]:
    """Tokens and assistant mask of a conversation.

    Raises:
        DataError: A malformed message, or no assistant message to learn from.
    """
    if not messages or not all(isinstance(m, Mapping) for m in messages):
        raise DataError("'messages' must be a non-empty list of objects")
    tokens: list[int] = []
    mask: list[int] = []
    last_assistant = max(
        (i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=-1
    )
    if last_assistant < 0:
        raise DataError("the conversation has no assistant message to learn from")
    for index, message in enumerate(messages):
        rendered = list(codec.encoding.render(_harmony_message(message)))
        is_assistant = message.get("role") == "assistant"
        if (index == last_assistant and message.get("channel") == "final"
                and rendered[-1] == codec.special.end):
            rendered[-1] = codec.special.return_
        header = 1 + len(codec.encode_header("assistant")) if is_assistant else 0
        tokens.extend(rendered)
        mask.extend([0] * header + [1 if is_assistant else 0] * (len(rendered) - header))
    return tokens, mask

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

Each message is rendered exactly as openai-harmony's ``encoding.render`` renders the
``Message`` (a test compares the two token for token), from the codec's tokens: a call (an
assistant message with a ``recipient``) ends in ``<|call|>``, and the last assistant
message, when it is a ``final``, ends in ``<|return|>``. The mask is 1 on the tokens of assistant
messages after their ``<|start|>assistant`` tokens (which the prompt supplies), i.e. on
what the model samples, the recipient and channel included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gptoss_agent.agent.finetune.errors import DataError
from gptoss_agent.agent.harmony.codec import HarmonyCodec

_ROLES = ("system", "developer", "user", "assistant", "tool")
_CONSTRAIN = "<|constrain|>"


def _header_fields(message: Mapping[str, Any]) -> tuple[str, dict[str, str | None]]:
    """The role and the validated header fields of a message.

    The fields are ``name``, ``recipient``, ``channel`` and ``content_type``; a tool
    message is addressed to the assistant, on ``commentary`` unless it names a channel.

    Raises:
        DataError: An unknown role, non-string content or fields, a nameless tool.
    """
    role = message.get("role")
    if role not in _ROLES:
        raise DataError(f"message role must be one of {', '.join(_ROLES)}, got {role!r}")
    if not isinstance(message.get("content"), str):
        kind = type(message.get("content")).__name__
        raise DataError(f"message content must be a string, got {kind}")
    fields: dict[str, str | None] = {"name": None, "recipient": None, "channel": None,
                                     "content_type": None}
    if role == "tool":
        name = message.get("name")
        if not isinstance(name, str) or not name:
            raise DataError("a tool message needs a 'name' (e.g. 'functions.get_stock')")
        fields.update(name=name, recipient="assistant",
                      channel=message.get("channel", "commentary"))
    for key in ("channel", "recipient", "content_type"):
        value = message.get(key)
        if value is not None:
            if not isinstance(value, str):
                raise DataError(f"message {key!r} must be a string")
            fields[key] = value
    return str(role), fields


def render_message(message: Mapping[str, Any], codec: HarmonyCodec) -> list[int]:
    """The tokens of one message, as harmony renders it.

    ``<|start|>``, the author (the role; a tool's name), `` to=RECIPIENT``,
    ``<|channel|>CHANNEL``, `` CONTENT_TYPE`` (a leading ``<|constrain|>`` as the special
    token), ``<|message|>``, the content as ordinary text, and ``<|call|>`` for an
    assistant message with a recipient, else ``<|end|>``. Each piece is encoded on its
    own, as harmony does.

    Raises:
        DataError: The message is malformed.
    """
    role, fields = _header_fields(message)
    special = codec.special
    tokens = [special.start, *codec.encode_header(fields["name"] or role)]
    recipient = fields["recipient"]
    if recipient is not None and recipient != "all":
        tokens += codec.encode_header(f" to={recipient}")
    if fields["channel"] is not None:
        tokens += [special.channel, *codec.encode_header(fields["channel"])]
    content_type = fields["content_type"]
    if content_type is not None and content_type.startswith(_CONSTRAIN):
        rest = content_type[len(_CONSTRAIN):]
        tokens += [*codec.encode_header(" "), special.constrain]
        tokens += codec.encode_header(rest) if rest else ()
    elif content_type is not None:
        tokens += codec.encode_header(f" {content_type}")
    tokens += [special.message, *codec.encode_text(str(message["content"]))]
    tokens.append(special.call if role == "assistant" and recipient is not None
                  else special.end)
    return tokens


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
        rendered = render_message(message, codec)
        is_assistant = message.get("role") == "assistant"
        if (index == last_assistant and message.get("channel") == "final"
                and rendered[-1] == codec.special.end):
            rendered[-1] = codec.special.return_
        header = 1 + len(codec.encode_header("assistant")) if is_assistant else 0
        tokens.extend(rendered)
        mask.extend([0] * header + [1 if is_assistant else 0] * (len(rendered) - header))
    return tokens, mask

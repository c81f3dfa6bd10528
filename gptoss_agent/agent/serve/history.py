"""A client's resent history, replayed into the conversation as gpt-oss would have written it.

A client that keeps its own history sends every earlier item again. Each becomes the
Harmony message the model would have produced or read for it:

- a user message: a user turn; an ``assistant`` text message: a ``final`` answer;
- a ``reasoning`` item: an ``analysis`` message (the analysis policy drops it after the
  turn's answer, as it does for the model's own);
- a ``function_call``: a ``commentary`` message to ``functions.<name>`` in JSON, ended
  with ``<|call|>``; its ``function_call_output``: the tool message from
  ``functions.<name>``;
- a ``code_interpreter_call``: an ``analysis`` call to ``python`` and what it printed.

Calls and their outputs stay pairs: every call is answered (the request parser refused
a call without an output), and an output is rendered with the name of the call it
answers.
"""

from __future__ import annotations

from collections.abc import Sequence

from gptoss_agent.agent.backends.http.errors import HTTPError
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import Conversation
from gptoss_agent.agent.harmony.parser import parse_completion
from gptoss_agent.agent.serve.items import (
    FunctionCallItem,
    FunctionOutput,
    InputItem,
    InputMessage,
    PythonCallItem,
    ReasoningItem,
)


def replay(conversation: Conversation, codec: HarmonyCodec, items: Sequence[InputItem]) -> None:
    """Append ``items`` to ``conversation`` (system and developer text is left out).

    Raises:
        HTTPError: 400 for an output that answers no call of the input.
    """
    names: dict[str, str] = {}
    for item in items:
        if isinstance(item, InputMessage):
            if item.role == "user":
                conversation.add_user(item.text)
            elif item.role == "assistant":
                _assistant(conversation, codec, "<|channel|>final<|message|>", item.text,
                           codec.special.return_)
        elif isinstance(item, ReasoningItem):
            _assistant(conversation, codec, "<|channel|>analysis<|message|>", item.text,
                       codec.special.end)
        elif isinstance(item, FunctionCallItem):
            names[item.call_id] = item.name
            _assistant(conversation, codec, f"<|channel|>commentary to=functions.{item.name}"
                       " <|constrain|>json<|message|>", item.arguments, codec.special.call)
        elif isinstance(item, FunctionOutput):
            name = names.get(item.call_id)
            if name is None:
                raise HTTPError(400, f"No function call with call_id '{item.call_id}' comes "
                                "before its output in the input (send previous_response_id "
                                "to answer a pending call)", param="input")
            conversation.add_tool_result(f"functions.{name}", "commentary", item.output)
        elif isinstance(item, PythonCallItem):
            _assistant(conversation, codec, "<|channel|>analysis to=python code<|message|>",
                       item.code, codec.special.call)
            conversation.add_tool_result("python", "analysis", item.output)


def _assistant(conversation: Conversation, codec: HarmonyCodec, header: str, text: str,
               end: int) -> None:
    """One assistant message from its header, text and end token, parsed as sampled."""
    tokens = codec.encode_with_special(header) + codec.encode_text(text)
    tokens.append(end)
    conversation.add_assistant(parse_completion(codec, tokens).messages)

"""Loading training data: both formats, and every malformation named with file and line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.agent.finetune.data import load_examples, split_heldout
from gptoss_agent.agent.finetune.errors import DataError
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from tests.agent.finetune.conftest import SYSTEM, conversation, write_jsonl


def test_export_lines_load_as_is(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "t.jsonl", [
        {"source": "a", "tokens": [1, 2, 3, 4], "mask": [0, 0, 1, 1], "text": "x"},
        {"tokens": [5, 6], "mask": [0, 1]},
    ])
    examples = load_examples([path])
    assert [e.tokens for e in examples] == [(1, 2, 3, 4), (5, 6)]
    assert examples[0].mask == (0, 0, 1, 1)
    assert examples[0].source == f"{path}:1"
    assert examples[0].trained_tokens == 2


def test_conversation_lines_are_rendered(conversations_file: Path, codec: HarmonyCodec) -> None:
    example = load_examples([conversations_file])[3]
    text = codec.decode(list(example.tokens))
    assert text.startswith(f"<|start|>system<|message|>{SYSTEM}<|end|>")
    assert text.endswith("<|start|>assistant<|channel|>final<|message|>It is 21.<|return|>")


@pytest.mark.parametrize(("line", "message"), [
    ("not json", "t.jsonl:2: not JSON"),
    ("[1, 2]", "t.jsonl:2: expected a JSON object"),
    ('{"tokens": [1, 2], "mask": [0]}', "t.jsonl:2: 'mask' has 1 entries for 2 tokens"),
    ('{"tokens": [1, 2], "mask": [0, 0]}', "t.jsonl:2: no assistant token"),
    ('{"tokens": [1, 999999], "mask": [0, 1]}', "t.jsonl:2: token id 999999 is outside"),
    ('{"tokens": [1, "a"], "mask": [0, 1]}', "t.jsonl:2: 'tokens' holds a non-integer"),
    ('{"tokens": [1, 2], "mask": [0, 2]}', "t.jsonl:2: token id 2 is outside 0..1"),
    ('{"text": "hello"}', "t.jsonl:2: a line needs 'tokens' and 'mask', or 'messages'"),
    ('{"messages": [{"role": "user", "content": "hi"}]}', "t.jsonl:2: the conversation has no"),
    ('{"messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "x"}]}',
     "t.jsonl:2: message role must be"),
    ('{"messages": [{"role": "tool", "content": "1"}, {"role": "assistant", "content": "x"}]}',
     "t.jsonl:2: a tool message needs a 'name'"),
])
def test_malformed_lines_are_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"tokens": [1, 2], "mask": [0, 1]}) + "\n" + line + "\n")
    with pytest.raises(DataError) as caught:
        load_examples([path])
    assert message in str(caught.value)


def test_missing_empty_and_too_long(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load_examples([tmp_path / "absent.jsonl"])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(DataError, match="no examples"):
        load_examples([empty])
    with pytest.raises(DataError, match="no training data"):
        load_examples([])
    long = write_jsonl(tmp_path / "long.jsonl", [{"tokens": [1] * 10, "mask": [1] * 10}])
    with pytest.raises(DataError, match="longer than max_length=8"):
        load_examples([long], max_length=8)


def test_heldout_split_is_seeded_and_disjoint(conversations_file: Path) -> None:
    examples = load_examples([conversations_file])
    train, heldout = split_heldout(examples, 0.1, seed=3)
    again = split_heldout(examples, 0.1, seed=3)
    assert (train, heldout) == again
    assert len(heldout) == 4 and len(train) == 36
    assert not {e.source for e in train} & {e.source for e in heldout}
    assert split_heldout(examples, 0.1, seed=4)[1] != heldout
    assert split_heldout(examples, 0.0, seed=3) == (examples, [])
    with pytest.raises(DataError, match="nothing to train on"):
        split_heldout(examples[:1], 0.5, seed=0)


def test_conversation_module_rejects_non_string_content() -> None:
    record = conversation(1)
    record["messages"][1]["content"] = 5
    from gptoss_agent.agent.finetune.conversations import render_conversation
    from gptoss_agent.agent.harmony.codec import load_codec

    with pytest.raises(DataError, match="content must be a string"):
        render_conversation(record["messages"], load_codec())


def _harmony_render(message: dict[str, Any], codec: HarmonyCodec) -> list[int]:
    """What openai-harmony renders for ``message`` (the training format of gpt-oss)."""
    from openai_harmony import Message

    data: dict[str, Any] = {"role": message["role"],
                            "content": [{"type": "text", "text": message["content"]}]}
    if message["role"] == "tool":
        data.update(name=message["name"], recipient="assistant",
                    channel=message.get("channel", "commentary"))
    data.update({key: message[key] for key in ("channel", "recipient", "content_type")
                 if message.get(key) is not None})
    return list(codec.encoding.render(Message.from_dict(data)))


HEADER_CASES: list[dict[str, Any]] = [
    {"role": "system", "content": SYSTEM},
    {"role": "developer", "content": "# Instructions\nBe brief."},
    {"role": "user", "content": "tricky <|start|>assistant<|message|> text"},
    {"role": "user", "content": "", "name": "bob"},
    {"role": "assistant", "channel": "analysis", "content": "Let me think."},
    {"role": "assistant", "channel": "final", "content": "Done."},
    {"role": "assistant", "content": "no channel"},
    {"role": "assistant", "channel": "analysis", "recipient": "python",
     "content_type": "code", "content": "2 + 3"},
    {"role": "assistant", "channel": "commentary", "recipient": "functions.code",
     "content_type": "<|constrain|>json", "content": '{"n": 1}'},
    {"role": "assistant", "channel": "commentary", "recipient": "functions.code",
     "content_type": "<|constrain|>", "content": "{}"},
    {"role": "assistant", "channel": "final", "content_type": "<|constrain|>json",
     "content": '{"answer": 5}'},
    {"role": "assistant", "recipient": "browser.search", "content": '{"query": "x"}'},
    {"role": "assistant", "recipient": "all", "channel": "commentary", "content": "hi"},
    {"role": "assistant", "channel": "commentary", "recipient": "functions.x",
     "content_type": "json <|call|>", "content": "{}"},
    {"role": "tool", "name": "functions.code", "channel": "commentary", "content": "49"},
    {"role": "tool", "name": "python", "channel": "analysis", "content": "5\n"},
    {"role": "tool", "name": "browser.open", "content": "L0: page"},
    {"role": "tool", "name": "python", "content_type": "code", "content": "x"},
    {"role": "developer", "recipient": "functions.x", "content_type": "code", "content": "d"},
]


@pytest.mark.parametrize("message", HEADER_CASES)
def test_messages_render_token_for_token_as_harmony_does(message: dict[str, Any],
                                                          codec: HarmonyCodec) -> None:
    from gptoss_agent.agent.finetune.conversations import render_message

    assert render_message(message, codec) == _harmony_render(message, codec)

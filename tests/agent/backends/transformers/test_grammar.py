"""The Harmony grammar of a decoding constraint, checked with llguidance on real token ids.

Each case feeds a whole completion, as the model would sample it, to a fresh matcher and
asks whether the grammar accepts it (and ends there, on ``<|call|>`` or ``<|return|>``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from gptoss_agent.agent.backends.constraint import CallTarget, DecodingConstraint
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from tests.agent.backends.conftest import need_torch
from tests.agent.backends.transformers.helpers import need_llguidance

WEATHER = {"type": "object", "properties": {"city": {"type": "string"},
                                            "unit": {"enum": ["c", "f"]}},
           "required": ["city"]}
FUNCTION = CallTarget("functions.get_weather", schema=WEATHER)
PYTHON = CallTarget("python", channels=("analysis", "commentary"), freeform=True)
LOOSE = CallTarget("functions.note")  # not strict: free-text arguments
THINK = "<|channel|>analysis<|message|>The user wants the weather.<|end|><|start|>assistant"
CALL = ('<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>'
        '{"city":"Paris"}<|call|>')
FINAL = "<|channel|>final<|message|>It is sunny.<|return|>"


def accepts(codec: HarmonyCodec, constraint: DecodingConstraint, completion: str) -> bool:
    """Whether the grammar of ``constraint`` takes ``completion`` whole, and ends there."""
    need_llguidance()
    from gptoss_agent.agent.backends.transformers.constrained import new_guide

    guide = new_guide(constraint)
    matcher: Any = guide._matcher
    tokens = codec.encode_with_special(completion)
    return matcher.try_consume_tokens(tokens) == len(tokens) and matcher.is_accepting()


AUTO = DecodingConstraint(calls=(FUNCTION, PYTHON, LOOSE))


@pytest.mark.parametrize("completion", [
    CALL,
    THINK + CALL,
    THINK + "<|channel|>commentary<|message|>Checking.<|end|><|start|>assistant" + CALL,
    FINAL,
    THINK + FINAL,
    '<|channel|>commentary to=functions.get_weather<|message|>{"city": "Oslo", "unit": "c"}'
    "<|call|>",
    '<|channel|>commentary to=functions.get_weather json<|message|>{"city":"Rome"}<|call|>',
    '<|channel|>commentary to=functions.get_weather code<|message|>{"city":"Rome"}<|call|>',
    "<|channel|>analysis to=python code<|message|>print(2 + 2)<|call|>",
    "<|channel|>commentary to=python<|message|>import os<|call|>",
    "<|channel|>commentary to=functions.note<|message|>anything at all, even {<|call|>",
])
def test_auto_accepts_what_the_model_writes(codec: HarmonyCodec, completion: str) -> None:
    assert accepts(codec, AUTO, completion)


def test_free_text_may_spell_special_tokens_as_text(codec: HarmonyCodec) -> None:
    need_llguidance()
    from gptoss_agent.agent.backends.transformers.constrained import new_guide

    tokens = (codec.encode_with_special("<|channel|>analysis<|message|>")
              + codec.encode_text("It prints <|end|> and <|call|>.")
              + codec.encode_with_special("<|end|><|start|>assistant" + FINAL))
    matcher: Any = new_guide(AUTO)._matcher
    assert matcher.try_consume_tokens(tokens) == len(tokens) and matcher.is_accepting()


@pytest.mark.parametrize(("completion", "why"), [
    ('<|channel|>commentary to=functions.get_weather<|message|>{"city": 3}<|call|>',
     "arguments break the schema"),
    ('<|channel|>commentary to=functions.get_weather<|message|>{"town":"Paris"}<|call|>',
     "a required key is missing and objects are closed"),
    ('<|channel|>commentary to=functions.get_weather<|message|>{"city":"Paris",}<|call|>',
     "a trailing comma"),
    ('<|channel|>commentary to=functions.get_weather<|message|>{"city":"Paris"}<|return|>',
     "a call ends with <|call|>"),
    ('<|channel|>commentary to=functions.get_weather<|message|>{"city":"Paris"}<|end|>',
     "<|end|> does not end a generation"),
    ("<|channel|>final<|message|>It is sunny.<|call|>", "a final ends with <|return|>"),
    ('<|channel|>analysis to=browser.search<|message|>{"query":"x"}<|call|>',
     "browser is not enabled"),
    ('<|channel|>commentary to=functions.delete_all<|message|>{}<|call|>',
     "an unknown function"),
    ('<|channel|>analysis to=functions.get_weather<|message|>{"city":"Paris"}<|call|>',
     "function tools are called on commentary"),
    ("<|channel|>analysis<|message|>thinking<|end|>", "the generation must go on"),
    ("<|channel|>final<|message|>done<|return|><|start|>assistant", "nothing after the end"),
    ("<|start|>assistant<|channel|>final<|message|>x<|return|>", "no second <|start|>"),
])
def test_auto_refuses_malformed_and_unknown_calls(codec: HarmonyCodec, completion: str,
                                                  why: str) -> None:
    assert not accepts(codec, AUTO, completion), why


def test_tool_choice_none_allows_only_a_final(codec: HarmonyCodec) -> None:
    none = DecodingConstraint(calls=(FUNCTION, PYTHON), tool_choice="none")
    assert accepts(codec, none, THINK + FINAL)
    assert not accepts(codec, none, CALL)
    assert not accepts(codec, none, "<|channel|>analysis to=python<|message|>1<|call|>")


def test_tool_choice_required_allows_only_calls(codec: HarmonyCodec) -> None:
    required = DecodingConstraint(calls=(FUNCTION, PYTHON), tool_choice="required")
    assert accepts(codec, required, THINK + CALL)
    assert accepts(codec, required, "<|channel|>analysis to=python<|message|>1<|call|>")
    assert not accepts(codec, required, FINAL)


def test_a_named_tool_choice_allows_only_that_call(codec: HarmonyCodec) -> None:
    named = DecodingConstraint(calls=(FUNCTION, PYTHON), tool_choice="python")
    assert accepts(codec, named, "<|channel|>commentary to=python<|message|>1<|call|>")
    assert not accepts(codec, named, CALL)
    assert not accepts(codec, named, FINAL)


def test_a_final_schema_shapes_the_answer(codec: HarmonyCodec) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}},
              "required": ["answer"]}
    shaped = DecodingConstraint(final_schema=schema)
    assert accepts(codec, shaped, '<|channel|>final <|constrain|>json<|message|>{"answer":4}'
                                  "<|return|>")
    assert accepts(codec, shaped, '<|channel|>final<|message|>{"answer": 4}<|return|>')
    assert not accepts(codec, shaped, "<|channel|>final<|message|>four<|return|>")
    assert not accepts(codec, shaped, '<|channel|>final<|message|>{"answer":"4"}<|return|>')


def test_whitespace_between_json_tokens_is_bounded(codec: HarmonyCodec) -> None:
    head = "<|channel|>commentary to=functions.get_weather<|message|>{"
    assert accepts(codec, AUTO, head + '\n  "city": "Oslo"\n}<|call|>')
    assert not accepts(codec, AUTO, head + " " * 21 + '"city":"Oslo"}<|call|>')


def test_closing_objects_leaves_data_and_open_objects_alone() -> None:
    from gptoss_agent.agent.backends.transformers.grammar import closed_schema

    schema = {
        "type": "object",
        "properties": {"properties": {"type": "object", "properties": {"a": {}}},
                       "free": {"type": "object", "additionalProperties": True,
                                "properties": {"b": {}}},
                       "list": {"type": "array", "items": {"properties": {"c": {}}}}},
        "default": {"properties": {"x": 1}},
        "$defs": {"thing": {"properties": {"d": {}}}},
        "anyOf": [{"properties": {"e": {}}}],
    }
    closed = closed_schema(schema)
    assert closed["additionalProperties"] is False
    assert closed["properties"]["properties"]["additionalProperties"] is False
    assert "additionalProperties" not in closed["properties"]["properties"]["properties"]
    assert closed["properties"]["free"]["additionalProperties"] is True
    assert closed["properties"]["list"]["items"]["additionalProperties"] is False
    assert closed["default"] == {"properties": {"x": 1}}
    assert closed["$defs"]["thing"]["additionalProperties"] is False
    assert closed["anyOf"][0]["additionalProperties"] is False
    assert "additionalProperties" not in schema  # the caller's schema is not changed


def test_the_grammar_embeds_schemas_and_names_verbatim() -> None:
    from gptoss_agent.agent.backends.transformers.grammar import harmony_grammar

    odd = {"type": "object", "properties": {"q": {"type": "string",
                                                  "description": 'a "#" // ü \\ \n'}}}
    grammar = harmony_grammar(DecodingConstraint(calls=(CallTarget("functions.x-y", schema=odd),)))
    assert '" to=functions.x-y"' in grammar
    body = grammar.split("args_0: %json ", 1)[1].split("\n", 1)[0]
    assert json.loads(body)["properties"]["q"]["description"] == 'a "#" // ü \\ \n'
    assert json.loads(body)["x-guidance"]["lenient"] is True


@pytest.mark.parametrize("recipient", ["functions.two words", 'functions."q"', "a<|b|>", ""])
def test_a_recipient_a_header_cannot_hold_is_refused(recipient: str) -> None:
    from gptoss_agent.agent.backends.transformers.grammar import ConstraintError, harmony_grammar

    with pytest.raises(ConstraintError, match="Harmony header|at least one"):
        harmony_grammar(DecodingConstraint(calls=(CallTarget(recipient),)))


def test_the_tokenizer_knows_every_harmony_special_token(codec: HarmonyCodec) -> None:
    need_llguidance()
    from gptoss_agent.agent.backends.transformers.constrained import harmony_tokenizer

    tokenizer = harmony_tokenizer()
    assert tokenizer.vocab_size == 201_088
    assert tokenizer.eos_token == codec.special.endoftext
    for token in (codec.special.call, codec.special.return_, codec.special.channel):
        assert tokenizer.is_special_token(token)
    assert tokenizer.decode_bytes(codec.encode_text("héllo wörld")) == "héllo wörld".encode()
    assert harmony_tokenizer() is tokenizer  # built once per process


def test_a_guide_fails_clearly(codec: HarmonyCodec) -> None:
    need_llguidance()
    need_torch()
    import torch

    from gptoss_agent.agent.backends.transformers.constrained import MaskLayout, new_guide
    from gptoss_agent.agent.backends.transformers.grammar import ConstraintError

    guide = new_guide(AUTO)
    with pytest.raises(ConstraintError, match=r"token \d+ breaks the decoding constraint"):
        guide.accept(codec.encode_text("hello")[0])  # a completion starts with <|channel|>

    class Broken(MaskLayout):
        def allowed(self, mask: Any) -> Any:
            raise RuntimeError("mask buffer gone")

    failing = new_guide(AUTO)
    failing.fill(Broken(201_088))
    with pytest.raises(ConstraintError, match="failed after 0 tokens: mask buffer gone"):
        failing.restrict(torch.zeros(201_088))

    fine = new_guide(AUTO)
    fine.fill(MaskLayout(201_088))
    allowed = torch.isfinite(fine.restrict(torch.zeros(201_088))).nonzero().flatten().tolist()
    assert allowed == [codec.special.channel]  # every completion opens a channel

"""Our developer message against openai-harmony's, token for token.

The generated test draws random schemas from the features harmony renders meaningfully
(``schema_gen``) with fixed seeds, renders the whole developer message through
``developer_message_text`` and through harmony's own renderer, and compares the tokens.
A failure names its seed and case, so it reproduces with
``pytest -k "test_random_schemas_render_exactly_as_harmony and <seed>"``.
"""

from __future__ import annotations

import difflib
import random
from collections.abc import Mapping
from typing import Any

import pytest
from openai_harmony import DeveloperContent, Message, Role, ToolDescription

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import Conversation
from gptoss_agent.agent.harmony.prompt import developer_message_text
from gptoss_agent.tools.base import FunctionSpec, NamespaceSpec
from tests.agent.harmony import schema_gen

SEEDS = tuple(range(8))
CASES_PER_SEED = 250  # 2,000 developer messages, about 3,600 function schemas in all

Tool = tuple[str, str, Mapping[str, Any] | None]


def ours(codec: HarmonyCodec, instructions: str | None, tools: list[Tool]) -> list[int]:
    functions = tuple(FunctionSpec(name, description, parameters)
                      for name, description, parameters in tools)
    text = developer_message_text(instructions, [NamespaceSpec("functions", "", functions)])
    assert text is not None
    return Conversation(codec, [("developer", text)]).tokens()


def theirs(codec: HarmonyCodec, instructions: str | None, tools: list[Tool]) -> list[int]:
    content = DeveloperContent.new()
    if instructions:
        content = content.with_instructions(instructions)
    content = content.with_function_tools([
        ToolDescription.new(name, description,
                            parameters=None if parameters is None else dict(parameters))
        for name, description, parameters in tools
    ])
    return codec.encoding.render(Message.from_role_and_content(Role.DEVELOPER, content))


def assert_same(codec: HarmonyCodec, instructions: str | None, tools: list[Tool],
                label: str = "") -> None:
    mine, harmony = ours(codec, instructions, tools), theirs(codec, instructions, tools)
    if mine != harmony:
        first = next((i for i, (a, b) in enumerate(zip(mine, harmony, strict=False))
                      if a != b), min(len(mine), len(harmony)))
        diff = "\n".join(difflib.unified_diff(
            codec.decode(harmony).splitlines(), codec.decode(mine).splitlines(),
            "harmony", "ours", lineterm=""))
        pytest.fail(f"{label}: tokens differ from token {first}; schemas {tools!r}\n{diff}")


def random_case(rng: random.Random) -> tuple[str | None, list[Tool]]:
    instructions = schema_gen.text(rng) if rng.random() < 0.3 else None
    tools = [(schema_gen.function_name(rng), schema_gen.description(rng),
              schema_gen.parameters(rng)) for _ in range(rng.randint(1, 3))]
    return instructions, tools


@pytest.mark.parametrize("seed", SEEDS)
def test_random_schemas_render_exactly_as_harmony(codec: HarmonyCodec, seed: int) -> None:
    rng = random.Random(seed)
    compared = 0
    for case in range(CASES_PER_SEED):
        instructions, tools = random_case(rng)
        assert_same(codec, instructions, tools, f"seed {seed}, case {case}")
        compared += sum(parameters is not None for _, _, parameters in tools)
    assert compared > CASES_PER_SEED  # many schemas, not only parameterless functions


def test_the_generator_reaches_every_feature() -> None:
    """The random schemas do contain what the comparison claims to cover."""
    import json

    rng = random.Random(SEEDS[0])
    dumped = json.dumps([random_case(rng) for _ in range(CASES_PER_SEED)])
    for needle in ('"oneOf"', '"nullable": true', '"title"', '"examples"', '"default": "',
                   '"enum"', '"items"', '"type": ["', '"required"', '"description": ""',
                   '"type": "array"}', "null]", "e-07", "e+21", "\\r\\n"):
        assert needle in dumped, needle


def prop(schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"type": "object", "properties": {"p": schema},
            **({"required": ["p"]} if required else {})}


FEATURES: dict[str, Mapping[str, Any] | None] = {
    "string default quoted": prop({"type": "string", "default": "metric"}),
    "enum default bare": prop({"type": "string", "enum": ["a", "b"], "default": "a"}),
    "number, bool, null, object defaults": {"type": "object", "properties": {
        "n": {"type": "number", "default": 1e-7}, "b": {"type": "boolean", "default": True},
        "z": {"type": "string", "default": None},
        "o": {"type": "array", "default": [{"k": 1.0}]}}},
    "nullable": prop({"type": "integer", "nullable": True}, required=True),
    "title": prop({"type": "string", "title": "The P", "description": "What p is."}),
    "examples": prop({"type": "string", "examples": ["x", "y z"]}),
    "parameters object description": {"type": "object", "description": "All the args.",
                                      "properties": {"q": {"type": "string"}}},
    "oneOf with per-variant comments": prop({
        "description": "Either.", "default": 3,
        "oneOf": [{"type": "string", "description": "a name"},
                  {"type": "number", "description": "an id", "default": 3},
                  {"type": "object", "properties": {"x": {"type": "boolean"}}}]}),
    "no parameters": None,
    "empty object": {"type": "object"},
    "nested objects": prop({"type": "object", "description": "Inner.", "properties": {
        "deep": {"type": "object", "properties": {"leaf": {"type": "string"}}}}}),
    "arrays": {"type": "object", "properties": {
        "a": {"type": "array", "items": {"type": "string"}},
        "b": {"type": "array"},
        "c": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
        "d": {"type": "array", "items": {"type": "object", "properties": {
            "e": {"type": "number"}}}}}},
    "type lists": prop({"type": ["string", "integer", "null"]}),
    "key spelling": prop({"type": "string"}) | {"properties": {"max-results": {}, "a.b": {}}},
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
def test_each_harmony_feature_renders_exactly(codec: HarmonyCodec, feature: str) -> None:
    assert_same(codec, None, [("f", "Does f.", FEATURES[feature])], feature)


def test_the_issue_examples_now_match(codec: HarmonyCodec) -> None:
    text = codec.decode(ours(codec, None, [("f", "", FEATURES["string default quoted"])]))
    assert 'p?: string, // default: "metric"' in text
    text = codec.decode(ours(codec, None, [("f", "", FEATURES["oneOf with per-variant comments"])]))
    assert "p?:\n | string\n | number // an id default: 3\n | {\n   x?: boolean,\n   }\n," in text


def test_instructions_only_render_exactly_as_harmony(codec: HarmonyCodec) -> None:
    text = "Be brief.\n\nAnd kind. "
    content = DeveloperContent.new().with_instructions(text)
    harmony = codec.encoding.render(Message.from_role_and_content(Role.DEVELOPER, content))
    mine = developer_message_text(text, [])
    assert mine is not None
    assert Conversation(codec, [("developer", mine)]).tokens() == harmony


def random_namespace(rng: random.Random, name: str) -> NamespaceSpec:
    functions = tuple(FunctionSpec(schema_gen.function_name(rng), schema_gen.description(rng),
                                   schema_gen.parameters(rng))
                      for _ in range(rng.choice([0, 0, 1, 2])))
    return NamespaceSpec(name, schema_gen.description(rng), functions, builtin=True)


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_random_builtin_namespaces_render_exactly_as_harmony(codec: HarmonyCodec,
                                                             seed: int) -> None:
    from openai_harmony import ReasoningEffort, SystemContent, ToolNamespaceConfig

    from gptoss_agent.agent.harmony.prompt import SystemSettings, system_message_text

    rng = random.Random(seed)
    for case in range(100):
        names = rng.sample(["python", "browser", "container", "zeta", "a_tool"], rng.randint(1, 3))
        specs = [random_namespace(rng, name) for name in names]
        settings = SystemSettings(reasoning_effort="high", conversation_start_date="2025-01-02")
        mine = Conversation(codec, [("system", system_message_text(settings, specs, False))])
        content = (SystemContent.new().with_reasoning_effort(ReasoningEffort.HIGH)
                   .with_conversation_start_date("2025-01-02"))
        for spec in specs:
            content = content.with_tools(ToolNamespaceConfig(
                name=spec.name, description=spec.description,
                tools=[ToolDescription.new(f.name, f.description,
                                           parameters=None if f.parameters is None
                                           else dict(f.parameters))
                       for f in spec.functions]))
        harmony = codec.encoding.render(Message.from_role_and_content(Role.SYSTEM, content))
        assert mine.tokens() == harmony, (seed, case, "\n".join(difflib.unified_diff(
            codec.decode(harmony).splitlines(), codec.decode(mine.tokens()).splitlines(),
            "harmony", "ours", lineterm="")))

"""The ``# Response Formats`` section of the developer message (structured output).

openai-harmony 0.0.8 has no API for it, so the text follows harmony's format guide
(docs/format.md, "Structured output"); everything before the section is still compared
with harmony's own rendering.
"""

from __future__ import annotations

import pytest
from openai_harmony import DeveloperContent, Message, Role, ToolDescription

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import Conversation
from gptoss_agent.agent.harmony.prompt import ResponseFormat, developer_message_text
from gptoss_agent.tools.base import FunctionSpec, NamespaceSpec
from tests.agent.harmony.test_golden_prompts import FLAT_SCHEMA, assert_matches_golden

SHOPPING = {"properties": {"items": {"type": "array", "description": "entries on the shopping list",
                                     "items": {"type": "string"}}}, "type": "object"}
FUNCTIONS = [NamespaceSpec("functions", "", (FunctionSpec("get_weather", "Gets the weather.",
                                                          FLAT_SCHEMA),))]


def test_harmony_0_0_8_has_no_response_format_api() -> None:
    # If this fails, harmony learned to render response formats: compare tokens with it.
    assert not any("response" in name.lower() for name in dir(DeveloperContent))
    assert set(DeveloperContent.model_fields) == {"instructions", "tools"}


def test_the_format_guide_example(codec: HarmonyCodec) -> None:
    text = developer_message_text("You are a helpful shopping assistant", [],
                                  response_format=ResponseFormat("shopping_list", SHOPPING))
    # The guide's example, with its "## {format name}" line (the example misprints it).
    assert text == (
        "# Instructions\n\nYou are a helpful shopping assistant\n\n# Response Formats\n\n"
        "## shopping_list\n\n"
        '{"properties":{"items":{"type":"array","description":"entries on the shopping list",'
        '"items":{"type":"string"}}},"type":"object"}'
    )


def test_a_description_is_a_comment_line_above_the_schema() -> None:
    text = developer_message_text(None, [], response_format=ResponseFormat(
        "answer", {"type": "object", "title": "Réponse"}, "The answer.\nKeep it short."))
    assert text == ('# Response Formats\n\n## answer\n\n// The answer.\n// Keep it short.\n'
                    '{"type":"object","title":"Réponse"}')


def test_only_a_response_format_renders_a_whole_developer_message(codec: HarmonyCodec) -> None:
    text = developer_message_text(None, [], response_format=ResponseFormat("r", {}, "Why."))
    assert text == "# Response Formats\n\n## r\n\n// Why.\n{}"
    tokens = Conversation(codec, [("developer", text)]).tokens()
    assert codec.decode(tokens) == f"<|start|>developer<|message|>{text}<|end|>"
    assert tokens == codec.encoding.render(Message.from_role_and_content(Role.DEVELOPER, text))


def test_the_section_ends_what_harmony_renders(codec: HarmonyCodec) -> None:
    response_format = ResponseFormat("weather_report", {"type": "object"}, "A report.")
    ours = developer_message_text("Answer briefly.", FUNCTIONS, response_format=response_format)
    content = DeveloperContent.new().with_instructions("Answer briefly.").with_function_tools(
        [ToolDescription.new("get_weather", "Gets the weather.", parameters=FLAT_SCHEMA)])
    harmony = codec.decode(codec.encoding.render(
        Message.from_role_and_content(Role.DEVELOPER, content)))
    before = harmony.removeprefix("<|start|>developer<|message|>").removesuffix("<|end|>")
    assert ours == (f"{before}\n\n# Response Formats\n\n## weather_report\n\n// A report.\n"
                    '{"type":"object"}')


def test_response_format_golden(codec: HarmonyCodec) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"},
                                               "celsius": {"type": "number"}},
              "required": ["city", "celsius"], "additionalProperties": False}
    text = developer_message_text(
        "Report the weather.", FUNCTIONS,
        response_format=ResponseFormat("weather_report", schema, "The weather in one city."))
    assert text is not None
    assert_matches_golden(codec, "response_format",
                          Conversation(codec, [("developer", text)]).tokens())


def test_the_old_call_still_works() -> None:
    assert developer_message_text("Hi.", []) == "# Instructions\n\nHi."
    assert developer_message_text(None, []) is None
    with pytest.raises(TypeError):
        developer_message_text(None, [], ResponseFormat("r", {}))  # type: ignore[misc]


@pytest.mark.parametrize("name", ["", "  ", "two\nlines"])
def test_a_format_needs_a_one_line_name(name: str) -> None:
    with pytest.raises(ValueError, match="one-line name"):
        ResponseFormat(name, {})


def test_a_format_needs_a_mapping_schema() -> None:
    with pytest.raises(ValueError, match="mapping"):
        ResponseFormat("r", ["not", "a", "schema"])  # type: ignore[arg-type]

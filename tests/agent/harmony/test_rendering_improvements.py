"""Where we render more than harmony on purpose (``docs/harmony_rendering.md``).

Each case is a schema harmony degrades (to ``any``, an empty object, a misleading
precedence, a lost or corrupted line); the test shows harmony's loss and our line, and
the golden file keeps the whole developer message of all of them.
"""

from __future__ import annotations

from typing import Any

import pytest

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import Conversation
from gptoss_agent.agent.harmony.prompt import developer_message_text
from gptoss_agent.tools.base import FunctionSpec, NamespaceSpec
from tests.agent.harmony.test_golden_prompts import assert_matches_golden
from tests.agent.harmony.test_render_vs_harmony import ours, theirs


def prop(schema: Any, name: str = "p") -> dict[str, Any]:
    return {"type": "object", "properties": {name: schema}}


STOP = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
NODE = {"type": "object", "description": "A node.",
        "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}

# name: (schema, harmony's line, our line)
CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "ref": ({**prop({"$ref": "#/$defs/Stop"}), "$defs": {"Stop": STOP}},
            "p?: any,", "p?: {\n    city: string,\n    },"),
    "recursive ref": ({**prop({"$ref": "#/$defs/Node"}), "$defs": {"Node": NODE}},
                      "p?: any,", "// A node.\ntype Node = {\nchildren?: Node[],\n};"),
    "ref to an enum": ({**prop({"$ref": "#/$defs/Unit", "default": "c"}), "$defs": {
        "Unit": {"type": "string", "enum": ["c", "f"], "description": "The unit."}}},
        'p?: any, // default: "c"', '// The unit.\np?: "c" | "f", // default: c'),
    "anyOf": (prop({"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}),
              "p?: any, // default: null", "p?: string | null, // default: null"),
    "allOf": (prop({"allOf": [{"type": "object", "properties": {"x": {"type": "number"}}},
                              {"type": "object", "properties": {"y": {"type": "number"}}}]}),
              "p?: any,", "p?: {\n    x?: number,\n    } & {\n    y?: number,\n    },"),
    "const": (prop({"const": "circle"}), "p?: any,", 'p?: "circle",'),
    "additionalProperties": (prop({"type": "object", "additionalProperties": {"type": "number"}}),
                             "p?: {\n    },", "p?: { [key: string]: number },"),
    "additionalProperties beside properties": (
        prop({"type": "object", "properties": {"id": {"type": "string"}},
              "additionalProperties": {"type": "string"}}),
        "p?: {\n    id?: string,\n    },",
        "p?: {\n    id?: string,\n    [key: string]: string,\n    },"),
    "free-form object": (prop({"type": "object"}), "p?: {\n    },", "p?: { [key: string]: any },"),
    "tuple": (prop({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]}),
              "p?: Array<any>,", "p?: [string, number],"),
    "integer enum": (prop({"type": "integer", "enum": [1, 2, 3]}), "p?: number,", "p?: 1 | 2 | 3,"),
    "enum without type": (prop({"enum": ["a", "b"]}), "p?: any,", 'p?: "a" | "b",'),
    "enum with a type list": (prop({"type": ["string", "null"], "enum": ["a", None]}),
                              "p?: string | null,", 'p?: "a" | null,'),
    "union in an array": (prop({"type": "array", "items": {"type": ["string", "integer"]}}),
                          "p?: string | number[],", "p?: (string | number)[],"),
    "enum in an array": (prop({"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}),
                         'p?: "a" | "b"[],', 'p?: ("a" | "b")[],'),
    "oneOf in an array": (
        prop({"type": "array", "items": {"oneOf": [{"type": "string"},
                                                   {"type": "number", "description": "an id"}]}}),
        "p?: \n     | string\n     | number // an id[],",
        "p?: (\n     | string\n     | number // an id\n    )[],"),
    "constraints": (prop({"type": "integer", "minimum": 1, "maximum": 10, "default": 5}),
                    "p?: number, // default: 5",
                    "p?: number, // default: 5, minimum: 1, maximum: 10"),
    "format": (prop({"type": "string", "format": "date"}), "p?: string,\n",
               'p?: string, // format: "date"'),
    "null type": (prop({"type": "null"}), "p?: any,", "p?: null,"),
    "array in a type list": (prop({"type": ["array", "null"], "items": {"type": "string"}}),
                             "p?: array | null,", "p?: string[] | null,"),
    "object without type": (prop({"properties": {"a": {"type": "string"}}}),
                            "p?: any,", "p?: {\n    a?: string,\n    },"),
    "parameters without type": ({"properties": {"a": {"type": "string"}}},
                                "(_: any) => any;", "(_: {\na?: string,\n}) => any;"),
    "multi-line description": (prop({"type": "string", "description": "One.\nTwo."}),
                               "// One.\nTwo.\np?: string,", "// One.\n// Two.\np?: string,"),
    "quote in a string": (prop({"type": "string", "default": 'say "hi"'}),
                          '// default: "say "hi""', '// default: "say \\"hi\\""'),
    "newline in a string": (prop({"type": "string", "default": "a\nb"}),
                            '// default: "a\nb"', '// default: "a\\nb"'),
    "non-string examples": (prop({"type": "number", "examples": [1, 2.5]}),
                            "// Examples:\np?: number,",
                            "// Examples:\n// - 1\n// - 2.5\np?: number,"),
    "oneOf description equal to its first variant's": (
        prop({"description": "The value.", "oneOf": [
            {"type": "string", "description": "The value."}, {"type": "number"}]}),
        "{\np?:\n | string\n", "{\n// The value.\np?:\n | string\n"),
    "nullable oneOf": (prop({"nullable": True, "oneOf": [{"type": "string"}, {"type": "number"}]}),
                       " | number\n,", " | number\n | null\n,"),
    "nullable object with a nullable property": (
        prop({"type": "object", "nullable": True,
              "properties": {"a": {"type": "string", "nullable": True}}}),
        "    },\n}", "    } | null,\n}"),
    "nullable enum with null in a value": (
        prop({"type": "string", "enum": ["nullify", "keep"], "nullable": True}),
        'p?: "nullify" | "keep",', 'p?: "nullify" | "keep" | null,'),
    "key with a space": (prop({"type": "string"}, name="my key"),
                         "my key?: string,", '"my key"?: string,'),
    "long float default": (prop({"type": "number", "default": 126415.03817453119}),
                           "// default: 126415.0381745312", "// default: 126415.03817453119"),
    "description of an index signature": (
        prop({"type": "object", "description": "Per category.",
              "additionalProperties": {"type": "number"}}),
        "p?:     // Per category.\n{\n    },", "// Per category.\np?: { [key: string]: number },"),
    "root oneOf ending in a comment": (
        {"oneOf": [{"type": "object", "properties": {"a": {"type": "string"}}},
                   {"type": "object", "properties": {"b": {"type": "number"}},
                    "description": "by id"}]},
        "} // by id) => any;", "} // by id\n) => any;"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_we_render_more_than_harmony(codec: HarmonyCodec, case: str) -> None:
    schema, harmony_line, our_line = CASES[case]
    tools = [("f", "", schema)]
    harmony_text, our_text = codec.decode(theirs(codec, None, tools)), codec.decode(
        ours(codec, None, tools))
    assert harmony_line in harmony_text, harmony_text
    assert our_line in our_text, our_text
    assert harmony_text != our_text


def test_improvements_golden(codec: HarmonyCodec) -> None:
    functions = tuple(
        FunctionSpec(f"case_{index}", case, CASES[case][0])
        for index, case in enumerate(sorted(CASES))
    )
    text = developer_message_text(None, [NamespaceSpec("functions", "", functions)])
    assert text is not None
    tokens = Conversation(codec, [("developer", text)]).tokens()
    assert_matches_golden(codec, "improvements", tokens)

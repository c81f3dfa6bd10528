"""Odd arguments reach the model as invalid-argument results and the run goes on."""

from __future__ import annotations

import json

import pytest

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.tools.function import function_tool
from tests.agent.scripting import CALL_ADD, FINAL, scripted_agent


@pytest.mark.parametrize(("arguments", "said", "kind"), [
    ('{"a": 1e999, "b": 3}', "finite", "invalid_json"),
    ('{"a": 2, "b": -1E400}', "finite", "invalid_json"),
    ('{"a": 2, "b": 3, "c": ' + '{"d": ' * 70 + "1" + "}" * 70 + "}", "levels deep",
     "invalid_json"),
    (json.dumps({"a": 2.5, "b": 3}), "not of type 'integer'", "schema_violation"),
])
async def test_odd_arguments_are_told_to_the_model(codec: HarmonyCodec, arguments: str,
                                                   said: str, kind: str) -> None:
    bad = CALL_ADD.replace('{"a": 2, "b": 3}', arguments)
    agent, backend = scripted_agent(codec, [bad, CALL_ADD, FINAL])
    result = await agent.run("2+3?")
    assert result.ok and result.final_text == "The sum is 5."
    assert result.tool_calls == 2 and result.tool_errors == 1
    assert said in backend.decoded_prompts()[1]
    assert [incident.kind for incident in result.incidents] == [kind]


@function_tool
def scale(factor: float) -> float:
    """Double a factor.

    Args:
        factor: The number to double.
    """
    return factor * 2


async def test_a_huge_integer_for_a_float_reaches_the_model_and_the_run_goes_on(
        codec: HarmonyCodec) -> None:
    def call(value: str) -> str:
        return ("<|channel|>commentary to=functions.scale <|constrain|>json"
                f'<|message|>{{"factor": {value}}}<|call|>')

    final = "<|channel|>final<|message|>Doubled.<|return|>"
    agent, backend = scripted_agent(codec, [call("1" + "0" * 399), call("1.5"), final],
                                    [scale])
    result = await agent.run("Double it.")
    assert result.ok and result.final_text == "Doubled."
    assert result.tool_calls == 2 and result.tool_errors == 1
    told = backend.decoded_prompts()[1].rpartition("<|start|>functions.scale to=assistant")[2]
    assert "400-digit integer is too large" in told and "0" * 399 not in told
    assert "3.0" in backend.decoded_prompts()[2]  # the corrected call ran
    assert [incident.kind for incident in result.incidents] == ["schema_violation"]

"""A history resent without ``previous_response_id`` reaches the model as it was lived.

A client that keeps its own history (the Agents SDK by default, evaluation harnesses)
sends every earlier item again to a server that may have forgotten the conversation.
The replayed prompt must be token for token the one the server would have built had it
kept the conversation: calls, their outputs and the reasoning included.
"""

from __future__ import annotations

from typing import Any

import pytest

from gptoss_agent.agent.backends.http.errors import HTTPError
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import AnalysisPolicy
from gptoss_agent.agent.serve.request import parse_response_request
from gptoss_agent.agent.serve.service import ResponsesService
from tests.agent.serve.conftest import CALL_WEATHER, SUNNY, WEATHER_TOOL
from tests.agent.serve.test_service import service, text_of

THINK = "<|channel|>analysis<|message|>Ask the tool.<|end|><|start|>assistant"
WELCOME = "<|channel|>final<|message|>You are welcome.<|return|>"
QUESTION = {"role": "user", "content": "Weather in Paris?"}


async def ask(served: ResponsesService, **body: Any) -> dict[str, Any]:
    return await served.run(await served.prepare(parse_response_request(
        {"tools": [WEATHER_TOOL], **body})))


def backend_of(served: ResponsesService) -> ScriptedBackend:
    backend = served.served.backend
    assert isinstance(backend, ScriptedBackend)
    return backend


def resent(output: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A response's output items as a client puts them back into its next input."""
    return [{key: value for key, value in item.items() if key not in ("id", "status")}
            for item in output]


async def lived(codec: HarmonyCodec, script: list[str]
                ) -> list[tuple[tuple[int, ...], list[dict[str, Any]]]]:
    """A conversation the server keeps: each later prompt it built, with the items a
    client that keeps the history itself would have sent for that turn."""
    served = service(codec, script)
    try:
        first = await ask(served, input=[QUESTION])
        call = next(item for item in first["output"] if item["type"] == "function_call")
        answer = {"type": "function_call_output", "call_id": call["call_id"],
                  "output": "sunny"}
        second = await ask(served, input=[answer], previous_response_id=first["id"])
        thanks = {"role": "user", "content": "Thanks!"}
        third = await ask(served, input=[thanks], previous_response_id=second["id"])
        assert text_of(third) == "You are welcome."
        answered = [QUESTION, *resent(first["output"]), answer]
        prompts = backend_of(served).prompts
        return [(prompts[1], answered),
                (prompts[2], [*answered, *resent(second["output"]), thanks])]
    finally:
        await served.aclose()


@pytest.mark.parametrize("thinking", ["", THINK], ids=["call", "reasoning-then-call"])
async def test_a_resent_history_gives_the_prompt_a_kept_conversation_gives(
        codec: HarmonyCodec, thinking: str) -> None:
    turns = await lived(codec, [thinking + CALL_WEATHER, SUNNY, WELCOME])
    kinds = [item.get("type", "message") for item in turns[0][1]]
    assert kinds == ["message", *(["reasoning"] if thinking else []), "function_call",
                     "function_call_output"]
    for (prompt, sent), answer in zip(turns, (SUNNY, WELCOME), strict=True):
        fresh = service(codec, [answer])  # a server that never saw the conversation
        try:
            response = await ask(fresh, input=sent)
            assert response["status"] == "completed"
            assert backend_of(fresh).prompts == [prompt]
        finally:
            await fresh.aclose()


@pytest.mark.parametrize("policy", list(AnalysisPolicy))
async def test_a_resent_python_call_is_replayed_with_what_it_printed(
        codec: HarmonyCodec, policy: AnalysisPolicy) -> None:
    served = service(codec, [WELCOME], analysis_policy=policy)
    history = [QUESTION,
               {"type": "code_interpreter_call", "code": "print(6 * 7)",
                "outputs": [{"type": "logs", "logs": "42\n"}], "container_id": "python"},
               {"type": "web_search_call", "action": {"type": "search", "query": "x"}},
               {"role": "assistant", "content": "It is 42."},
               {"role": "user", "content": "Thanks!"}]
    try:
        await ask(served, input=history)
        prompt = backend_of(served).decoded_prompts()[0]
        call = ("<|start|>assistant<|channel|>analysis to=python code<|message|>"
                "print(6 * 7)<|call|><|start|>python to=assistant<|channel|>analysis"
                "<|message|>42\n<|end|>")
        # Like the model's own analysis calls, it leaves the prompt with its turn's
        # answer unless the policy keeps all analysis.
        assert (call in prompt) is (policy is AnalysisPolicy.KEEP_ALL)
        assert "It is 42.<|end|><|start|>user<|message|>Thanks!" in prompt
        assert '"query"' not in prompt  # a web_search_call holds no result to replay
    finally:
        await served.aclose()


@pytest.mark.parametrize(("history", "wanted"), [
    ([QUESTION, {"type": "function_call", "call_id": "call_9", "name": "get_weather",
                 "arguments": "{}"}], "No tool output found for function call call_9"),
    ([QUESTION, {"type": "function_call_output", "call_id": "call_8", "output": "x"}],
     "No function call with call_id 'call_8'"),
    ([QUESTION, {"type": "function_call", "call_id": "c", "name": "get weather<|end|>",
                 "arguments": "{}"}], "input[1].name"),
    ([QUESTION, {"type": "function_call", "call_id": "c", "name": "get_weather",
                 "arguments": {"city": "Paris"}}], "input[1].arguments"),
    ([QUESTION, {"type": "reasoning", "summary": "thought"}], "input[1].summary"),
], ids=["call-unanswered", "output-of-no-call", "bad-name", "arguments-not-text",
        "summary-not-list"])
async def test_a_resent_history_that_cannot_be_replayed_is_a_400(
        codec: HarmonyCodec, history: list[dict[str, Any]], wanted: str) -> None:
    served = service(codec, [WELCOME])
    try:
        with pytest.raises(HTTPError) as refused:
            await ask(served, input=history)
        assert refused.value.status == 400 and wanted in str(refused.value)
        assert backend_of(served).prompts == []
    finally:
        await served.aclose()

"""``POST /v1/responses`` with the official ``openai`` client, a scripted model behind it."""

from __future__ import annotations

import json

import openai
import pytest

from gptoss_agent.agent.backends.scripted import ScriptedCompletion
from tests.agent.serve.conftest import CALL_WEATHER, SUNNY, WEATHER_TOOL, ServeFactory


def client(url: str, **kwargs: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=url, api_key="unused", max_retries=0, **kwargs)  # type: ignore[arg-type]


def test_a_function_call_ends_the_response_and_its_output_continues_it(
        serve: ServeFactory) -> None:
    def sees_the_tool(prompt: str) -> None:
        assert "namespace functions" in prompt and "get_weather" in prompt

    def sees_the_output(prompt: str) -> None:
        assert "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>" \
               '{"temp_c": 21, "sky": "sunny"}<|end|>' in prompt

    script = [ScriptedCompletion(CALL_WEATHER, sees_the_tool),
              ScriptedCompletion(SUNNY, sees_the_output)]
    with serve(script) as running:
        api = client(running.url)
        first = api.responses.create(model="scripted", input="Weather in Paris?",
                                     tools=[WEATHER_TOOL])  # type: ignore[list-item]
        assert first.status == "completed"
        calls = [item for item in first.output if item.type == "function_call"]
        assert len(calls) == 1 and calls[0].name == "get_weather"
        assert json.loads(calls[0].arguments) == {"city": "Paris"}
        assert calls[0].call_id.startswith("call_")
        second = api.responses.create(
            model="scripted", previous_response_id=first.id, tools=[WEATHER_TOOL],  # type: ignore[list-item]
            input=[{"type": "function_call_output", "call_id": calls[0].call_id,
                    "output": '{"temp_c": 21, "sky": "sunny"}'}])
        assert second.status == "completed"
        assert second.output_text == "It is sunny in Paris."
        assert second.previous_response_id == first.id
        assert second.usage is not None and second.usage.output_tokens > 0
        running.backend.assert_finished()
        # the second generation continued the same token history (one session, one cache)
        earlier, later = running.backend.prompts
        assert later[: len(earlier)] == earlier


def test_previous_response_id_continues_the_conversation(serve: ServeFactory) -> None:
    script = ["<|channel|>final<|message|>Hello, Ada.<|return|>",
              ScriptedCompletion("<|channel|>final<|message|>You are Ada.<|return|>",
                                 lambda prompt: None)]
    with serve(script) as running:
        api = client(running.url)
        first = api.responses.create(model="scripted", input="I am Ada.",
                                     instructions="Be brief.")
        assert first.output_text == "Hello, Ada."
        second = api.responses.create(model="scripted", input="Who am I?",
                                      previous_response_id=first.id)
        assert second.output_text == "You are Ada."
        prompt = running.backend.decoded_prompts()[1]
        assert "I am Ada." in prompt and "Hello, Ada." in prompt and "Who am I?" in prompt
        assert "Be brief." in prompt
        with pytest.raises(openai.BadRequestError) as stale:  # only the latest continues
            api.responses.create(model="scripted", input="x", previous_response_id=first.id)
        assert stale.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_streaming_events_come_in_order_with_sequence_numbers(serve: ServeFactory) -> None:
    script = ["<|channel|>analysis<|message|>Need the weather.<|end|><|start|>assistant"
              + CALL_WEATHER,
              "<|channel|>final<|message|>Sunny, 21 C.<|return|>"]
    with serve(script) as running:
        api = client(running.url)
        events = list(api.responses.create(model="scripted", input="Weather?",
                                           tools=[WEATHER_TOOL], stream=True))  # type: ignore[list-item]
        kinds = [e.type for e in events]
        assert [e.sequence_number for e in events] == list(range(len(events)))
        assert kinds[:2] == ["response.created", "response.in_progress"]
        assert kinds[-1] == "response.completed"
        assert kinds.index("response.reasoning_text.delta") < kinds.index(
            "response.function_call_arguments.delta")
        reasoning = "".join(e.delta for e in events if e.type == "response.reasoning_text.delta")
        assert reasoning == "Need the weather."
        done = [e for e in events if e.type == "response.function_call_arguments.done"]
        assert json.loads(done[0].arguments) == {"city": "Paris"}
        added = [e.item.type for e in events if e.type == "response.output_item.added"]
        assert added == ["reasoning", "function_call"]
        final = events[-1].response
        call = next(item for item in final.output if item.type == "function_call")
        stream = api.responses.create(
            model="scripted", previous_response_id=final.id, stream=True,
            input=[{"type": "function_call_output", "call_id": call.call_id, "output": "21 C"}])
        events = list(stream)
        text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
        assert text == "Sunny, 21 C."
        done_text = [e.text for e in events if e.type == "response.output_text.done"]
        assert done_text == ["Sunny, 21 C."]
        assert events[-1].type == "response.completed"
        assert events[-1].response.output_text == "Sunny, 21 C."


def test_structured_output_follows_the_json_schema(serve: ServeFactory) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"},
                                               "temp_c": {"type": "number"}},
              "required": ["city", "temp_c"], "additionalProperties": False}

    def shows_the_format(prompt: str) -> None:
        assert "# Response Formats" in prompt and "## weather_report" in prompt

    answer = ('<|channel|>final <|constrain|>json<|message|>'
              '{"city": "Paris", "temp_c": 21}<|return|>')
    with serve([ScriptedCompletion(answer, shows_the_format)]) as running:
        api = client(running.url)
        response = api.responses.create(
            model="scripted", input="Paris weather as JSON",
            text={"format": {"type": "json_schema", "name": "weather_report",
                             "schema": schema, "strict": True}})
        assert response.status == "completed"
        assert json.loads(response.output_text) == {"city": "Paris", "temp_c": 21}
        assert response.text.format.type == "json_schema"  # type: ignore[union-attr]


def test_a_stateless_client_may_send_the_whole_history(serve: ServeFactory) -> None:
    with serve(["<|channel|>final<|message|>You are Ada.<|return|>"]) as running:
        answer = client(running.url).responses.create(model="scripted", input=[
            {"role": "developer", "content": "Use first names."},
            {"role": "user", "content": "I am Ada."},
            {"role": "assistant", "content": [{"type": "output_text", "text": "Hello, Ada."}]},
            {"role": "user", "content": [{"type": "input_text", "text": "Who am I?"}]},
        ])
        assert answer.output_text == "You are Ada."
        prompt = running.backend.decoded_prompts()[0]
        assert prompt.index("Use first names.") < prompt.index(
            "<|start|>user<|message|>I am Ada.<|end|>") < prompt.index(
            "<|start|>assistant<|channel|>final<|message|>Hello, Ada.<|end|>") < prompt.index(
            "<|start|>user<|message|>Who am I?<|end|>")


def test_max_output_tokens_makes_an_incomplete_response(serve: ServeFactory) -> None:
    long_answer = "<|channel|>final<|message|>" + "word " * 40 + "<|return|>"
    with serve([long_answer]) as running:
        api = client(running.url)
        cut = api.responses.create(model="scripted", input="Talk.", max_output_tokens=5)
        assert cut.status == "incomplete"
        assert cut.incomplete_details is not None
        assert cut.incomplete_details.reason == "max_output_tokens"
        assert cut.usage is not None and cut.usage.output_tokens == 5
        assert api.responses.retrieve(cut.id).status == "incomplete"
        with pytest.raises(openai.NotFoundError):
            api.responses.retrieve("resp_missing")


def test_a_forced_tool_choice_reaches_the_agent(serve: ServeFactory) -> None:
    with serve([CALL_WEATHER]) as running:
        api = client(running.url)
        forced = api.responses.create(
            model="scripted", input="Paris?", tools=[WEATHER_TOOL],  # type: ignore[list-item]
            tool_choice={"type": "function", "name": "get_weather"})
        assert [item.type for item in forced.output] == ["function_call"]
        with pytest.raises(openai.BadRequestError) as unknown:
            api.responses.create(model="scripted", input="Paris?", tools=[WEATHER_TOOL],  # type: ignore[list-item]
                                 tool_choice={"type": "function", "name": "nope"})
        assert unknown.value.body["param"] == "tool_choice"  # type: ignore[index]

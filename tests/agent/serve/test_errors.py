"""Each error shape of ``/v1/responses``: 400, 404, 409/429 limits, 413, as OpenAI's."""

from __future__ import annotations

import httpx
import openai
import pytest

from gptoss_agent.agent.serve.config import ServeLimits
from tests.agent.serve.conftest import CALL_WEATHER, SUNNY, WEATHER_TOOL, ServeFactory
from tests.agent.serve.test_responses import client

SHAPE = {"message", "type", "param", "code"}


def test_bad_bodies_get_400_naming_the_field(serve: ServeFactory) -> None:
    with serve([]) as running:
        api = client(running.url)
        with pytest.raises(openai.BadRequestError) as missing:
            api.responses.create(model="scripted", input=[])
        body = missing.value.body
        assert isinstance(body, dict) and set(body) == SHAPE
        assert body["param"] == "input" and body["type"] == "invalid_request_error"
        with pytest.raises(openai.BadRequestError) as effort:
            api.responses.create(model="scripted", input="x",
                                 reasoning={"effort": "extreme"})  # type: ignore[typeddict-item]
        assert effort.value.body["param"] == "reasoning.effort"  # type: ignore[index]
        with pytest.raises(openai.BadRequestError) as tool:
            api.responses.create(model="scripted", input="x",
                                 tools=[{"type": "code_interpreter", "container": "auto"}])  # type: ignore[list-item]
        assert "no python tool" in tool.value.body["message"]  # type: ignore[index]
        with pytest.raises(openai.BadRequestError) as image:
            api.responses.create(model="scripted", input=[{"role": "user", "content": [
                {"type": "input_image", "image_url": "http://x/y.png"}]}])
        assert image.value.body["param"] == "input[0].content[0]"  # type: ignore[index]
        raw = httpx.post(running.url + "/responses", content=b"{not json",
                         headers={"content-type": "application/json"})
        assert raw.status_code == 400 and set(raw.json()["error"]) == SHAPE
        assert httpx.get(running.url + "/nowhere").json()["error"]["message"] == \
            "no route /v1/nowhere"
        wrong = httpx.get(running.url + "/responses")
        assert wrong.status_code == 405 and wrong.json()["error"]["message"] == "use POST"


def test_an_unknown_previous_response_is_404(serve: ServeFactory) -> None:
    with serve([]) as running:
        with pytest.raises(openai.NotFoundError) as caught:
            client(running.url).responses.create(model="scripted", input="x",
                                                 previous_response_id="resp_nope")
        body = caught.value.body
        assert isinstance(body, dict) and body["code"] == "previous_response_not_found"
        assert body["param"] == "previous_response_id" and "resp_nope" in body["message"]


def test_a_pending_call_must_be_answered(serve: ServeFactory) -> None:
    with serve([CALL_WEATHER, SUNNY]) as running:
        api = client(running.url)
        first = api.responses.create(model="scripted", input="Weather?", tools=[WEATHER_TOOL])  # type: ignore[list-item]
        with pytest.raises(openai.BadRequestError) as caught:
            api.responses.create(model="scripted", input="And tomorrow?",
                                 previous_response_id=first.id)
        assert "No tool output found for function call call_" in caught.value.message
        call = next(item for item in first.output if item.type == "function_call")
        done = api.responses.create(model="scripted", previous_response_id=first.id, input=[
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}])
        assert done.output_text == "It is sunny in Paris."


def test_a_body_over_the_limit_is_413(serve: ServeFactory) -> None:
    with serve([], limits=ServeLimits(max_body_bytes=2048)) as running:
        with pytest.raises(openai.APIStatusError) as caught:
            client(running.url).responses.create(model="scripted", input="x" * 4096)
        assert caught.value.status_code == 413
        assert caught.value.body["code"] == "request_too_large"  # type: ignore[index]
        chunked = httpx.post(running.url + "/responses",
                             content=iter([b'{"input": "', b"y" * 4096, b'"}']))
        assert chunked.status_code == 413


def test_runs_and_conversations_beyond_the_limits_are_429(serve: ServeFactory) -> None:
    limits = ServeLimits(max_runs=1, max_conversations=1)
    script = [CALL_WEATHER, SUNNY, "<|channel|>final<|message|>Hi.<|return|>"]
    with serve(script, limits=limits) as running:
        api = client(running.url)
        waiting = api.responses.create(model="scripted", input="Weather?",
                                       tools=[WEATHER_TOOL])  # type: ignore[list-item]
        with pytest.raises(openai.RateLimitError) as runs:  # the run waits for the client
            api.responses.create(model="scripted", input="Hello")
        assert runs.value.body["code"] == "rate_limit_exceeded"  # type: ignore[index]
        assert runs.value.body["type"] == "rate_limit_error"  # type: ignore[index]
        call = next(item for item in waiting.output if item.type == "function_call")
        finished = api.responses.create(model="scripted", previous_response_id=waiting.id,
                                        input=[{"type": "function_call_output",
                                                "call_id": call.call_id, "output": "sunny"}])
        assert finished.output_text == "It is sunny in Paris."
        fresh = api.responses.create(model="scripted", input="Hello")  # drops the idle one
        assert fresh.output_text == "Hi."
        with pytest.raises(openai.NotFoundError):
            api.responses.create(model="scripted", input="x",
                                 previous_response_id=finished.id)

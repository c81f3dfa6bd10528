"""The Responses service without HTTP: conversations, limits and stream snapshots."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gptoss_agent.agent.backends.http.errors import HTTPError
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.agent.serve.config import ServedAgent, ServeLimits
from gptoss_agent.agent.serve.request import parse_response_request
from gptoss_agent.agent.serve.service import ResponsesService
from tests.agent.serve.conftest import CALL_WEATHER, WEATHER_TOOL


def service(codec: HarmonyCodec, script: list[str], serve_limits: ServeLimits | None = None,
            **served: Any) -> ResponsesService:
    agent = ServedAgent(backend=ScriptedBackend(script, codec=codec), model_name="scripted",
                        codec=codec, conversation_start_date="2026-11-28", **served)
    return ResponsesService(agent, serve_limits or ServeLimits())


def final(text: str) -> str:
    return f"<|channel|>final<|message|>{text}<|return|>"


def text_of(response: dict[str, Any]) -> str:
    return "".join(part["text"] for item in response["output"] if item["type"] == "message"
                   for part in item["content"])


async def test_a_new_turn_after_a_timed_out_client_call_gets_its_own_answer(
        codec: HarmonyCodec) -> None:
    served = service(codec, [CALL_WEATHER, final("I could not get the weather."),
                             final("Hello again.")], limits=LoopLimits(tool_timeout_s=0.01))
    try:
        first = await served.run(await served.prepare(parse_response_request(
            {"input": "Weather in Paris?", "tools": [WEATHER_TOOL]})))
        assert [item["type"] for item in first["output"]] == ["function_call"]
        chain = served._by_response[first["id"]]
        assert chain._task is not None
        await chain._task  # the client never answers: the call times out, the run goes on
        again = await served.run(await served.prepare(parse_response_request(
            {"input": "Hi?", "previous_response_id": first["id"]})))
        assert again["status"] == "completed"
        assert text_of(again) == "Hello again."  # not the tail of the timed-out run
    finally:
        await served.aclose()


async def test_a_run_going_on_after_a_timed_out_call_makes_its_conversation_busy(
        codec: HarmonyCodec) -> None:
    served = service(codec, [final("Hello.")])
    try:
        first = await served.run(await served.prepare(parse_response_request(
            {"input": "Hi"})))
        chain = served._by_response[first["id"]]
        never = asyncio.Event()
        chain._task = asyncio.create_task(never.wait())  # a run no response waits for
        with pytest.raises(HTTPError) as busy:
            await served.prepare(parse_response_request(
                {"input": "Again?", "previous_response_id": first["id"]}))
        assert busy.value.status == 409
        never.set()
        await chain._task
    finally:
        await served.aclose()


async def test_response_created_shows_the_response_as_it_was_then(
        codec: HarmonyCodec) -> None:
    served = service(codec, [final("Hello.")])
    events: list[dict[str, Any]] = []
    try:
        await served.run(await served.prepare(parse_response_request(
            {"input": "Hi", "stream": True})), events.append)
        created, in_progress = events[0], events[1]
        assert created["type"] == "response.created"
        assert created["response"]["output"] == []
        assert in_progress["response"]["output"] == []
        assert events[-1]["response"]["output"] != []
    finally:
        await served.aclose()


async def test_runs_started_while_a_dropped_conversation_closes_stay_within_max_runs(
        codec: HarmonyCodec) -> None:
    served = service(codec, [final("One."), final("Two."), final("Three.")],
                     ServeLimits(max_conversations=1, max_runs=1))
    try:
        await served.run(await served.prepare(parse_response_request({"input": "1"})))
        (idle,) = served._chains.values()
        closing = asyncio.Event()
        release = asyncio.Event()
        close = idle.aclose

        async def slow_close() -> None:
            closing.set()
            await release.wait()
            await close()

        idle.aclose = slow_close  # type: ignore[method-assign]
        evicting = asyncio.create_task(served.prepare(parse_response_request({"input": "2"})))
        await closing.wait()
        other = await served.prepare(parse_response_request({"input": "3"}))
        release.set()
        with pytest.raises(HTTPError) as limited:
            await evicting
        assert limited.value.status == 429
        await served.run(other)
    finally:
        await served.aclose()


async def test_a_resent_history_with_answered_calls_starts_a_new_turn(
        codec: HarmonyCodec) -> None:
    # What the Agents SDK sends for its second turn without previous_response_id.
    served = service(codec, [final("You are welcome.")])
    history = [{"role": "user", "content": "Weather in Paris?"},
               {"type": "function_call", "call_id": "call_1", "name": "get_weather",
                "arguments": '{"city": "Paris"}'},
               {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
               {"role": "assistant", "content": "It is sunny in Paris."},
               {"role": "user", "content": "Thanks!"}]
    try:
        response = await served.run(await served.prepare(parse_response_request(
            {"input": history, "tools": [WEATHER_TOOL]})))
        assert response["status"] == "completed"
        assert text_of(response) == "You are welcome."
        prompt = served.served.backend.decoded_prompts()[0]  # type: ignore[attr-defined]
        assert "to=functions.get_weather <|constrain|>json<|message|>" in prompt
    finally:
        await served.aclose()


async def test_closing_the_service_closes_every_conversation_when_one_fails(
        codec: HarmonyCodec) -> None:
    served = service(codec, [final("One."), final("Two.")])
    for text in ("1", "2"):
        await served.run(await served.prepare(parse_response_request({"input": text})))
    failing, other = served._chains.values()
    closed: list[str] = []

    async def broken() -> None:
        raise RuntimeError("the sandbox engine went away")

    async def tracked() -> None:
        closed.append(other.chain_id)

    failing.aclose = broken  # type: ignore[method-assign]
    other.aclose = tracked  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="went away"):
        await served.aclose()
    assert closed == [other.chain_id] and not served._chains


async def test_an_answer_rejected_by_the_output_schema_is_not_part_of_the_response(
        codec: HarmonyCodec) -> None:
    served = service(codec, [final('{"x": "no"}'), final('{"x": 1}')])
    schema = {"type": "object", "properties": {"x": {"type": "integer"}},
              "required": ["x"], "additionalProperties": False}
    events: list[dict[str, Any]] = []
    try:
        response = await served.run(await served.prepare(parse_response_request(
            {"input": "x", "stream": True,
             "text": {"format": {"type": "json_schema", "name": "n", "schema": schema}}})),
            events.append)
        assert response["status"] == "completed"
        assert [item["type"] for item in response["output"]] == ["message"]
        assert text_of(response) == '{"x": 1}'
        deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
        assert "".join(deltas) == '{"x": 1}'
    finally:
        await served.aclose()


async def test_a_bad_request_drops_no_kept_conversation(codec: HarmonyCodec) -> None:
    served = service(codec, [final("One.")], ServeLimits(max_conversations=1))
    try:
        first = await served.run(await served.prepare(parse_response_request(
            {"input": "1"})))
        with pytest.raises(HTTPError) as bad:  # the server has no python tool
            await served.prepare(parse_response_request(
                {"input": "2", "tools": [{"type": "code_interpreter"}]}))
        assert bad.value.status == 400
        assert served.retrieve(first["id"])["id"] == first["id"]
    finally:
        await served.aclose()


async def test_each_response_of_a_run_reports_its_own_usage(codec: HarmonyCodec) -> None:
    served = service(codec, [CALL_WEATHER, final("It is sunny in Paris.")])
    try:
        first = await served.run(await served.prepare(parse_response_request(
            {"input": "Weather in Paris?", "tools": [WEATHER_TOOL]})))
        (call,) = first["output"]
        second = await served.run(await served.prepare(parse_response_request(
            {"previous_response_id": first["id"], "input": [
                {"type": "function_call_output", "call_id": call["call_id"],
                 "output": "sunny"}]})))
        sampled = [len(codec.encode_with_special(text)) for text in
                   (CALL_WEATHER, final("It is sunny in Paris."))]
        assert [first["usage"]["output_tokens"], second["usage"]["output_tokens"]] == sampled
        prompts = served.served.backend.prompts  # type: ignore[attr-defined]
        assert second["usage"]["input_tokens"] == len(prompts[1])
    finally:
        await served.aclose()


async def test_a_conversation_waiting_for_a_client_that_never_answers_can_be_dropped(
        codec: HarmonyCodec) -> None:
    served = service(codec, [CALL_WEATHER, final("Hello.")],
                     ServeLimits(max_conversations=1, max_runs=2))
    try:
        first = await served.run(await served.prepare(parse_response_request(
            {"input": "Weather in Paris?", "tools": [WEATHER_TOOL]})))
        waiting = served._by_response[first["id"]]
        assert waiting.pending is not None
        second = await served.run(await served.prepare(parse_response_request(
            {"input": "Hi"})))
        assert text_of(second) == "Hello."
        assert not waiting.running  # its run was cancelled, its session closed
        with pytest.raises(HTTPError) as gone:
            served.retrieve(first["id"])
        assert gone.value.status == 404
    finally:
        await served.aclose()


@pytest.mark.parametrize(("reasoning", "shown"), [
    ({"effort": "high"}, "Reasoning: high"),
    ({"effort": "low"}, "Reasoning: low"),
    (None, "Reasoning: medium"),  # the served default when a request sets none
])
async def test_the_reasoning_effort_reaches_the_system_message(
        codec: HarmonyCodec, reasoning: dict[str, str] | None, shown: str) -> None:
    served = service(codec, [final("Done.")])
    body: dict[str, Any] = {"input": "Think."}
    if reasoning is not None:
        body["reasoning"] = reasoning
    try:
        await served.run(await served.prepare(parse_response_request(body)))
        (prompt,) = served.served.backend.prompts  # type: ignore[attr-defined]
        rendered = codec.decode(list(prompt))
        assert shown in rendered
        others = {"Reasoning: low", "Reasoning: medium", "Reasoning: high"} - {shown}
        assert not any(other in rendered for other in others)
    finally:
        await served.aclose()


async def test_a_second_request_for_a_conversation_in_progress_is_409(
        codec: HarmonyCodec) -> None:
    served = service(codec, [final("Hi."), final("Again."), final("Third.")])
    try:
        first = await served.run(await served.prepare(parse_response_request({"input": "a"})))
        later = {"input": "b", "previous_response_id": first["id"]}
        in_progress = await served.prepare(parse_response_request(later))
        with pytest.raises(HTTPError) as busy:
            await served.prepare(parse_response_request(later))
        assert busy.value.status == 409 and busy.value.code == "conversation_busy"
        second = await served.run(in_progress)
        assert text_of(second) == "Again."
        with pytest.raises(HTTPError) as stale:  # only the latest response goes on
            await served.prepare(parse_response_request(later))
        assert stale.value.status == 400 and "not the latest" in str(stale.value)
    finally:
        await served.aclose()


async def test_a_new_conversation_when_every_kept_one_is_in_progress_is_429(
        codec: HarmonyCodec) -> None:
    served = service(codec, [final("One."), final("Two.")],
                     ServeLimits(max_runs=4, max_conversations=1))
    try:
        in_progress = await served.prepare(parse_response_request({"input": "a"}))
        with pytest.raises(HTTPError) as full:
            await served.prepare(parse_response_request({"input": "b"}))
        assert full.value.status == 429 and full.value.code == "rate_limit_exceeded"
        assert "all of them are in use" in str(full.value)
        assert text_of(await served.run(in_progress)) == "One."
        # Once it has answered it is idle, and a new conversation may take its place.
        fresh = await served.run(await served.prepare(parse_response_request({"input": "b"})))
        assert text_of(fresh) == "Two."
    finally:
        await served.aclose()


@pytest.mark.parametrize(("change", "field"), [
    ({"tools": []}, "tools"),
    ({"instructions": "Be terse."}, "instructions"),
    ({"reasoning": {"effort": "high"}}, "reasoning"),
    ({"text": {"format": {"type": "json_object"}}}, "text"),
    ({"tool_choice": "none"}, "tool_choice"),
], ids=["tools", "instructions", "reasoning", "text", "tool_choice"])
async def test_a_continuation_may_repeat_its_settings_but_not_change_them(
        codec: HarmonyCodec, change: dict[str, Any], field: str) -> None:
    served = service(codec, [final("One."), final("Two.")], reasoning_effort="medium")
    first_body = {"tools": [WEATHER_TOOL], "instructions": "Answer weather questions."}
    try:
        first = await served.run(await served.prepare(parse_response_request(
            {"input": "a", **first_body})))
        later = {"input": "b", "previous_response_id": first["id"], **first_body}
        with pytest.raises(HTTPError) as changed:
            await served.prepare(parse_response_request({**later, **change}))
        assert changed.value.status == 400 and changed.value.param == field
        assert "differs from the first request" in str(changed.value)
        repeated = {**later, "reasoning": {"effort": "medium"}, "tool_choice": "auto",
                    "text": {"format": {"type": "text"}}}  # the served default, resent
        second = await served.run(await served.prepare(parse_response_request(repeated)))
        assert text_of(second) == "Two."
    finally:
        await served.aclose()

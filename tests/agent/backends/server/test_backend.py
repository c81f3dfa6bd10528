"""The server backend against a scripted, misbehaving HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gptoss_agent.agent.backends.base import GenerationRequest, ModelBackend, SamplingParams
from gptoss_agent.agent.backends.errors import (
    BackendUnavailableError,
    ServerRequestError,
    ServerUnavailableError,
)
from gptoss_agent.agent.backends.server import (
    RetryPolicy,
    ServerBackend,
    ServerBackendConfig,
)
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from tests.agent.backends.server.fake_server import (
    FakeServer,
    Gate,
    Stall,
    Status,
    Stream,
    text_chunks,
)

FAST = RetryPolicy(max_attempts=4, initial_delay=0.001, max_delay=0.01)
CALL = (
    '<|channel|>commentary to=functions.lookup <|constrain|>json<|message|>{"query": "rust borrow"}'
)
FINAL = "<|channel|>final<|message|>The answer is 42, as far as anyone can tell."


def request(
    codec: HarmonyCodec, max_tokens: int = 100, session: str = "s", prompt: str | None = None
) -> GenerationRequest:
    text = prompt or "<|start|>user<|message|>hello<|end|><|start|>assistant"
    return GenerationRequest(
        prompt=tuple(codec.encode_with_special(text)),
        stop_tokens=codec.assistant_stop_tokens,
        sampling=SamplingParams(temperature=0.0, max_tokens=max_tokens, seed=3),
        session_id=session,
    )


async def collect(backend: ModelBackend, req: GenerationRequest) -> list[int]:
    return [token async for token in backend.generate(req)]


def split(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def make(url: str, codec: HarmonyCodec, **settings: Any) -> ServerBackend:
    settings.setdefault("retry", FAST)
    return ServerBackend(ServerBackendConfig(base_url=url, **settings), codec=codec)


async def test_token_id_prompt_and_stop_reason(codec: HarmonyCodec) -> None:
    chunks = text_chunks(split(CALL), "stop", stop_reason=codec.special.call)
    chunks.append(
        {
            "choices": [],
            "usage": {"prompt_tokens": 9, "prompt_tokens_details": {"cached_tokens": 5}},
        }
    )
    async with FakeServer([Stream(chunks)]) as server:
        backend = make(server.url, codec)
        req = request(codec)
        tokens = await collect(backend, req)
        await backend.aclose()
    assert tokens == [*codec.encode_with_special(CALL), codec.special.call]
    sent = server.requests[0]
    assert sent["prompt"] == list(req.prompt)
    assert sent["stream"] is True and sent["temperature"] == 0.0 and sent["seed"] == 3
    assert sorted(sent["stop_token_ids"]) == sorted(codec.assistant_stop_tokens)
    stats = backend.last_stats("s")
    assert stats is not None
    assert (stats.prompt_tokens, stats.sampled_tokens) == (len(req.prompt), len(tokens))
    assert stats.prefilled_tokens == len(req.prompt) - 5


async def test_text_prompt_and_invisible_stops_like_llama_cpp(codec: HarmonyCodec) -> None:
    script = [Stream(text_chunks(split(CALL), "stop")), Stream(text_chunks(split(FINAL), "stop"))]
    async with FakeServer(script) as server:
        backend = ServerBackend(ServerBackendConfig.llama_cpp(server.url, retry=FAST), codec=codec)
        call = await collect(backend, request(codec))
        final = await collect(backend, request(codec))
        await backend.aclose()
    assert call[-1] == codec.special.call
    assert codec.decode(call[:-1]) == CALL
    assert final[-1] == codec.special.return_
    assert final[:-1] == codec.encode_with_special(FINAL)
    sent = server.requests[0]
    assert sent["prompt"] == "<|start|>user<|message|>hello<|end|><|start|>assistant"
    assert sorted(sent["stop"]) == ["<|call|>", "<|return|>"]
    assert "stop_token_ids" not in sent


async def test_length_finish_means_truncation(codec: HarmonyCodec) -> None:
    async with FakeServer([Stream(text_chunks(split(FINAL), "length"))]) as server:
        backend = make(server.url, codec)
        tokens = await collect(backend, request(codec))
        await backend.aclose()
    assert tokens == codec.encode_with_special(FINAL)


async def test_max_tokens_is_honoured_even_if_the_server_goes_on(codec: HarmonyCodec) -> None:
    async with FakeServer([Stream(text_chunks(split(FINAL, 3), "length"))]) as server:
        backend = make(server.url, codec)
        tokens = await collect(backend, request(codec, max_tokens=4))
        await backend.aclose()
    assert tokens == codec.encode_with_special(FINAL)[:4]
    assert server.requests[0]["max_tokens"] == 4


async def test_5xx_is_retried_with_backoff(codec: HarmonyCodec) -> None:
    script = [
        Status(503, {"error": {"message": "overloaded"}}),
        Status(502),
        Stream(text_chunks(split(FINAL), "stop", stop_reason=codec.special.return_)),
    ]
    async with FakeServer(script) as server:
        backend = make(server.url, codec)
        tokens = await collect(backend, request(codec))
        await backend.aclose()
    assert tokens[-1] == codec.special.return_
    assert len(server.requests) == 3
    assert backend.retries == 2


async def test_429_honours_retry_after(codec: HarmonyCodec) -> None:
    script = [
        Status(429, {"error": "slow down"}, {"Retry-After": "0"}),
        Stream(text_chunks(["ok"], "length")),
    ]
    async with FakeServer(script) as server:
        backend = make(server.url, codec)
        assert codec.decode(await collect(backend, request(codec))) == "ok"
        await backend.aclose()
    assert len(server.requests) == 2


async def test_4xx_fails_at_once_with_the_servers_message(codec: HarmonyCodec) -> None:
    async with FakeServer([Status(400, {"error": {"message": "prompt too long"}})]) as server:
        backend = make(server.url, codec)
        with pytest.raises(ServerRequestError) as caught:
            await collect(backend, request(codec))
        await backend.aclose()
    assert caught.value.status == 400
    assert "prompt too long" in str(caught.value)
    assert len(server.requests) == 1


async def test_persistent_5xx_gives_up_after_max_attempts(codec: HarmonyCodec) -> None:
    async with FakeServer([Status(500, {"error": {"message": "boom"}})]) as server:
        backend = make(server.url, codec)
        with pytest.raises(ServerUnavailableError, match="boom"):
            await collect(backend, request(codec))
        await backend.aclose()
    assert len(server.requests) == FAST.max_attempts


async def test_connection_refused_is_retried_then_reported(codec: HarmonyCodec) -> None:
    async with FakeServer([Status(200)]) as server:
        url = server.url
    backend = make(url, codec)  # nothing listens there any more
    with pytest.raises(ServerUnavailableError, match="ConnectError"):
        await collect(backend, request(codec))
    assert backend.retries == FAST.max_attempts - 1
    await backend.aclose()


async def test_a_broken_stream_resumes_where_it_stopped(codec: HarmonyCodec) -> None:
    words = "<|channel|>final<|message|>one two three four five six seven eight"
    req = request(codec, max_tokens=60)
    prompt_text = codec.decode(req.prompt)

    def resume(payload: dict[str, Any]) -> Stream:
        # Like a real server: continue the text from wherever the new prompt ends.
        already = codec.decode(payload["prompt"])[len(prompt_text) :]
        assert words.startswith(already)
        return Stream(text_chunks(split(words[len(already) :], 5), "stop"))

    first = split(words[:45], 5)  # "...one two three four", then the connection drops
    script = [Stream(text_chunks(first + ["X"] * 3, "stop"), hang_up_after=len(first))]
    script.append(Gate(1, resume))
    async with FakeServer(script) as server:
        backend = make(server.url, codec)
        tokens = await collect(backend, req)
        await backend.aclose()
    assert codec.decode(tokens[:-1]) == words
    assert tokens[-1] == codec.special.return_
    assert len(server.requests) == 2
    streamed_before_break = server.requests[1]["prompt"][len(req.prompt) :]
    # " four" was still held back (it might have grown into a longer word): not resent.
    assert codec.decode(streamed_before_break) == "<|channel|>final<|message|>one two three"
    assert server.requests[1]["max_tokens"] == 60 - len(streamed_before_break)


async def test_read_timeout_is_retried(codec: HarmonyCodec) -> None:
    async with FakeServer([Stall(), Stream(text_chunks(["fine"], "length"))]) as server:
        backend = make(server.url, codec, read_timeout=0.3)
        assert codec.decode(await collect(backend, request(codec))) == "fine"
        await backend.aclose()
    assert len(server.requests) == 2


async def test_many_sessions_share_one_client_concurrently(codec: HarmonyCodec) -> None:
    sessions = 16

    def answer(payload: dict[str, Any]) -> Stream:
        return Stream(text_chunks([f"<|channel|>final<|message|>{payload['prompt'][-2]}"], "stop"))

    async with FakeServer([Gate(sessions, answer)]) as server:
        backend = make(server.url, codec, session_header="X-Session-Id")
        reqs = [
            request(codec, session=f"s{i}", prompt=f"<|start|>user<|message|>{i}<|end|>")
            for i in range(sessions)
        ]
        # The gate answers only once all 16 requests are in flight at the same time.
        results = await asyncio.wait_for(
            asyncio.gather(*(collect(backend, r) for r in reqs)), timeout=60
        )
        await backend.aclose()
    for req, tokens in zip(reqs, results, strict=False):
        assert tokens[-1] == codec.special.return_
        assert codec.decode(tokens[:-1]).endswith(f"<|message|>{req.prompt[-2]}")
    assert sorted(h["x-session-id"] for h in server.headers) == sorted(
        f"s{i}" for i in range(sessions)
    )


async def test_closed_backend_refuses_work(codec: HarmonyCodec) -> None:
    backend = make("http://127.0.0.1:9/v1", codec)
    await backend.aclose()
    await backend.aclose()
    with pytest.raises(BackendUnavailableError):
        await collect(backend, request(codec))


def test_server_config_picks_the_preset_of_each_kind() -> None:
    from gptoss_agent.agent.backends import SERVER_KINDS, server_config

    assert SERVER_KINDS == ("vllm", "sglang", "llama.cpp", "gptoss-agent")
    config = server_config("llama.cpp", "http://127.0.0.1:1/v1", model="m", api_key="sekret")
    assert (config.prompt_format, config.model, config.api_key) == ("text", "m", "sekret")
    assert config == ServerBackendConfig.llama_cpp("http://127.0.0.1:1/v1", model="m",
                                                   api_key="sekret")
    vllm = server_config("vllm", "http://x/v1")
    assert vllm == ServerBackendConfig.vllm("http://x/v1")
    assert (vllm.prompt_format, vllm.model, vllm.api_key) == ("token_ids", "openai/gpt-oss-20b",
                                                              None)
    assert server_config("sglang", "http://x/v1") == ServerBackendConfig.sglang("http://x/v1")
    served = server_config("gptoss-agent", "http://x/v1")
    assert (served.session_header, served.model) == ("X-Session-Id", "gpt-oss")


def test_server_config_names_the_kinds_it_knows() -> None:
    from gptoss_agent.agent.backends.server import server_config

    with pytest.raises(ValueError) as caught:
        server_config("tgi", "http://x/v1")
    message = str(caught.value)
    assert "'tgi'" in message
    assert all(kind in message for kind in ("vllm", "sglang", "llama.cpp", "gptoss-agent"))


def test_backoff_grows_and_is_capped() -> None:
    import random

    policy = RetryPolicy(initial_delay=1.0, max_delay=5.0, multiplier=2.0, jitter=0.0)
    rng = random.Random(0)
    assert [policy.delay(n, rng) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    jittered = RetryPolicy(initial_delay=1.0, jitter=0.5)
    assert all(0.5 <= jittered.delay(1, rng) <= 1.0 for _ in range(50))

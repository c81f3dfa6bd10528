"""A server says its window: vLLM's ``max_model_len``, llama.cpp's ``n_ctx``; or nothing."""

from __future__ import annotations

import pytest

from gptoss_agent.agent.backends.base import backend_context_window
from gptoss_agent.agent.backends.server import ServerBackend
from gptoss_agent.agent.backends.server.config import server_config
from gptoss_agent.agent.backends.server.window import window_from_models, window_from_props
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from tests.agent.backends.server.fake_server import FakeServer, Status

VLLM_MODELS = {"object": "list", "data": [
    {"id": "other", "max_model_len": 8192},
    {"id": "openai/gpt-oss-20b", "max_model_len": 131072},
]}


async def test_vllm_lists_max_model_len_once(codec: HarmonyCodec) -> None:
    async with FakeServer([Status(200, VLLM_MODELS)]) as server:
        backend = ServerBackend(server_config("vllm", server.url), codec=codec)
        assert await backend_context_window(backend) == 131072
        assert await backend.context_window() == 131072
        assert len(server.requests) == 1  # asked once per backend
        await backend.aclose()


async def test_llama_cpp_props_give_n_ctx(codec: HarmonyCodec) -> None:
    props = {"default_generation_settings": {"n_ctx": 4096}, "total_slots": 1}
    async with FakeServer([Status(200, props)]) as server:
        backend = ServerBackend(server_config("llama.cpp", server.url), codec=codec)
        assert await backend.context_window() == 4096
        await backend.aclose()


async def test_a_server_that_says_nothing_has_no_window(codec: HarmonyCodec) -> None:
    silent = {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "me"}]}
    async with FakeServer([Status(404), Status(200, silent)]) as server:
        backend = ServerBackend(server_config("llama.cpp", server.url), codec=codec)
        assert await backend_context_window(backend) is None
        await backend.aclose()


def test_odd_answers_are_no_window() -> None:
    assert window_from_models({"data": "x"}, None) is None
    assert window_from_models({"data": [{"id": "m", "max_model_len": True}]}, "m") is None
    assert window_from_models({"data": [{"id": "m", "meta": {"n_ctx": 2048}}]}, "x") == 2048
    assert window_from_props({"n_ctx": -1}) is None and window_from_props([]) is None
    assert window_from_props({"n_ctx": 512}) == 512


async def test_an_unreachable_server_is_asked_again_later(
        codec: HarmonyCodec, monkeypatch: pytest.MonkeyPatch) -> None:
    from gptoss_agent.agent.backends.server import backend as module

    async with FakeServer([Status(200, VLLM_MODELS)]) as server:
        url = server.url
    answers: list[object] = []
    real = module.server_window

    async def flaky(*args: object) -> int | None:
        answers.append(args)
        if len(answers) == 1:
            return await real(*args)  # type: ignore[arg-type]  # the server is gone now
        return 4096

    monkeypatch.setattr(module, "server_window", flaky)
    backend = ServerBackend(server_config("vllm", url), codec=codec)
    assert await backend.context_window() is None  # connection refused: not known yet
    assert await backend.context_window() == 4096  # asked again, and kept
    assert await backend.context_window() == 4096 and len(answers) == 2
    await backend.aclose()


async def test_a_session_asks_again_while_the_window_is_unknown(codec: HarmonyCodec) -> None:
    from gptoss_agent.agent.agent import Agent
    from gptoss_agent.agent.state import context_window

    class Late:
        calls = 0

        async def context_window(self) -> int | None:
            Late.calls += 1
            return None if Late.calls == 1 else 4096

    agent = Agent(ServerBackend(server_config("vllm", "http://127.0.0.1:9/v1"), codec=codec),
                  codec=codec)
    session = agent.session()
    session.state.backend = Late()  # type: ignore[assignment]
    assert await context_window(session.state) is None
    assert await context_window(session.state) == 4096
    assert await context_window(session.state) == 4096 and Late.calls == 2
    await session.aclose()
    await agent.model.aclose()

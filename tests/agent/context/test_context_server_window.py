"""A server says its window: vLLM's ``max_model_len``, llama.cpp's ``n_ctx``; or nothing."""

from __future__ import annotations

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

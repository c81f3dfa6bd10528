"""Decoding constraints over the wire: what the server backend sends to each server kind."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest

from gptoss_agent.agent.backends.base import GenerationRequest
from gptoss_agent.agent.backends.constraint import CallTarget, DecodingConstraint
from gptoss_agent.agent.backends.server import ServerBackend, ServerBackendConfig, server_config
from gptoss_agent.agent.backends.server.config import LLAMA_CPP_NO_GRAMMAR
from gptoss_agent.agent.backends.transformers.grammar import harmony_grammar
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from tests.agent.backends.server.fake_server import FakeServer, Gate, Stream, text_chunks
from tests.agent.backends.server.test_backend import CALL, FAST, collect, request, split

CONSTRAINT = DecodingConstraint(
    calls=(CallTarget("functions.lookup", schema={"type": "object", "properties": {
        "query": {"type": "string"}}, "required": ["query"]}),),
    tool_choice="required")


def constrained(codec: HarmonyCodec) -> GenerationRequest:
    return dataclasses.replace(request(codec), constraint=CONSTRAINT)


async def sent_body(config: ServerBackendConfig, codec: HarmonyCodec,
                    req: GenerationRequest) -> dict[str, object]:
    chunks = text_chunks(split(CALL), "stop", stop_reason=codec.special.call)
    async with FakeServer([Stream(chunks)]) as server:
        backend = ServerBackend(dataclasses.replace(config, base_url=server.url), codec=codec)
        tokens = await collect(backend, req)
        await backend.aclose()
    assert tokens[-1] == codec.special.call
    return server.requests[0]


async def test_vllm_gets_the_harmony_grammar_in_structured_outputs(codec: HarmonyCodec) -> None:
    config = ServerBackendConfig.vllm("http://unused/v1", constrain=True, retry=FAST)
    body = await sent_body(config, codec, constrained(codec))
    assert body["structured_outputs"] == {"grammar": harmony_grammar(CONSTRAINT)}
    grammar = harmony_grammar(CONSTRAINT)
    assert grammar.startswith("%llguidance") and "<|call|>" in grammar
    assert ServerBackend(config, codec=codec).constrains


async def test_older_vllm_and_sglang_get_it_in_their_own_fields(codec: HarmonyCodec) -> None:
    old = ServerBackendConfig.vllm("http://unused/v1", constraint_field="guided_grammar",
                                   retry=FAST)
    assert (await sent_body(old, codec, constrained(codec)))["guided_grammar"] == \
        harmony_grammar(CONSTRAINT)
    sglang = ServerBackendConfig.sglang("http://unused/v1", constrain=True, retry=FAST)
    body = await sent_body(sglang, codec, constrained(codec))
    assert body["ebnf"] == harmony_grammar(CONSTRAINT)
    assert "structured_outputs" not in body


async def test_no_grammar_without_a_constraint_or_without_opting_in(
        codec: HarmonyCodec, caplog: pytest.LogCaptureFixture) -> None:
    opted_in = ServerBackendConfig.vllm("http://unused/v1", constrain=True, retry=FAST)
    assert "structured_outputs" not in await sent_body(opted_in, codec, request(codec))
    plain = ServerBackendConfig.vllm("http://unused/v1", retry=FAST)
    with caplog.at_level(logging.WARNING):
        body = await sent_body(plain, codec, constrained(codec))
    assert "structured_outputs" not in body and "guided_grammar" not in body
    assert "sends no decoding constraint" in caplog.text
    assert not ServerBackend(plain, codec=codec).constrains


async def test_llama_cpp_never_gets_a_grammar_and_says_why_once(
        codec: HarmonyCodec, caplog: pytest.LogCaptureFixture) -> None:
    config = ServerBackendConfig.llama_cpp("http://unused/v1", retry=FAST)
    chunks = text_chunks(split(CALL), "stop")
    async with FakeServer([Stream(chunks)]) as server:
        backend = ServerBackend(dataclasses.replace(config, base_url=server.url), codec=codec)
        with caplog.at_level(logging.WARNING):
            for _ in range(3):
                tokens = await collect(backend, constrained(codec))
                assert tokens[-1] == codec.special.call
        assert not backend.constrains
        await backend.aclose()
    assert all("grammar" not in body and "ebnf" not in body and "structured_outputs" not in body
               for body in server.requests)
    warnings = [record.getMessage() for record in caplog.records]
    assert warnings.count(LLAMA_CPP_NO_GRAMMAR) == 1
    assert "crashes on a grammar that names a stop token" in LLAMA_CPP_NO_GRAMMAR


def test_servers_that_cannot_take_a_grammar_refuse_to_be_asked() -> None:
    with pytest.raises(ValueError, match="llama.cpp's server crashes"):
        ServerBackendConfig.llama_cpp("http://x/v1", constrain=True)
    with pytest.raises(ValueError, match="llama.cpp's server crashes"):
        ServerBackendConfig.llama_cpp("http://x/v1", constraint_field="ebnf")
    with pytest.raises(ValueError, match="gptoss-agent serve"):
        server_config("gptoss-agent", "http://x/v1", constrain=True)
    with pytest.raises(ValueError, match="constraint_field must be one of"):
        ServerBackendConfig("http://x/v1", constraint_field="grammar")  # type: ignore[arg-type]
    assert server_config("vllm", "http://x/v1", constrain=True).constraint_field == \
        "structured_outputs"
    assert server_config("sglang", "http://x/v1", constrain=True).constraint_field == "ebnf"
    assert server_config("llama.cpp", "http://x/v1").kind == "llama.cpp"


async def test_a_resumed_stream_goes_without_the_grammar(codec: HarmonyCodec,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    req = constrained(codec)

    def resume(payload: dict[str, Any]) -> Stream:
        already = codec.decode(payload["prompt"][len(req.prompt):])
        return Stream(text_chunks(split(CALL[len(already):]), "stop",
                                  stop_reason=codec.special.call))

    first = Stream(text_chunks(split(CALL), "stop"), hang_up_after=4)
    config = ServerBackendConfig.vllm("http://unused/v1", constrain=True, retry=FAST)
    async with FakeServer([first, Gate(1, resume)]) as server:
        backend = ServerBackend(dataclasses.replace(config, base_url=server.url), codec=codec)
        with caplog.at_level(logging.WARNING):
            tokens = await collect(backend, req)
        await backend.aclose()
    assert codec.decode(tokens[:-1]) == CALL
    assert len(server.requests[1]["prompt"]) > len(req.prompt)  # it did resume
    assert "structured_outputs" in server.requests[0]
    assert "structured_outputs" not in server.requests[1]
    assert "resumed after a break" in caplog.text

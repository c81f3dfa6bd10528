"""Constrained decoding on a random tiny GptOss: what comes out always matches the constraint.

The model is random except that it ends a free-text message after a handful of tokens
(``end_bias``), so a completion gets through its messages within a small budget. Left
alone, its tool arguments are never JSON; under a constraint they always match the
tool's schema, and the tool choice decides how every completion ends.
"""

from __future__ import annotations

import asyncio
import logging
import random
from pathlib import Path
from typing import Any

import pytest

from gptoss_agent.agent.backends.base import GenerationRequest, SamplingParams
from gptoss_agent.agent.backends.constraint import CallTarget, DecodingConstraint
from gptoss_agent.agent.backends.errors import BackendError
from gptoss_agent.agent.backends.transformers.constraint_kit import (
    arguments_valid,
    last_message,
    random_schema,
)
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from tests.agent.backends.conftest import need_torch
from tests.agent.backends.transformers.helpers import load, need_llguidance

PYTHON = CallTarget("python", channels=("analysis", "commentary"), freeform=True)
NOTE = CallTarget("functions.note")
BUDGET = 1200


@pytest.fixture(scope="module")
def chatty_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny GptOss that ends its free-text messages soon."""
    need_torch()
    need_llguidance()
    from gptoss_agent.agent.backends.transformers.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("chatty"), seed=7, end_bias=10.0)


@pytest.fixture
def backend(chatty_dir: Path) -> Any:
    loaded = load(chatty_dir)
    yield loaded
    asyncio.run(loaded.aclose())


def prompt(codec: HarmonyCodec, index: int, header: str = "") -> tuple[int, ...]:
    text = (f"<|start|>user<|message|>Task number {index}: use a tool.<|end|>"
            f"<|start|>assistant{header}")
    return tuple(codec.encode_with_special(text))


async def sample(backend: Any, codec: HarmonyCodec, tokens: tuple[int, ...], seed: int,
                 constraint: DecodingConstraint | None = None, *,
                 temperature: float = 1.0) -> list[int]:
    request = GenerationRequest(
        prompt=tokens, stop_tokens=codec.assistant_stop_tokens,
        sampling=SamplingParams(temperature=temperature, max_tokens=BUDGET, seed=seed),
        session_id=f"s{seed}-{constraint is not None}", constraint=constraint)
    return [token async for token in backend.generate(request)]


def is_json(text: str) -> bool:
    import json

    try:
        json.loads(text)
    except ValueError:
        return False
    return True


async def test_random_schemas_are_always_met_under_constraints(backend: Any,
                                                               codec: HarmonyCodec) -> None:
    rng = random.Random(5)
    schemas = [random_schema(rng) for _ in range(20)]
    names = [f"functions.tool_{index}" for index in range(len(schemas))]
    free = await asyncio.gather(*(
        sample(backend, codec, prompt(codec, i, f"<|channel|>commentary to={name} "
                                                "<|constrain|>json<|message|>"), i)
        for i, name in enumerate(names)))
    constrained = await asyncio.gather(*(
        sample(backend, codec, prompt(codec, i), i, DecodingConstraint(
            calls=(CallTarget(name, schema=schema), PYTHON), tool_choice=name))
        for i, (name, schema) in enumerate(zip(names, schemas, strict=True))))

    free_bodies = [codec.decode([t for t in tokens if t not in codec.assistant_stop_tokens])
                   for tokens in free]
    assert not any(is_json(body) for body in free_bodies)
    for tokens, name, schema in zip(constrained, names, schemas, strict=True):
        message = last_message(tokens, codec)
        assert message.stop == codec.special.call and message.recipient == name
        assert arguments_valid(message.body, schema), (message.body, schema)
    assert backend.counters.batched_decode_steps > 0  # the sessions shared decode steps


async def test_required_always_ends_in_a_call_to_an_enabled_tool(backend: Any,
                                                                 codec: HarmonyCodec) -> None:
    schema = random_schema(random.Random(6))
    weather = CallTarget("functions.weather", schema=schema)
    required = DecodingConstraint(calls=(weather, PYTHON, NOTE), tool_choice="required")
    results = await asyncio.gather(*(sample(backend, codec, prompt(codec, seed), seed, required)
                                     for seed in range(16)))
    recipients = set()
    for tokens in results:
        message = last_message(tokens, codec)
        assert message.stop == codec.special.call
        assert message.recipient in {"functions.weather", "python", "functions.note"}
        if message.recipient == "functions.weather":
            assert arguments_valid(message.body, schema)
        recipients.add(message.recipient)
    assert len(recipients) > 1  # the choice among them is the model's


async def test_a_named_choice_calls_that_tool(backend: Any, codec: HarmonyCodec) -> None:
    named = DecodingConstraint(calls=(CallTarget("functions.weather"), PYTHON),
                               tool_choice="python")
    results = await asyncio.gather(*(sample(backend, codec, prompt(codec, seed), seed, named)
                                     for seed in range(12)))
    for tokens in results:
        message = last_message(tokens, codec)
        assert message.stop == codec.special.call and message.recipient == "python"


async def test_none_always_ends_in_a_final_answer(backend: Any, codec: HarmonyCodec) -> None:
    none = DecodingConstraint(calls=(CallTarget("functions.weather"), PYTHON),
                              tool_choice="none")
    results = await asyncio.gather(*(sample(backend, codec, prompt(codec, seed), seed, none)
                                     for seed in range(12)))
    for tokens in results:
        message = last_message(tokens, codec)
        assert message.stop == codec.special.return_ and message.header == "final"
        assert "to=" not in codec.decode(tokens)


async def test_a_final_schema_answer_parses_and_validates(backend: Any,
                                                          codec: HarmonyCodec) -> None:
    rng = random.Random(8)
    schemas = [random_schema(rng) for _ in range(8)]
    results = await asyncio.gather(*(
        sample(backend, codec, prompt(codec, seed), seed,
               DecodingConstraint(calls=(PYTHON,), tool_choice="none", final_schema=schema))
        for seed, schema in enumerate(schemas)))
    for tokens, schema in zip(results, schemas, strict=True):
        message = last_message(tokens, codec)
        assert message.stop == codec.special.return_
        assert message.header.startswith("final")
        assert arguments_valid(message.body, schema), (message.body, schema)


async def test_constrained_and_free_sessions_share_a_batch(chatty_dir: Path, backend: Any,
                                                           codec: HarmonyCodec) -> None:
    """Free rows decode as they would alone (greedy: exact); constrained rows match."""
    schema = random_schema(random.Random(9))
    constraint = DecodingConstraint(calls=(CallTarget("functions.f", schema=schema),),
                                    tool_choice="required")

    async def free(seed: int, on: Any) -> list[int]:
        request = GenerationRequest(
            prompt=prompt(codec, seed), stop_tokens=codec.assistant_stop_tokens,
            sampling=SamplingParams(temperature=0.0, max_tokens=64), session_id=f"f{seed}")
        return [token async for token in on.generate(request)]

    jobs = [free(seed, backend) if seed % 2 == 0 else
            sample(backend, codec, prompt(codec, seed), seed, constraint)
            for seed in range(8)]
    together = await asyncio.gather(*jobs)
    lone = load(chatty_dir, decode_batch=1)
    try:
        alone = [await free(seed, lone) for seed in range(0, 8, 2)]
    finally:
        await lone.aclose()
    assert together[0::2] == alone
    for tokens in together[1::2]:
        message = last_message(tokens, codec)
        assert message.recipient == "functions.f" and message.stop == codec.special.call
        assert arguments_valid(message.body, schema)
    assert backend.counters.batched_decode_steps > 0


@pytest.mark.parametrize("compact_head", [True, False])
async def test_a_restricted_vocabulary_is_masked_too(chatty_dir: Path, codec: HarmonyCodec,
                                                     compact_head: bool) -> None:
    from gptoss_agent.agent.backends.transformers import (
        TransformersBackend,
        TransformersBackendConfig,
    )

    base = load(chatty_dir)
    allowed = sorted({*range(4000), *range(199_998, 201_088)})
    restricted = TransformersBackend(
        base.model, TransformersBackendConfig(model="", compact_head=compact_head),
        allowed_ids=allowed)
    try:
        schema = random_schema(random.Random(10))
        constraint = DecodingConstraint(calls=(CallTarget("functions.f", schema=schema),),
                                        tool_choice="functions.f")
        results = await asyncio.gather(*(sample(restricted, codec, prompt(codec, seed), seed,
                                                constraint) for seed in range(6)))
    finally:
        await restricted.aclose()
        await base.aclose()
    allowed_set = set(allowed)
    for tokens in results:
        assert set(tokens) <= allowed_set
        assert arguments_valid(last_message(tokens, codec).body, schema)


async def test_a_dead_end_fails_its_own_session_only(chatty_dir: Path,
                                                     codec: HarmonyCodec) -> None:
    from gptoss_agent.agent.backends.transformers import (
        TransformersBackend,
        TransformersBackendConfig,
    )
    from gptoss_agent.agent.backends.transformers.grammar import ConstraintError

    base = load(chatty_dir)
    # Enough to write the headers, nothing to open a JSON object with.
    pieces = ("analysis", "commentary", "final", "assistant", " to=functions.f", " x y z")
    allowed = sorted({*(t for piece in pieces for t in codec.encode_text(piece)),
                      *range(199_998, 201_088)})
    narrow = TransformersBackend(base.model, TransformersBackendConfig(model=""),
                                 allowed_ids=allowed)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    constraint = DecodingConstraint(calls=(CallTarget("functions.f", schema=schema),),
                                    tool_choice="functions.f")
    try:
        stuck, free = await asyncio.gather(
            sample(narrow, codec, prompt(codec, 1), 1, constraint),
            sample(narrow, codec, prompt(codec, 2), 2), return_exceptions=True)
        assert isinstance(stuck, ConstraintError) and isinstance(stuck, BackendError)
        assert "allows no token this model can produce" in str(stuck)
        assert narrow.last_stats("s1-True").sampled_tokens > 8  # it got as far as the call
        assert isinstance(free, list) and free
        # The stuck session's cache is still consistent: its next turn runs.
        again = await sample(narrow, codec, prompt(codec, 1), 1)
        assert again and narrow.cached_tokens("s1-False") > 0
    finally:
        await narrow.aclose()
        await base.aclose()


async def test_a_constraint_that_cannot_be_written_fails_before_sampling(
        backend: Any, codec: HarmonyCodec) -> None:
    from gptoss_agent.agent.backends.transformers.grammar import ConstraintError

    bad = DecodingConstraint(calls=(CallTarget("functions.two words"),))
    with pytest.raises(ConstraintError, match="Harmony header"):
        await sample(backend, codec, prompt(codec, 0), 0, bad)
    assert backend.constrains


async def test_without_llguidance_a_constraint_is_ignored_with_one_warning(
        backend: Any, codec: HarmonyCodec, caplog: pytest.LogCaptureFixture) -> None:
    backend._constrains = False
    none = DecodingConstraint(tool_choice="none")
    with caplog.at_level(logging.WARNING):
        first = await sample(backend, codec, prompt(codec, 3), 3, none, temperature=0.0)
        await sample(backend, codec, prompt(codec, 4), 4, none, temperature=0.0)
    free = await sample(backend, codec, prompt(codec, 3), 3, temperature=0.0)
    assert first == free
    assert [record.message for record in caplog.records].count(
        "llguidance is not installed: decoding constraints are ignored "
        "(pip install 'gptoss-agent[transformers]')") == 1
    assert not backend.constrains


async def test_the_agent_gets_strict_calls_and_typed_output_from_a_random_model(
        backend: Any, codec: HarmonyCodec) -> None:
    """Through the whole loop, with random weights: tool_choice required gives a strict
    call whose arguments the tool accepts, and an output type gives a valid answer."""
    import jsonschema

    from gptoss_agent import Agent, LoopLimits, SamplingParams, StopReason, function_tool

    seen: list[dict[str, Any]] = []

    @function_tool(strict=True)
    def note(text: str, count: int) -> str:
        """Write a note."""
        seen.append({"text": text, "count": count})
        return "noted"

    sampling = SamplingParams(temperature=1.0, max_tokens=BUDGET, seed=3)
    calling = Agent(model=backend, tools=[note], codec=codec, conversation_start_date="",
                    sampling=sampling, limits=LoopLimits(max_generations=1),
                    tool_choice="required")
    called = await calling.run("Take a note.")
    assert called.stop_reason is StopReason.MAX_GENERATIONS  # one generation: the call
    assert called.tool_calls == 1 and called.tool_errors == 0 and len(seen) == 1

    schema = random_schema(random.Random(11))
    answering = Agent(model=backend, codec=codec, conversation_start_date="",
                      sampling=sampling, limits=LoopLimits(max_generations=2),
                      output_type=schema)
    answered = await answering.run("Answer in the format.")
    assert answered.stop_reason is StopReason.FINAL, (answered.error, answered.incidents)
    jsonschema.validate(answered.output, schema)

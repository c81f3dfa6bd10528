"""``gptoss-agent serve`` as a real server process on 127.0.0.1, driven by the server backend."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gptoss_agent.agent.backends.base import GenerationRequest, SamplingParams
from gptoss_agent.agent.backends.errors import ServerRequestError
from gptoss_agent.agent.backends.server import ServerBackend, ServerBackendConfig
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from tests.agent.backends.conftest import need_torch

REPO = Path(__file__).resolve().parents[4]


@dataclass(frozen=True)
class Served:
    url: str
    model_dir: Path


@pytest.fixture(scope="module")
def served(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    need_torch()
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    command = [
        sys.executable,
        "-m",
        "gptoss_agent.agent.cli.serve",
        str(tiny_model_dir),
        "--port",
        "0",
        "--device",
        "cpu",
        "--threads",
        "1",
        "--model-name",
        "tiny",
    ]
    with log.open("w") as stderr:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
    assert process.stdout is not None
    line = process.stdout.readline()  # blocks until ready, or EOF if the server died
    if not line.startswith("listening on "):
        process.kill()
        pytest.fail(f"serve did not start: {line!r}\n{log.read_text()[-3000:]}")
    try:
        yield Served(url=line.split()[-1], model_dir=tiny_model_dir)
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0, log.read_text()[-3000:]


def prompt_tokens(codec: HarmonyCodec, seed: int) -> tuple[int, ...]:
    rng = random.Random(seed)
    body = " ".join(
        rng.choice(["alpha", "beta", "gamma", "delta", "tool", "output"]) for _ in range(60)
    )
    text = f"<|start|>user<|message|>{body}<|end|><|start|>assistant"
    return tuple(codec.encode_with_special(text))


async def collect(
    backend: ServerBackend, prompt: tuple[int, ...], session: str, n: int = 6
) -> list[int]:
    request = GenerationRequest(
        prompt=prompt,
        stop_tokens=frozenset({200002, 200012}),
        sampling=SamplingParams(temperature=0, max_tokens=n),
        session_id=session,
    )
    return [token async for token in backend.generate(request)]


async def test_served_tokens_equal_in_process_tokens_and_cache_is_reused(
    served: Served, codec: HarmonyCodec
) -> None:
    from gptoss_agent.agent.backends.transformers.backend import (
        TransformersBackend,
        TransformersBackendConfig,
    )

    local = TransformersBackend.load(
        TransformersBackendConfig(model=str(served.model_dir), device="cpu")
    )
    remote = ServerBackend(ServerBackendConfig.gptoss_serve(served.url, model="tiny"), codec=codec)
    try:
        prompt = prompt_tokens(codec, 1)
        appended = 0
        for turn in range(3):
            via_server = await collect(remote, prompt, "agent-1")
            in_process = [
                t
                async for t in local.generate(
                    GenerationRequest(
                        prompt=prompt,
                        stop_tokens=frozenset({200002, 200012}),
                        sampling=SamplingParams(temperature=0, max_tokens=6),
                        session_id="x",
                    )
                )
            ]
            assert via_server == in_process, f"turn {turn}"
            stats = remote.last_stats("agent-1")
            assert stats is not None and stats.sampled_tokens == len(via_server)
            if turn:
                # The server reported how much of the prompt its per-session cache held.
                assert stats.prefilled_tokens == appended + 1
            else:
                assert stats.prefilled_tokens == len(prompt)
            tool = f"<|start|>functions.f to=assistant<|message|>result {turn}<|end|>"
            extra = tuple(codec.encode_with_special(tool + "<|start|>assistant"))
            appended = len(extra)
            prompt = prompt + tuple(via_server) + extra
    finally:
        await remote.aclose()
        await local.aclose()


async def test_text_prompts_are_tokenized_with_special_tokens(
    served: Served, codec: HarmonyCodec
) -> None:
    by_ids = ServerBackend(ServerBackendConfig.gptoss_serve(served.url), codec=codec)
    by_text = ServerBackend(
        ServerBackendConfig(base_url=served.url, prompt_format="text"), codec=codec
    )
    try:
        prompt = prompt_tokens(codec, 2)
        assert await collect(by_ids, prompt, "ids") == await collect(by_text, prompt, "text")
    finally:
        await by_ids.aclose()
        await by_text.aclose()


async def test_bad_requests_get_400(served: Served, codec: HarmonyCodec) -> None:
    async with httpx.AsyncClient(base_url=served.url + "/") as client:
        bad = await client.post("completions", json={"prompt": [1, 2], "temperature": -1})
        assert bad.status_code == 400
        assert "temperature" in bad.json()["error"]["message"]
        assert (await client.post("completions", json={"prompt": {"x": 1}})).status_code == 400
        assert (await client.get("nowhere")).status_code == 404
        models = (await client.get("models")).json()
        assert models["data"][0]["id"] == "tiny"
        whole = (
            await client.post(
                "completions", json={"prompt": [1, 2, 3], "max_tokens": 3, "temperature": 0}
            )
        ).json()
        choice = whole["choices"][0]
        assert len(choice["token_ids"]) == 3 and choice["finish_reason"] == "length"
        assert choice["text"] == codec.decode(choice["token_ids"])
    backend = ServerBackend(ServerBackendConfig.gptoss_serve(served.url), codec=codec)
    try:
        with pytest.raises(ServerRequestError) as caught:
            await collect(backend, (-5, 3), "neg")
        assert caught.value.status == 400
    finally:
        await backend.aclose()


async def test_concurrent_sessions_through_the_server(served: Served, codec: HarmonyCodec) -> None:
    backend = ServerBackend(ServerBackendConfig.gptoss_serve(served.url), codec=codec)
    try:
        prompts = [prompt_tokens(codec, 10 + i) for i in range(4)]
        together = await asyncio.gather(
            *(collect(backend, p, f"c{i}") for i, p in enumerate(prompts))
        )
        alone = [await collect(backend, p, "solo") for p in prompts]
        assert list(together) == alone
    finally:
        await backend.aclose()


@pytest.mark.parametrize(("arguments", "code", "message"), [
    (["--decode-batch", "0"], 2, "gptoss-agent serve: decode_batch must be >= 1, got 0"),
    ([], 4, "gptoss-agent serve: cannot start: no checkpoint folder at "),
])
def test_bad_settings_and_missing_models_exit_cleanly(tmp_path: Path, arguments: list[str],
                                                      code: int, message: str) -> None:
    need_torch()
    completed = subprocess.run(
        [sys.executable, "-m", "gptoss_agent.agent.cli.serve", str(tmp_path / "none"),
         "--device", "cpu", *arguments],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == code
    assert message in completed.stderr and "Traceback" not in completed.stderr


def test_a_device_that_is_not_there_is_a_load_error(tiny_model_dir: Path) -> None:
    completed = subprocess.run(  # no machine has a hundredth GPU, or torch without CUDA
        [sys.executable, "-m", "gptoss_agent.agent.cli.serve", str(tiny_model_dir),
         "--device", "cuda:99"],
        capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 4
    assert "gptoss-agent serve: cannot start: " in completed.stderr
    assert "Traceback" not in completed.stderr


def test_the_same_app_serves_the_agent_and_keeps_its_cache(served: Served) -> None:
    import openai

    api = openai.OpenAI(base_url=served.url, api_key="unused", max_retries=0, timeout=120)
    first = api.responses.create(model="tiny", input="alpha beta gamma", max_output_tokens=6,
                                 temperature=0)
    assert first.object == "response" and first.model == "tiny"
    assert first.status in ("completed", "incomplete", "failed")
    assert first.usage is not None and first.usage.input_tokens > 0
    second = api.responses.create(model="tiny", input="delta", previous_response_id=first.id,
                                  max_output_tokens=6, temperature=0)
    assert second.usage is not None
    # the conversation's session kept its KV cache: the first prompt was not prefilled again
    assert second.usage.input_tokens_details.cached_tokens > 0
    assert api.responses.retrieve(first.id).id == first.id

"""The server backend against a REAL llama.cpp server (``llama-cpp-python[server]``).

The tiny GptOss model is *steered* (see ``tiny.build_tiny_model``) to write a tool call
ending on ``<|call|>`` after ``...<|start|>assistant``, and `` Done.<|return|>`` after
`` Done``; it is converted to GGUF with llama.cpp's own ``convert_hf_to_gguf.py`` (from the
llama-cpp-python source archive, unpacked by scripts/setup.d/10-backends.sh) next to a
Hugging Face tokenizer equivalent to o200k_harmony. llama.cpp's server takes text prompts
only and ends on both stop tokens invisibly, so these tests show the client telling
``<|call|>`` from ``<|return|>`` by itself.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gptoss_agent.agent.backends.base import (
    GenerationRequest,
    SamplingParams,
    backend_context_window,
)
from gptoss_agent.agent.backends.errors import ServerUnavailableError
from gptoss_agent.agent.backends.server import (
    RetryPolicy,
    ServerBackend,
    ServerBackendConfig,
)
from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec
from tests.agent.backends.conftest import HAS_TORCH
from tests.support import free_port, require_or_skip, stop_process

CALL_PROMPT = "<|start|>user<|message|>find x<|end|><|start|>assistant"
CALL_COMPLETION = "<|channel|>commentary to=functions.lookup<|message|>{}"
RETURN_PROMPT = (
    "<|start|>user<|message|>hi<|end|><|start|>assistant<|channel|>final<|message|> Done"
)
RETURN_COMPLETION = "."
FAST = RetryPolicy(max_attempts=2, initial_delay=0.001, max_delay=0.01)


def converter() -> Path | None:
    explicit = os.environ.get("GPTOSS_LLAMA_CPP_CONVERTER")
    if explicit:
        return Path(explicit)
    if importlib.util.find_spec("llama_cpp") is None:
        return None
    import llama_cpp

    cache = Path(os.environ.get("GPTOSS_AGENT_BUILD_CACHE", "/var/cache/gptoss-agent"))
    return cache / f"llama.cpp-{llama_cpp.__version__}" / "convert_hf_to_gguf.py"


def transitions(codec: HarmonyCodec) -> dict[int, int]:
    chains = [
        codec.encode_with_special("assistant" + CALL_COMPLETION + "<|call|>"),
        codec.encode_with_special(" Done" + RETURN_COMPLETION + "<|return|>"),
    ]
    steps = {a: b for chain in chains for a, b in itertools.pairwise(chain)}
    assert len(steps) == sum(len(chain) - 1 for chain in chains), "chains must not share tokens"
    return steps


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    script = converter()
    server_ok = importlib.util.find_spec("llama_cpp") is not None and (
        importlib.util.find_spec("uvicorn") is not None
    )
    require_or_skip(HAS_TORCH and server_ok, "llama-cpp-python[server] or torch is not installed")
    require_or_skip(script is not None and script.is_file(), f"no llama.cpp converter at {script}")
    assert script is not None
    from gptoss_agent.agent.backends.transformers.tiny import (
        build_harmony_tokenizer,
        build_tiny_model,
    )

    folder = tmp_path_factory.mktemp("llama")
    model_dir = build_tiny_model(folder / "hf", seed=3, transitions=transitions(load_codec()))
    build_harmony_tokenizer(model_dir)
    gguf = folder / "tiny.gguf"
    converted = subprocess.run(
        [sys.executable, str(script), str(model_dir), "--outfile", str(gguf), "--outtype", "f32"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert converted.returncode == 0, converted.stderr[-3000:]
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:  # ends at EOF if the server dies
        seen.append(line)
        if "Uvicorn running on" in line:
            break
    else:
        pytest.fail("llama.cpp server did not start:\n" + "".join(seen[-40:]))
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        stop_process(process, 30)


def request(
    codec: HarmonyCodec, text: str, max_tokens: int = 40, session: str = "s"
) -> GenerationRequest:
    return GenerationRequest(
        prompt=tuple(codec.encode_with_special(text)),
        stop_tokens=codec.assistant_stop_tokens,
        sampling=SamplingParams(temperature=0.0, max_tokens=max_tokens),
        session_id=session,
    )


async def collect(backend: ServerBackend, req: GenerationRequest) -> list[int]:
    return [token async for token in backend.generate(req)]


async def test_tells_call_from_return(llama_server: str, codec: HarmonyCodec) -> None:
    backend = ServerBackend(ServerBackendConfig.llama_cpp(llama_server), codec=codec)
    try:
        call = await collect(backend, request(codec, CALL_PROMPT))
        final = await collect(backend, request(codec, RETURN_PROMPT))
    finally:
        await backend.aclose()
    assert call == [*codec.encode_with_special(CALL_COMPLETION), codec.special.call]
    assert final == [*codec.encode_with_special(RETURN_COMPLETION), codec.special.return_]


async def test_max_tokens_truncates(llama_server: str, codec: HarmonyCodec) -> None:
    backend = ServerBackend(ServerBackendConfig.llama_cpp(llama_server), codec=codec)
    try:
        tokens = await collect(backend, request(codec, CALL_PROMPT, max_tokens=3))
    finally:
        await backend.aclose()
    assert tokens == codec.encode_with_special(CALL_COMPLETION)[:3]


async def test_concurrent_sessions(llama_server: str, codec: HarmonyCodec) -> None:
    backend = ServerBackend(ServerBackendConfig.llama_cpp(llama_server), codec=codec)
    try:
        prompts = [CALL_PROMPT, RETURN_PROMPT] * 3
        results = await asyncio.gather(
            *(collect(backend, request(codec, p, session=f"s{i}")) for i, p in enumerate(prompts))
        )
    finally:
        await backend.aclose()
    for prompt, tokens in zip(prompts, results, strict=False):
        expected = codec.special.call if prompt == CALL_PROMPT else codec.special.return_
        assert tokens[-1] == expected


async def test_token_id_prompts_are_refused_by_llama_cpp(
    llama_server: str, codec: HarmonyCodec
) -> None:
    # Why the llama.cpp preset sends text: this server answers token-id prompts with HTTP 500.
    backend = ServerBackend(ServerBackendConfig(base_url=llama_server, retry=FAST), codec=codec)
    try:
        with pytest.raises(ServerUnavailableError, match="HTTP 500"):
            await collect(backend, request(codec, CALL_PROMPT))
    finally:
        await backend.aclose()


async def test_llama_cpp_pythons_server_says_no_window(llama_server: str,
                                                       codec: HarmonyCodec) -> None:
    # llama-cpp-python's server (the one CI can install) has no /props and lists no n_ctx,
    # so the window is unknown rather than guessed (e.g. from the model's training
    # window): the task file's model.context_window must name it. llama.cpp's own
    # llama-server answers /props (tests/agent/context/test_context_server_window.py).
    backend = ServerBackend(ServerBackendConfig.llama_cpp(llama_server), codec=codec)
    try:
        assert await backend_context_window(backend) is None
    finally:
        await backend.aclose()

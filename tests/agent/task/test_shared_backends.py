"""A batch run's tasks share the backend of the model they name: one load, one set of
weights, and the sessions' decode steps batched together."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from gptoss_agent.agent.task.load import load_task
from gptoss_agent.agent.task.settings import TaskSettings, task_settings
from gptoss_agent.agent.task.shared import sharing_key
from tests.support import need_torch


def transformers_task(folder: Path, name: str, model_path: str, dtype: str = "float32",
                      temperature: float = 0.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(
        f"name: {name}\n"
        "model:\n"
        "  backend: transformers\n"
        f"  path: {model_path}\n"
        "  device: cpu\n"
        f"  dtype: {dtype}\n"
        "  reasoning_effort: low\n"
        "  sampling:\n"
        f"    temperature: {temperature}\n"
        "    max_tokens: 16\n"
        f"prompt: Say something for task {name}.\n"
        "budgets:\n"
        "  max_generations: 1\n"
    )
    return path


def settings(path: Path) -> TaskSettings:
    return task_settings(load_task(path, []))


def test_sharing_keys(tmp_path: Path) -> None:
    first = settings(transformers_task(tmp_path / "a", "one", "model"))
    hotter = settings(transformers_task(tmp_path / "a", "two", "model", temperature=1.0))
    wider = settings(transformers_task(tmp_path / "a", "three", "model", dtype="bfloat16"))
    elsewhere = settings(transformers_task(tmp_path / "b", "four", "model"))
    scripted = tmp_path / "scripted.yaml"
    scripted.write_text("model:\n  backend: scripted\n  completions: []\nprompt: hi\n")
    assert sharing_key(first) == sharing_key(hotter)  # sampling is the agent's, not the model's
    assert sharing_key(first) != sharing_key(wider)
    assert sharing_key(first) != sharing_key(elsewhere)  # "model" next to another task file
    assert sharing_key(settings(scripted)) is None


def test_a_batch_loads_each_model_once_and_batches_its_sessions(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_torch()
    from gptoss_agent.agent.cli import batch
    from gptoss_agent.agent.task.build import build_backend

    built: list[Any] = []

    def counting_build(model: Any) -> Any:
        backend = build_backend(model)
        built.append(backend)
        return backend

    monkeypatch.setattr(batch, "build_backend", counting_build)
    monkeypatch.chdir(tmp_path)
    paths = [transformers_task(tmp_path, name, str(tiny_model_dir)) for name in ("a", "b", "c")]
    # Loaded at the same time as the float32 model: transformers sets torch's process-wide
    # default dtype while loading, so the loads must not overlap.
    paths.append(transformers_task(tmp_path, "d", str(tiny_model_dir), dtype="bfloat16"))
    summary = tmp_path / "summary.json"
    args = argparse.Namespace(concurrency=4, yes=True, summary=summary)
    err = Console(file=io.StringIO())
    batch.run_batch([settings(path) for path in paths], args, err)

    rows = json.loads(summary.read_text())["tasks"]
    assert [row["task"] for row in rows] == ["a", "b", "c", "d"]
    assert all(row["outcome"] == "max_generations" for row in rows), rows  # no backend errors
    assert len(built) == 2  # float32 once for a, b and c; bfloat16 once for d
    shared, alone = sorted(built, key=lambda backend: backend.counters.decoded_tokens,
                           reverse=True)
    assert shared.counters.batched_decode_steps > 0  # a, b and c decoded together
    assert shared.counters.decoded_tokens > alone.counters.decoded_tokens
    assert alone.counters.decoded_tokens > 0
    assert shared.model is None and alone.model is None  # closed when the batch ended


class FakeBackend:
    def __init__(self, name: str) -> None:
        self.name = name
        self.kept: list[int] = []
        self.closed = 0

    def keep_sessions(self, count: int) -> None:
        self.kept.append(count)

    async def aclose(self) -> None:
        self.closed += 1


async def test_shared_backends_build_once_keep_enough_sessions_and_close(tmp_path: Path) -> None:
    from gptoss_agent.agent.task.shared import SharedBackends

    made: list[FakeBackend] = []

    def build(model: Any) -> Any:
        if model.dtype == "bfloat16":
            raise OSError("no room for bfloat16")
        made.append(FakeBackend(model.dtype))
        return made[-1]

    one, two = (settings(transformers_task(tmp_path, name, "m")) for name in ("a", "b"))
    broken = settings(transformers_task(tmp_path, "c", "m", dtype="bfloat16"))
    models = SharedBackends(build, [one, two, broken, broken], sessions=6)
    first, second = await models.get(one), await models.get(two)
    assert first is second is made[0] and made[0].kept == [6]
    for _ in range(2):  # the failure is remembered, not retried per task
        with pytest.raises(OSError, match="no room"):
            await models.get(broken)
    await models.done(broken)
    await models.done(broken)
    await models.aclose()
    assert len(made) == 1 and made[0].closed == 1


async def test_a_backend_closes_when_its_last_task_is_done(tmp_path: Path) -> None:
    """A batch over several checkpoints holds each only while its tasks run."""
    from gptoss_agent.agent.task.shared import SharedBackends

    made: dict[str, FakeBackend] = {}

    def build(model: Any) -> Any:
        made[model.dtype] = FakeBackend(model.dtype)
        return made[model.dtype]

    first, second = (settings(transformers_task(tmp_path, name, "m")) for name in "ab")
    other = settings(transformers_task(tmp_path, "c", "m", dtype="float16"))
    models = SharedBackends(build, [first, second, other])
    await models.get(first)
    await models.get(second)
    await models.done(first)
    assert made["float32"].closed == 0  # the second task still uses it
    await models.done(second)
    assert made["float32"].closed == 1
    await models.get(other)
    await models.done(other)
    await models.aclose()
    assert made["float16"].closed == 1 and made["float32"].closed == 1


def test_defaults_do_not_split_a_model(tmp_path: Path) -> None:
    spelled = tmp_path / "spelled.yaml"
    spelled.write_text("model:\n  backend: transformers\n  path: m\n  device: auto\n"
                       "  dtype: auto\nprompt: hi\n")
    implied = tmp_path / "implied.yaml"
    implied.write_text("model:\n  backend: transformers\n  path: m\nprompt: hi\n")
    assert sharing_key(settings(spelled)) == sharing_key(settings(implied))
    server = tmp_path / "server.yaml"
    server.write_text("model:\n  backend: server\n  url: http://h:8000/v1\n  sampling:\n"
                      "    temperature: 0.5\nprompt: hi\n")
    vllm = tmp_path / "vllm.yaml"
    vllm.write_text("model:\n  backend: server\n  url: http://h:8000/v1\n  server: vllm\n"
                    "prompt: hi\n")
    assert sharing_key(settings(server)) == sharing_key(settings(vllm))


async def test_keep_sessions_raises_the_bound_only(tiny_model_dir: Path) -> None:
    from gptoss_agent.agent.backends.base import SamplingParams
    from tests.agent.backends.transformers.helpers import generate, load

    backend = load(tiny_model_dir, max_sessions=1)
    try:
        backend.keep_sessions(3)
        backend.keep_sessions(2)
        short = SamplingParams(temperature=0.0, max_tokens=2)
        for session in ("a", "b", "c"):
            await generate(backend, (1000, 2000, 3000), session, short)
        assert all(backend.cached_tokens(session) > 0 for session in ("a", "b", "c"))
        await generate(backend, (1000, 2000, 3000), "d", short)
        assert backend.cached_tokens("a") == 0  # the fourth evicts the least recently used
        assert backend.last_stats("a") is None and backend.last_stats("d") is not None
    finally:
        await backend.aclose()

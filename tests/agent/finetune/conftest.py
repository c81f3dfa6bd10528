"""Fixtures of the fine-tuning tests: small Harmony datasets and a tiny GptOss checkpoint."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support import require_or_skip

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

HAS_TORCH = all(importlib.util.find_spec(n) for n in ("torch", "transformers", "peft"))


def need_torch() -> None:
    """Skip locally without torch/transformers/peft; fail in CI."""
    require_or_skip(HAS_TORCH, "torch, transformers and peft are not installed")


SYSTEM = "You are a terse assistant. Look codes up with the code function.\nReasoning: low"


def conversation(number: int) -> dict[str, Any]:
    """A short conversation: the assistant looks a number up and answers with it."""
    word = ["red", "green", "blue", "amber"][number % 4]
    return {"messages": [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Code of {word} {number}?"},
        {"role": "assistant", "channel": "commentary", "recipient": "functions.code",
         "content_type": "<|constrain|>json", "content": json.dumps({"n": number})},
        {"role": "tool", "name": "functions.code", "channel": "commentary",
         "content": str(number * 7)},
        {"role": "assistant", "channel": "final", "content": f"It is {number * 7}."},
    ]}


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    """Write ``records`` one per line."""
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


@pytest.fixture
def conversations_file(tmp_path: Path) -> Path:
    """Forty conversations in the JSONL conversation format."""
    return write_jsonl(tmp_path / "conversations.jsonl", [conversation(n) for n in range(40)])


@pytest.fixture(scope="session")
def tiny_init(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny GptOss checkpoint with the real vocabulary."""
    need_torch()
    import torch

    torch.set_num_threads(1)
    from gptoss_agent.agent.backends.transformers.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-init"), seed=7)

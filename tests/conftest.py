"""Shared fixtures: the offline Harmony codec, a tiny random GptOss checkpoint, and
``needs_docker`` for sandbox tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec
from tests.support import need_torch, needs_docker

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

__all__ = ["codec", "needs_docker", "tiny_model_dir"]


@pytest.fixture(scope="session")
def codec() -> HarmonyCodec:
    return load_codec()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random tiny GptOss checkpoint (sliding window 16, so prompts cross it)."""
    need_torch()
    import torch

    torch.set_num_threads(1)
    from gptoss_agent.agent.backends.transformers.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-gptoss"), seed=1234)

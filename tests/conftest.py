"""Shared fixtures: the offline Harmony codec, and ``needs_docker`` for sandbox tests."""

from __future__ import annotations

import pytest

from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec
from tests.support import needs_docker

__all__ = ["codec", "needs_docker"]


@pytest.fixture(scope="session")
def codec() -> HarmonyCodec:
    return load_codec()

"""Shared fixtures: the offline Harmony codec."""

from __future__ import annotations

import pytest

from gptoss_agent.agent.encoding import HarmonyCodec, load_codec


@pytest.fixture(scope="session")
def codec() -> HarmonyCodec:
    return load_codec()

"""Helpers shared by the test suite."""

from __future__ import annotations

import os

import pytest


def require_or_skip(available: bool, why: str) -> None:
    """Skip locally when infrastructure is missing; fail in CI, where it must exist."""
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{why} (CI must provide it; see scripts/setup.sh)")
    pytest.skip(why)

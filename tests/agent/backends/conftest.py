"""Fixtures of the backend tests (the tiny checkpoint lives in ``tests/conftest.py``)."""

from __future__ import annotations

from tests.support import HAS_TORCH, need_torch

__all__ = ["HAS_TORCH", "need_torch"]

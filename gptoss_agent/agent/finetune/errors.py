"""Errors of the fine-tuning package (one small flat hierarchy)."""

from __future__ import annotations

from gptoss_agent.agent.errors import AgentError


class FinetuneError(AgentError):
    """Fine-tuning cannot go on (bad settings, missing dependencies, bad checkpoint)."""


class DataError(FinetuneError):
    """The training data is unreadable or malformed; the message names the file and line."""

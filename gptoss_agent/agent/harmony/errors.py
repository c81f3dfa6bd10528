"""The error root of the Harmony layer (:class:`HarmonyError`)."""

from __future__ import annotations

from gptoss_agent.agent.errors import AgentError


class HarmonyError(AgentError):
    """The Harmony format could not be loaded or rendered.

    Never the model's mistakes: those are parse issues reported back to the model.
    """

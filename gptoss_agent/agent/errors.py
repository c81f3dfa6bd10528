"""The error root of the agent package, and the errors of the run itself.

Every exception raised by ``gptoss_agent.agent`` derives from :class:`AgentError`, through
the root of the part that raised it: :class:`~.harmony.errors.HarmonyError` (the format and
its vocabulary), :class:`~.backends.errors.BackendError` (model backends),
:class:`~.task.load.TaskFileError` (task files), :class:`~.transcript.TranscriptError`
(transcripts) and :class:`~.finetune.errors.FinetuneError` (training). Errors the model can
fix never arrive here: they go back to the model as tool messages.
"""

from __future__ import annotations


class AgentError(Exception):
    """The root of every error the agent package raises to its caller."""


class SessionClosedError(AgentError):
    """A message was sent to a session that was already closed."""

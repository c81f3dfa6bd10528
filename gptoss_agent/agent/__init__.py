"""The agent: Harmony, model backends, the run, task files, the CLI and training.

``harmony/`` is the format, ``backends/`` the models, the modules directly here are the
run (:class:`~.agent.Agent` and its sessions, the loop, dispatch, events, results,
approvals, transcripts), ``task/`` the task files, ``cli/`` the commands and
``finetune/`` training. The names below are the run's; :mod:`gptoss_agent` re-exports the
ones users need.
"""

from gptoss_agent._lazy import lazy_exports

_WHERE = {
    "Agent": "gptoss_agent.agent.agent",
    "AgentSession": "gptoss_agent.agent.agent",
    "AgentError": "gptoss_agent.agent.errors",
    "SessionClosedError": "gptoss_agent.agent.errors",
    "ApprovalPolicy": "gptoss_agent.agent.approval",
    "LoopLimits": "gptoss_agent.agent.limits",
    "RunResult": "gptoss_agent.agent.result",
    "StopReason": "gptoss_agent.agent.result",
    "TranscriptWriter": "gptoss_agent.agent.transcript",
    "TranscriptError": "gptoss_agent.agent.transcript",
    "run_loop": "gptoss_agent.agent.loop",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

"""Keeping long runs inside the context window: the budget, and Harmony-aware compaction.

:class:`CompactionConfig` says when and how; :func:`~.fit.fit_window` is the check the
loop makes before every generation; the strategies (:mod:`.elide`, :mod:`.reasoning`,
:mod:`.summarise`) shorten the history by whole messages; :mod:`.compactor` chains them
and records the rewrite. See ``docs/long_runs.md``.
"""

from gptoss_agent.agent.context.base import CompactionJob, CompactionStrategy
from gptoss_agent.agent.context.compactor import CompactionReport, compact
from gptoss_agent.agent.context.config import STRATEGY_NAMES, CompactionConfig
from gptoss_agent.agent.context.elide import ElideToolOutputs
from gptoss_agent.agent.context.fit import WindowFit, fit_window
from gptoss_agent.agent.context.reasoning import DropReasoning
from gptoss_agent.agent.context.summarise import Summarise

__all__ = [
    "STRATEGY_NAMES",
    "CompactionConfig",
    "CompactionJob",
    "CompactionReport",
    "CompactionStrategy",
    "DropReasoning",
    "ElideToolOutputs",
    "Summarise",
    "WindowFit",
    "compact",
    "fit_window",
]

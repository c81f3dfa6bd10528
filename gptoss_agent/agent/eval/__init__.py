"""Evaluating tasks: each task run ``k`` times per setting of a grid, scored and reported.

``gptoss-agent eval`` (:mod:`gptoss_agent.agent.cli.eval`) is built from these parts:
:mod:`.grid` (``--set`` lists into settings), :mod:`.plan` (the attempts and their keys),
:mod:`.runner` (running attempts through the task lifecycle, concurrently on shared
backends), :mod:`.attempt` (one finished attempt as a record), :mod:`.store` (the
append-only record file that makes a rerun resume), :mod:`.estimators` (pass@k and
pass^k), :mod:`.aggregate` (the summary) and :mod:`.html` (the report page).

The package sits with the task layer: it imports the task layer, the run and the
backends; neither the run nor the task layer imports it, and only the CLI renders.
"""

from __future__ import annotations

from gptoss_agent.agent.eval.errors import EvalError
from gptoss_agent.agent.eval.estimators import pass_at_k, pass_hat_k

__all__ = ["EvalError", "pass_at_k", "pass_hat_k"]

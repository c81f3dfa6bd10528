"""The CLI's exit codes, one per kind of outcome, so scripts can tell them apart.

0 success, 1 a budget ran out, 2 bad configuration or usage, 3 the model misbehaved,
4 infrastructure failure, 5 the run answered but the task's success check failed,
130 interrupted.
"""

from __future__ import annotations

from gptoss_agent.agent.result import RunResult, StopReason

EXIT_OK = 0
EXIT_BUDGET = 1
EXIT_CONFIG = 2
EXIT_MODEL = 3
EXIT_INFRA = 4
EXIT_CHECK = 5
EXIT_INTERRUPTED = 130

_EXIT_BY_REASON = {
    StopReason.FINAL: EXIT_OK,
    StopReason.MAX_TURNS: EXIT_BUDGET,
    StopReason.MAX_TOKENS: EXIT_BUDGET,
    StopReason.WALL_TIME: EXIT_BUDGET,
    StopReason.REPEATED_CALL: EXIT_MODEL,
    StopReason.MODEL_ERRORS: EXIT_MODEL,
    StopReason.BACKEND_ERROR: EXIT_INFRA,
    StopReason.TOOL_UNAVAILABLE: EXIT_INFRA,
    StopReason.CANCELLED: EXIT_INTERRUPTED,
}


def exit_code_for(result: RunResult) -> int:
    """The process exit code for a run's outcome."""
    return _EXIT_BY_REASON[result.stop_reason]

"""The CLI's exit codes, one per kind of outcome, so scripts can tell them apart.

0 success, 1 a budget ran out, 2 bad configuration or usage, 3 the model misbehaved,
4 infrastructure failure, 5 the run answered but the task's success check failed,
130 interrupted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gptoss_agent.agent.result import RunResult, StopReason

if TYPE_CHECKING:
    from gptoss_agent.agent.task.lifecycle import TaskOutcome

EXIT_OK = 0
EXIT_BUDGET = 1
EXIT_CONFIG = 2
EXIT_MODEL = 3
EXIT_INFRA = 4
EXIT_CHECK = 5
EXIT_INTERRUPTED = 130

_EXIT_BY_REASON = {
    StopReason.FINAL: EXIT_OK,
    StopReason.MAX_GENERATIONS: EXIT_BUDGET,
    StopReason.MAX_SAMPLED_TOKENS: EXIT_BUDGET,
    StopReason.WALL_TIME: EXIT_BUDGET,
    StopReason.REPEATED_CALL: EXIT_MODEL,
    StopReason.MODEL_ERRORS: EXIT_MODEL,
    StopReason.BACKEND_ERROR: EXIT_INFRA,
    StopReason.TOOL_UNAVAILABLE: EXIT_INFRA,
    StopReason.INVALID_OUTPUT: EXIT_MODEL,
    StopReason.CANCELLED: EXIT_INTERRUPTED,
    StopReason.CONTEXT_FULL: EXIT_BUDGET,
}


def exit_code_for(result: RunResult) -> int:
    """The process exit code for a run's outcome."""
    return _EXIT_BY_REASON[result.stop_reason]


def exit_code_for_error(error: BaseException) -> int | None:
    """The exit code for an error that stopped a command, by the root it derives from.

    Bad task files, transcripts, eval options, tool definitions and sandbox settings are
    configuration errors; the backends, the Harmony vocabulary, the tools' machinery and
    the sandbox are infrastructure. ``None`` for anything else: a bug, which should show
    its traceback.
    """
    from gptoss_agent.agent.backends.errors import BackendError
    from gptoss_agent.agent.errors import AgentError
    from gptoss_agent.agent.eval.errors import EvalError
    from gptoss_agent.agent.task.load import TaskFileError
    from gptoss_agent.agent.transcript import TranscriptError
    from gptoss_agent.sandbox.errors import DataPathError, SandboxConfigError, SandboxError
    from gptoss_agent.tools.errors import ToolConfigError, ToolError, ToolRegistrationError

    config = (TaskFileError, TranscriptError, EvalError, ToolRegistrationError,
              ToolConfigError, SandboxConfigError, DataPathError)
    if isinstance(error, config):
        return EXIT_CONFIG
    if isinstance(error, (AgentError, BackendError, ToolError, SandboxError)):
        return EXIT_INFRA
    return None


def task_exit_code(outcome: TaskOutcome) -> int:
    """A task's exit code: the run's, or ``EXIT_CHECK`` when it answered but failed its check."""
    code = exit_code_for(outcome.result)
    if code == EXIT_OK and outcome.check is not None and not outcome.check.passed:
        return EXIT_CHECK
    return code

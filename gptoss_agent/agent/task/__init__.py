"""Task files, from YAML to a finished task.

The schema, loading with line-precise errors, typed settings, building an agent, success
checks, shared backends, and the one task lifecycle every command uses.

The only package that reads a task file's raw data; below it, every component takes its
own typed settings.
"""

from gptoss_agent._lazy import lazy_exports

_WHERE = {
    "TaskFile": "gptoss_agent.agent.task.load",
    "TaskFileError": "gptoss_agent.agent.task.load",
    "load_task": "gptoss_agent.agent.task.load",
    "TaskSettings": "gptoss_agent.agent.task.settings",
    "task_settings": "gptoss_agent.agent.task.settings",
    "TaskAgent": "gptoss_agent.agent.task.build",
    "build_agent": "gptoss_agent.agent.task.build",
    "TaskRun": "gptoss_agent.agent.task.lifecycle",
    "TaskOutcome": "gptoss_agent.agent.task.lifecycle",
    "run_task": "gptoss_agent.agent.task.lifecycle",
    "CheckContext": "gptoss_agent.agent.task.checks",
}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

"""The ``gptoss-agent`` command line: every command, the live view and the exit codes.

:func:`main` is the ``gptoss-agent`` script; each command lives in its own module
(``run``, ``batch``, ``resume``, ``chat``, ``transcripts``, ``doctor``, ``serve``,
``finetune``, ``sandbox``), and :mod:`.exit_codes` maps outcomes and errors to codes.
"""

from gptoss_agent._lazy import lazy_exports

_WHERE = {"main": "gptoss_agent.agent.cli.entry", "build_parser": "gptoss_agent.agent.cli.entry"}

__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

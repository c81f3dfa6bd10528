"""The HTTP half of ``gptoss-agent serve``: an OpenAI-compatible app over a backend.

* :mod:`.completions`: :class:`CompletionServer` (routes, JSON and SSE answers) and
  :func:`serve_until_signalled`;
* :mod:`.params`: validating a ``/v1/completions`` body (:func:`parse_completion_request`);
* :mod:`.wire`: the little HTTP/1.1 it speaks on asyncio streams.

The command line of ``serve`` (options, exit codes) is the CLI's, in
:mod:`gptoss_agent.agent.cli.serve`. The names below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gptoss_agent.agent.backends.http.completions import (
        CompletionServer,
        serve_until_signalled,
    )
    from gptoss_agent.agent.backends.http.params import (
        CompletionParams,
        parse_completion_request,
    )

_LAZY = {
    "CompletionParams": "gptoss_agent.agent.backends.http.params",
    "CompletionServer": "gptoss_agent.agent.backends.http.completions",
    "parse_completion_request": "gptoss_agent.agent.backends.http.params",
    "serve_until_signalled": "gptoss_agent.agent.backends.http.completions",
}

__all__ = ["CompletionParams", "CompletionServer", "parse_completion_request",
           "serve_until_signalled"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

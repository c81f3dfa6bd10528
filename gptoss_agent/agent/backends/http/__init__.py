"""The model half of ``gptoss-agent serve``: OpenAI-compatible routes over a backend.

* :mod:`.completions`: :class:`CompletionRoutes` (``/v1/completions``, ``/v1/models``,
  ``/health`` as Starlette routes; JSON and SSE answers);
* :mod:`.params`: validating a ``/v1/completions`` body (:func:`parse_completion_request`);
* :mod:`.asgi`: what every served app shares (body limit, bearer key, JSON errors);
* :mod:`.errors`: :class:`HTTPError` and the OpenAI-shaped error body;
* :mod:`.server`: running an app on uvicorn until a signal (:func:`serve_until_signalled`).

The app that serves the model and the agent together is
:mod:`gptoss_agent.agent.serve`; the command line is :mod:`gptoss_agent.agent.cli.serve`.
The names below are loaded on first use (Starlette and uvicorn with them).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gptoss_agent.agent.backends.http.completions import CompletionRoutes
    from gptoss_agent.agent.backends.http.errors import HTTPError, error_body
    from gptoss_agent.agent.backends.http.params import (
        CompletionParams,
        parse_completion_request,
    )
    from gptoss_agent.agent.backends.http.server import serve_until_signalled

_LAZY = {
    "CompletionParams": "gptoss_agent.agent.backends.http.params",
    "CompletionRoutes": "gptoss_agent.agent.backends.http.completions",
    "HTTPError": "gptoss_agent.agent.backends.http.errors",
    "error_body": "gptoss_agent.agent.backends.http.errors",
    "parse_completion_request": "gptoss_agent.agent.backends.http.params",
    "serve_until_signalled": "gptoss_agent.agent.backends.http.server",
}

__all__ = ["CompletionParams", "CompletionRoutes", "HTTPError", "error_body",
           "parse_completion_request", "serve_until_signalled"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

"""The inference-server backend: Harmony prompts over OpenAI-compatible ``/v1/completions``.

Modules, one job each:

* :mod:`.config`: :class:`ServerBackendConfig`, :class:`RetryPolicy`, the per-server
  presets and :func:`server_config` (by kind, one of :data:`SERVER_KINDS`), and where
  each server takes a decoding constraint (if it can);
* :mod:`.backend`: :class:`ServerBackend`, the client (connection pool, retries, resume);
* :mod:`.stream`: one streamed request, from chunks to token ids;
* :mod:`.sse`: reading server-sent events;
* :mod:`.text_tokens`: turning a server's streamed text back into Harmony token ids.

Only :mod:`.backend` and :mod:`.stream` need ``httpx``; :class:`ServerBackend` is loaded on
first use, so building a config imports no HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gptoss_agent.agent.backends.server.config import (
    SERVER_KINDS,
    RetryPolicy,
    ServerBackendConfig,
    server_config,
)

if TYPE_CHECKING:
    from gptoss_agent.agent.backends.server.backend import ServerBackend

_LAZY = {"ServerBackend": "gptoss_agent.agent.backends.server.backend"}

__all__ = ["SERVER_KINDS", "RetryPolicy", "ServerBackend", "ServerBackendConfig",
           "server_config"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

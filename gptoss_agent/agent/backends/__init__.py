"""Model backends: the seam the loop talks to, and the backends behind it.

* :mod:`.base`: the :class:`~gptoss_agent.agent.backends.base.ModelBackend` Protocol,
  ``SamplingParams`` and ``GenerationRequest``;
* :mod:`.scripted`: a backend that replays Harmony completions (tests, examples);
* :mod:`.errors`: the error hierarchy, rooted at :class:`BackendError`;
* :mod:`.transformers`: in process, with torch and transformers (per-session KV caches,
  batched decode steps);
* :mod:`.server`: on an inference server (vLLM, SGLang, llama.cpp, ``gptoss-agent
  serve``) over OpenAI-compatible ``/v1/completions``;
* :mod:`.http`: the HTTP server of ``gptoss-agent serve``.

Importing this package imports neither torch, transformers nor httpx: the backends and
their configs below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gptoss_agent.agent.backends.errors import (
    BackendError,
    BackendUnavailableError,
    ModelLoadError,
    ServerProtocolError,
    ServerRequestError,
    ServerUnavailableError,
)

if TYPE_CHECKING:
    from gptoss_agent.agent.backends.server.backend import ServerBackend
    from gptoss_agent.agent.backends.server.config import (
        SERVER_KINDS,
        RetryPolicy,
        ServerBackendConfig,
        server_config,
    )
    from gptoss_agent.agent.backends.transformers.backend import TransformersBackend
    from gptoss_agent.agent.backends.transformers.config import TransformersBackendConfig

_LAZY = {
    "RetryPolicy": "gptoss_agent.agent.backends.server.config",
    "SERVER_KINDS": "gptoss_agent.agent.backends.server.config",
    "ServerBackend": "gptoss_agent.agent.backends.server.backend",
    "ServerBackendConfig": "gptoss_agent.agent.backends.server.config",
    "server_config": "gptoss_agent.agent.backends.server.config",
    "TransformersBackend": "gptoss_agent.agent.backends.transformers.backend",
    "TransformersBackendConfig": "gptoss_agent.agent.backends.transformers.config",
}

__all__ = [
    "SERVER_KINDS",
    "BackendError",
    "BackendUnavailableError",
    "ModelLoadError",
    "RetryPolicy",
    "ServerBackend",
    "ServerBackendConfig",
    "ServerProtocolError",
    "ServerRequestError",
    "ServerUnavailableError",
    "TransformersBackend",
    "TransformersBackendConfig",
    "server_config",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

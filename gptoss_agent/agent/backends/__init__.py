"""Model backends: in-process transformers (with per-session KV-cache reuse) and servers.

Importing this package imports neither torch nor transformers; the transformers backend
loads them when it is used. The server backend needs only ``httpx``.
"""

from __future__ import annotations

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
    from gptoss_agent.agent.backends.server_backend import (
        RetryPolicy,
        ServerBackend,
        ServerBackendConfig,
    )
    from gptoss_agent.agent.backends.transformers_backend import (
        TransformersBackend,
        TransformersBackendConfig,
    )

_LAZY = {
    "RetryPolicy": "gptoss_agent.agent.backends.server_backend",
    "ServerBackend": "gptoss_agent.agent.backends.server_backend",
    "ServerBackendConfig": "gptoss_agent.agent.backends.server_backend",
    "TransformersBackend": "gptoss_agent.agent.backends.transformers_backend",
    "TransformersBackendConfig": "gptoss_agent.agent.backends.transformers_backend",
}

__all__ = [
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
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)

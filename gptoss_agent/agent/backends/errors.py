"""The error hierarchy of the model backends (raised to the developer, not to the model)."""

from __future__ import annotations

from gptoss_agent.agent.errors import AgentError


class BackendError(AgentError):
    """Base of every error a model backend raises."""


class BackendUnavailableError(BackendError):
    """A backend's dependency is missing (torch, transformers) or it was closed."""


class ModelLoadError(BackendError):
    """A checkpoint could not be loaded (bad path, no access, unsupported device/dtype)."""


class ServerRequestError(BackendError):
    """The server rejected a request (HTTP 4xx); retrying the same request cannot help.

    Attributes:
        status: The HTTP status code.
        detail: The server's error message, as far as it could be read.
    """

    def __init__(self, status: int, detail: str, url: str) -> None:
        super().__init__(f"{url} answered HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


class ServerUnavailableError(BackendError):
    """The server could not be reached, or kept failing after every retry.

    Connection errors, timeouts, HTTP 5xx, 408 and 429 are retried; this is raised once
    the last attempt failed too.
    """


class ServerProtocolError(BackendError):
    """The server answered something that is not an OpenAI-style completion stream."""

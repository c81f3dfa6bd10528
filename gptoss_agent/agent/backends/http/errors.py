"""HTTP errors of the served API and the OpenAI-shaped body each is answered with.

:class:`HTTPError` carries the status and the fields of OpenAI's error object;
:func:`error_body` builds that object, ``{"error": {"message", "type", "param", "code"}}``.
Nothing here imports the web stack, so request validation can raise these anywhere.
"""

from __future__ import annotations

from typing import Any

from gptoss_agent.agent.backends.errors import BackendError

_TYPES = {401: "authentication_error", 429: "rate_limit_error"}


class HTTPError(BackendError):
    """A request the server answers with an error status.

    Attributes:
        status: The HTTP status to answer with.
        param: The request field at fault, or ``None``.
        code: OpenAI's short error code (``previous_response_not_found``), or ``None``
            for the status itself.
    """

    def __init__(self, status: int, message: str, *, param: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """The OpenAI-shaped error object of this error."""
        return error_body(str(self), self.status, param=self.param, code=self.code)


def error_body(message: str, status: int, *, param: str | None = None,
               code: str | int | None = None) -> dict[str, Any]:
    """The OpenAI-style error object for ``message`` answered with ``status``.

    Args:
        message: What went wrong, for a person.
        status: The HTTP status; it picks the ``type`` and is the default ``code``.
        param: The request field at fault.
        code: A short machine-readable code; the status when ``None``.
    """
    kind = _TYPES.get(status) or ("invalid_request_error" if status < 500 else "server_error")
    return {"error": {"message": message, "type": kind, "param": param,
                      "code": status if code is None else code}}

"""The one app ``gptoss-agent serve`` runs: the model's routes and the agent's.

:func:`build_app` mounts :class:`~gptoss_agent.agent.backends.http.completions.CompletionRoutes`
(``/v1/completions``, ``/v1/models``, ``/health``) and
:class:`~gptoss_agent.agent.serve.routes.ResponsesRoutes` (``/v1/responses``) on one
Starlette app, with OpenAI-shaped JSON errors, the body limit and, when a key is set,
bearer-token auth.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.types import ASGIApp

from gptoss_agent.agent.backends.http.asgi import BearerKey, BodyLimit, error_handlers
from gptoss_agent.agent.backends.http.completions import CompletionRoutes
from gptoss_agent.agent.serve.config import ServedAgent, ServeLimits
from gptoss_agent.agent.serve.routes import ResponsesRoutes
from gptoss_agent.agent.serve.service import ResponsesService


def build_app(served: ServedAgent, limits: ServeLimits) -> tuple[ASGIApp, ResponsesService]:
    """The ASGI app serving ``served``, and the service to close when it stops."""
    service = ResponsesService(served, limits)
    completions = CompletionRoutes(served.backend, served.model_name, served.codec)
    app = Starlette(routes=[*completions.routes(), *ResponsesRoutes(service).routes()],
                    exception_handlers=error_handlers())
    guarded: ASGIApp = BodyLimit(app, limits.max_body_bytes)
    if limits.api_key is not None:
        guarded = BearerKey(guarded, limits.api_key)
    return guarded, service

"""The model half of ``gptoss-agent serve``: OpenAI-compatible completions routes.

:class:`CompletionRoutes` serves a :class:`~gptoss_agent.agent.backends.base.ModelBackend`
(the transformers backend) as Starlette routes: ``POST /v1/completions`` (token-id or
text prompts, SSE streaming through ``sse-starlette`` or one JSON answer), ``GET
/v1/models`` and ``GET /health``. Each request is keyed to a session
(:mod:`~gptoss_agent.agent.backends.http.params`), so a client that sends a session id
keeps its KV cache across turns: the ``X-Session-Id`` header, else the body's ``user``
field, else one shared session (whose cache still reuses the prefix of the previous
request).

Answers follow vLLM's shape: ``text`` with special tokens spelled out, plus the exact
``token_ids`` sampled; ``finish_reason`` ``"stop"`` (with ``stop_reason``, the stop token
id) or ``"length"``; ``usage.prompt_tokens_details.cached_tokens`` reports reuse.

The app that mounts these routes (with the agent's) is
:func:`gptoss_agent.agent.serve.app.build_app`; running it is :mod:`.server`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gptoss_agent.agent.backends.base import GenerationRequest, ModelBackend
from gptoss_agent.agent.backends.http.asgi import json_error
from gptoss_agent.agent.backends.http.errors import HTTPError, error_body
from gptoss_agent.agent.backends.http.params import CompletionParams, parse_completion_request
from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec


async def read_json_object(request: Request) -> dict[str, Any]:
    """The request's body as a JSON object.

    Raises:
        HTTPError: 400 when the body is not a JSON object.
    """
    raw = await request.body()
    try:
        payload = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise HTTPError(400, f"the body is not valid JSON: {error}") from error
    if not isinstance(payload, dict):
        raise HTTPError(400, "the body must be a JSON object")
    return payload


class CompletionRoutes:
    """The completions, models and health routes over one backend.

    Args:
        backend: What produces the tokens (a ``TransformersBackend``).
        model_name: The name ``/v1/models`` lists and answers carry.
        codec: The Harmony codec (loaded offline if ``None``).
    """

    def __init__(
        self, backend: ModelBackend, model_name: str, codec: HarmonyCodec | None = None
    ) -> None:
        self.backend = backend
        self.model_name = model_name
        self.codec = codec or load_codec()

    def routes(self) -> list[Route]:
        """The Starlette routes to mount at the app's root."""
        return [
            Route("/health", self.health, methods=["GET"]),
            Route("/v1/health", self.health, methods=["GET"]),
            Route("/v1/models", self.models, methods=["GET"]),
            Route("/v1/completions", self.completions, methods=["POST"]),
        ]

    async def health(self, request: Request) -> Response:
        """``GET /health``: the server is up."""
        return JSONResponse({"status": "ok"})

    async def models(self, request: Request) -> Response:
        """``GET /v1/models``: the one model served."""
        model = {"id": self.model_name, "object": "model", "created": 0,
                 "owned_by": "gptoss-agent"}
        return JSONResponse({"object": "list", "data": [model]})

    async def completions(self, request: Request) -> Response:
        """``POST /v1/completions``: one JSON completion, or SSE chunks with ``stream``."""
        try:
            payload = await read_json_object(request)
            try:
                params = parse_completion_request(payload, self.codec,
                                                  request.headers.get("x-session-id"))
            except ValueError as error:
                raise HTTPError(400, str(error)) from error
            if params.stream:
                return EventSourceResponse(self._stream(params), sep="\n",
                                           headers={"Cache-Control": "no-cache"})
            return JSONResponse(await self._complete(params))
        except HTTPError as error:
            return json_error(error)
        except Exception as error:  # answer 500, keep serving other requests
            return JSONResponse(error_body(f"{type(error).__name__}: {error}", 500),
                                status_code=500)

    async def _complete(self, params: CompletionParams) -> dict[str, Any]:
        """One JSON completion, once generation has finished."""
        tokens = [t async for t in self.backend.generate(self._request(params))]
        finish, stop_reason = self._finish(params, tokens)
        choice = {
            "index": 0,
            "text": self.codec.decode(tokens),
            "token_ids": tokens,
            "finish_reason": finish,
            "stop_reason": stop_reason,
        }
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": [choice],
            "usage": self._usage(params),
        }

    async def _stream(self, params: CompletionParams) -> AsyncIterator[dict[str, str]]:
        """Server-sent events: a chunk per token, the finish, the usage, ``[DONE]``."""
        ident, created = f"cmpl-{uuid.uuid4().hex}", int(time.time())

        def chunk(choice: dict[str, Any] | None, usage: Any = None) -> dict[str, str]:
            data: dict[str, Any] = {
                "id": ident,
                "object": "text_completion",
                "created": created,
                "model": self.model_name,
                "choices": [choice] if choice else [],
            }
            if usage is not None:
                data["usage"] = usage
            return {"data": json.dumps(data)}

        tokens: list[int] = []
        async for token in self.backend.generate(self._request(params)):
            tokens.append(token)
            yield chunk({"index": 0, "text": self.codec.decode([token]),
                         "token_ids": [token], "finish_reason": None})
        finish, stop_reason = self._finish(params, tokens)
        yield chunk({"index": 0, "text": "", "token_ids": [],
                     "finish_reason": finish, "stop_reason": stop_reason})
        yield chunk(None, self._usage(params))
        yield {"data": "[DONE]"}

    def _request(self, params: CompletionParams) -> GenerationRequest:
        return GenerationRequest(
            prompt=params.prompt,
            stop_tokens=params.stop_tokens,
            sampling=params.sampling,
            session_id=params.session_id,
        )

    @staticmethod
    def _finish(params: CompletionParams, tokens: Sequence[int]) -> tuple[str, int | None]:
        """``("stop", stop token)`` or ``("length", None)``."""
        if tokens and tokens[-1] in params.stop_tokens:
            return "stop", tokens[-1]
        return "length", None

    def _usage(self, params: CompletionParams) -> dict[str, Any]:
        """The ``usage`` object, with the prompt tokens the session's cache held."""
        stats = self.backend.last_stats(params.session_id)
        prompt = len(params.prompt)
        prefilled = stats.prefilled_tokens if stats else prompt
        sampled = stats.sampled_tokens if stats else 0
        return {
            "prompt_tokens": prompt,
            "completion_tokens": sampled,
            "total_tokens": prompt + sampled,
            "prompt_tokens_details": {"cached_tokens": prompt - prefilled},
        }

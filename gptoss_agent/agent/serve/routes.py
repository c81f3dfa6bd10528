"""The ``/v1/responses`` route: JSON in, one JSON response or an SSE event stream out.

A request is parsed and routed (:meth:`~.service.ResponsesService.prepare`) before
anything is sent, so every 4xx is a plain OpenAI-shaped JSON error; a streaming request
then gets ``text/event-stream`` (``event: <type>`` and ``data: <json>`` per Responses
event, through ``sse-starlette``). A client that hangs up mid-stream does not stop the
run: the response is still finished and kept, so the conversation stays consistent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gptoss_agent.agent.backends.http.asgi import json_error
from gptoss_agent.agent.backends.http.completions import read_json_object
from gptoss_agent.agent.backends.http.errors import HTTPError
from gptoss_agent.agent.serve.request import parse_response_request
from gptoss_agent.agent.serve.service import Prepared, ResponsesService

_END = object()


class ResponsesRoutes:
    """The Starlette routes of the Responses API over ``service``."""

    def __init__(self, service: ResponsesService) -> None:
        """Serve ``service``."""
        self.service = service
        self._background: set[asyncio.Task[Any]] = set()

    def routes(self) -> list[Route]:
        """``POST /v1/responses`` and ``GET /v1/responses/{id}``."""
        return [Route("/v1/responses", self.create, methods=["POST"]),
                Route("/v1/responses/{response_id}", self.retrieve, methods=["GET"])]

    async def retrieve(self, request: Request) -> Response:
        """``GET /v1/responses/{id}``: a response kept with its conversation."""
        try:
            return JSONResponse(self.service.retrieve(request.path_params["response_id"]))
        except HTTPError as error:
            return json_error(error)

    async def create(self, request: Request) -> Response:
        """``POST /v1/responses``."""
        try:
            parsed = parse_response_request(await read_json_object(request))
            prepared = await self.service.prepare(parsed)
        except HTTPError as error:
            return json_error(error)
        if not parsed.stream:
            return JSONResponse(await self.service.run(prepared))
        return EventSourceResponse(self._stream(prepared), sep="\n",
                                   headers={"Cache-Control": "no-cache"})

    def _stream(self, prepared: Prepared) -> AsyncIterator[dict[str, str]]:
        """Start the response now (it runs on if the client hangs up); drain its events."""
        queue: asyncio.Queue[Any] = asyncio.Queue()

        async def produce() -> None:
            try:
                await self.service.run(prepared, queue.put_nowait)
            finally:
                queue.put_nowait(_END)

        task = asyncio.create_task(produce())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return _drain(queue, task)


async def _drain(queue: asyncio.Queue[Any], task: asyncio.Task[None]
                 ) -> AsyncIterator[dict[str, str]]:
    while (event := await queue.get()) is not _END:
        yield {"event": event["type"], "data": json.dumps(event)}
    await task

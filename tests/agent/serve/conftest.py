"""A real uvicorn serving our app on 127.0.0.1, in a thread, with a scripted model behind it."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from gptoss_agent.agent.backends.scripted import ScriptedBackend, ScriptedCompletion
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.serve.app import build_app
from gptoss_agent.agent.serve.config import ServedAgent, ServeLimits

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"], "additionalProperties": False},
    "strict": True,
}
CALL_WEATHER = ("<|channel|>commentary to=functions.get_weather <|constrain|>json"
                '<|message|>{"city": "Paris"}<|call|>')
SUNNY = "<|channel|>final<|message|>It is sunny in Paris.<|return|>"


@dataclass
class Running:
    """A served app: its API root URL and the scripted backend behind it."""

    url: str
    backend: ScriptedBackend


@contextmanager
def serving(codec: HarmonyCodec, script: Sequence[str | ScriptedCompletion],
            limits: ServeLimits | None = None, window: int | None = None,
            **served: Any) -> Iterator[Running]:
    """Serve a scripted agent on a free port until the block ends.

    ``window``: the context window the scripted model claims.
    """
    backend = ScriptedBackend(script, codec=codec, context_window=window)
    agent = ServedAgent(backend=backend, model_name="scripted", codec=codec,
                        conversation_start_date="2026-11-28", **served)
    app, service = build_app(agent, limits or ServeLimits())
    sock = socket.create_server(("127.0.0.1", 0))  # listening before the thread starts
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    failures: list[BaseException] = []

    async def main() -> None:
        try:
            await server.serve(sockets=[sock])
        finally:
            await service.aclose()
            await agent.aclose()

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as error:  # reported by the test's teardown
            failures.append(error)

    thread = threading.Thread(target=thread_main, daemon=True)
    thread.start()
    try:
        yield Running(f"http://127.0.0.1:{sock.getsockname()[1]}/v1", backend)
    finally:
        server.should_exit = True
        thread.join(timeout=60)
        sock.close()
    assert not thread.is_alive(), "the server did not stop"
    assert failures == []


ServeFactory = Callable[..., Any]


@pytest.fixture
def serve(codec: HarmonyCodec) -> Iterator[ServeFactory]:
    """``serve(script, limits=..., builtin_tools=...)``: a context manager of :class:`Running`."""
    def factory(script: Sequence[str | ScriptedCompletion], **kwargs: Any) -> Any:
        return serving(codec, script, **kwargs)

    yield factory

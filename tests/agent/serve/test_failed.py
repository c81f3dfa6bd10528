"""Responses that fail: a run that crashes, a backend that fails, a prompt past the window.

Each is an HTTP 200 whose response has ``status: failed`` and an OpenAI-shaped
``error`` (``code``, ``message``); a stream ends with ``response.failed`` carrying the
same response; the failed response is kept (``GET``), and the server goes on serving.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from gptoss_agent.agent.backends.errors import BackendError
from gptoss_agent.agent.backends.scripted import ScriptedCompletion
from tests.agent.serve.conftest import SUNNY, ServeFactory
from tests.agent.serve.test_responses import client


def crash(prompt: str) -> None:
    raise RuntimeError("a bug in the middle of the run")


def backend_down(prompt: str) -> None:
    raise BackendError("the model server went away")


CASES: dict[str, tuple[ScriptedCompletion | None, str, str]] = {
    "crash": (ScriptedCompletion(SUNNY, check_prompt=crash), "server_error",
              "RuntimeError: a bug in the middle of the run"),
    "backend": (ScriptedCompletion(SUNNY, check_prompt=backend_down), "server_error",
                "the run stopped: backend_error: BackendError: the model server went away"),
    "window": (None, "context_length_exceeded", "the run stopped: context_full"),
}
WINDOW = 600
LONG = "Tell me about Paris. " * 120  # about 600 tokens: past the window


def start(serve: ServeFactory, case: str) -> Any:
    """A server whose first response fails as ``case`` says and whose second succeeds."""
    failing = CASES[case][0]
    return serve([*([failing] if failing is not None else []), SUNNY], window=WINDOW)


def ask(api: openai.OpenAI, case: str, **body: Any) -> Any:
    return api.responses.create(model="scripted", input=LONG if case == "window" else "Hi",
                                **body)


@pytest.mark.parametrize("case", list(CASES))
def test_a_failed_run_is_a_failed_response_with_its_error(serve: ServeFactory,
                                                          case: str) -> None:
    _, code, message = CASES[case]
    with start(serve, case) as running:
        api = client(running.url)
        response = ask(api, case)
        assert response.status == "failed"
        assert response.error is not None and response.error.code == code
        assert message in response.error.message
        assert api.responses.retrieve(response.id).status == "failed"
        sent = len(running.backend.prompts)
        assert sent == (0 if case == "window" else 1)  # an over-long prompt is never sent
        after = api.responses.create(model="scripted", input="Weather in Paris?")
        assert after.status == "completed" and after.output_text == "It is sunny in Paris."


@pytest.mark.parametrize("case", list(CASES))
def test_a_failed_stream_ends_with_response_failed(serve: ServeFactory, case: str) -> None:
    _, code, message = CASES[case]
    with start(serve, case) as running:
        api = client(running.url)
        events = list(ask(api, case, stream=True))
        kinds = [event.type for event in events]
        assert kinds[0] == "response.created" and kinds[-1] == "response.failed"
        assert "response.completed" not in kinds
        failed = events[-1].response
        assert failed.status == "failed" and failed.error.code == code
        assert message in failed.error.message
        assert api.responses.retrieve(failed.id).error.code == code

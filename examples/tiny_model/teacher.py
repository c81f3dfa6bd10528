"""A programmatic "teacher" backend: writes each completion from the prompt it receives.

The scripted backend replays fixed text; the teacher decides what to write *after* seeing
the prompt, so a final answer can quote the tool output that the real tool produced in
this very run. It replays its text token by token through
:class:`~gptoss_agent.agent.backends.scripted.ScriptedBackend`, so stop tokens and budgets behave
exactly as with any backend.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from gptoss_agent.agent.backends.base import GenerationRequest, GenerationStats
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec

Policy = Callable[[str, int], str]
"""``(decoded prompt, generation index) -> completion text`` with special tokens spelled out."""


def last_tool_output(prompt: str) -> str:
    """The body of the last tool message in a decoded prompt.

    Raises:
        ValueError: The prompt holds no tool message.
    """
    marker = " to=assistant<|channel|>"
    at = prompt.rfind(marker)
    if at < 0:
        raise ValueError("the prompt holds no tool message")
    body_start = prompt.index("<|message|>", at) + len("<|message|>")
    return prompt[body_start : prompt.index("<|end|>", body_start)]


class TeacherBackend:
    """Writes completions with a :data:`Policy`; one call per generation.

    Args:
        policy: Makes the completion of generation ``i`` from the decoded prompt.
        codec: The Harmony codec.
    """

    def __init__(self, policy: Policy, codec: HarmonyCodec | None = None) -> None:
        self._policy = policy
        self._codec = codec or load_codec()
        self._generation = 0
        self._last: ScriptedBackend | None = None

    async def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        """Write the next completion and replay it."""
        text = self._policy(self._codec.decode(request.prompt), self._generation)
        self._generation += 1
        self._last = ScriptedBackend([text], codec=self._codec)
        async for token in self._last.generate(request):
            yield token

    def last_stats(self, session_id: str) -> GenerationStats | None:
        """Figures of the last replay."""
        return self._last.last_stats(session_id) if self._last is not None else None

    async def release(self, session_id: str) -> None:
        """Nothing is kept per session."""

    async def aclose(self) -> None:
        """Nothing to free."""

"""A backend that replays scripted Harmony completions token by token, for tests.

Each scripted completion is written as text with the Harmony special tokens spelled out,
exactly as the model would sample it, for example::

    '<|channel|>analysis<|message|>Need the weather.<|end|>'
    '<|start|>assistant<|channel|>commentary to=functions.get_weather '
    '<|constrain|>json<|message|>{"city": "Paris"}<|call|>'

The backend is strict so that tests cannot pass by accident: it raises
:class:`ScriptError` when it is called more times than scripted, and
:meth:`ScriptedBackend.assert_finished` raises when fewer completions were consumed.
It honours the request's stop tokens and token budget like a real backend, and records
every prompt it received so tests can inspect what the model would have seen.

Given a real backend as ``through``, every prompt is first run through it (prefilled, one
token sampled and thrown away) before the script is replayed: the model's turns are
forced, but the prompt's KV cache, its reuse and its cost are real (benchmarks of long
runs on a model that knows no long task).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace

from gptoss_agent.agent.backends.base import (
    GenerationRequest,
    GenerationStats,
    ModelBackend,
    backend_context_window,
)
from gptoss_agent.agent.backends.errors import BackendError
from gptoss_agent.agent.harmony.codec import HarmonyCodec, load_codec


class ScriptError(BackendError, AssertionError):
    """The script and the run disagree (too many or too few generations, bad script)."""


@dataclass(frozen=True)
class ScriptedCompletion:
    """One scripted generation.

    Attributes:
        text: The completion, special tokens spelled out.
        check_prompt: Optional assertion run on the decoded prompt before replaying;
            it should raise (e.g. ``AssertionError``) when the prompt is wrong.
    """

    text: str
    check_prompt: Callable[[str], None] | None = None


class ScriptedBackend:
    """Replays completions in order; one per ``generate`` call.

    Args:
        completions: The scripted completions (strings or :class:`ScriptedCompletion`).
        codec: The Harmony codec; loaded offline when omitted.
        allow_text_after_stop: Accept scripts that go on after a stop token (the rest
            is discarded, as a real backend would never sample it). Off by default,
            because such a script is almost always a mistake.
        context_window: The window the backend claims (tests of budgets and
            compaction); ``None``: ``through``'s, or none.
        through: A real backend each prompt is run through first (its figures are
            reported); ``None``: replay only.
    """

    def __init__(
        self,
        completions: Sequence[str | ScriptedCompletion],
        *,
        codec: HarmonyCodec | None = None,
        allow_text_after_stop: bool = False,
        context_window: int | None = None,
        through: ModelBackend | None = None,
    ) -> None:
        self.window = context_window
        self.through = through
        self._codec = codec or load_codec()
        self._script = [
            item if isinstance(item, ScriptedCompletion) else ScriptedCompletion(item)
            for item in completions
        ]
        self._allow_text_after_stop = allow_text_after_stop
        self._position = 0
        self.prompts: list[tuple[int, ...]] = []
        self._stats: dict[str, GenerationStats] = {}

    @property
    def remaining(self) -> int:
        """How many scripted completions have not been replayed yet."""
        return len(self._script) - self._position

    def decoded_prompts(self) -> list[str]:
        """Every prompt received, decoded with special tokens spelled out."""
        return [self._codec.decode(prompt) for prompt in self.prompts]

    def skip(self, count: int) -> None:
        """Fast-forward past ``count`` completions (a resumed run already replayed them)."""
        if count < 0 or self._position + count > len(self._script):
            raise ScriptError(
                f"cannot skip {count} completion(s): {self.remaining} remain in the script"
            )
        self._position += count

    def assert_finished(self) -> None:
        """Raise :class:`ScriptError` unless every scripted completion was replayed."""
        if self.remaining:
            raise ScriptError(
                f"the script has {self.remaining} unused completion(s) of {len(self._script)}; "
                f"the run made only {self._position} generation(s). Next unused: "
                f"{self._script[self._position].text[:120]!r}"
            )

    async def generate(self, request: GenerationRequest) -> AsyncIterator[int]:
        """Replay the next scripted completion."""
        if self._position >= len(self._script):
            raise ScriptError(
                f"generation #{self._position + 1} was requested but the script has only "
                f"{len(self._script)} completion(s)"
            )
        item = self._script[self._position]
        self._position += 1
        self.prompts.append(request.prompt)
        if item.check_prompt is not None:
            item.check_prompt(self._codec.decode(request.prompt))
        if self.through is not None:
            probe = replace(request, sampling=replace(request.sampling, max_tokens=1),
                            constraint=None)
            async for _ in self.through.generate(probe):
                pass
        tokens = self._codec.encode_with_special(item.text)
        started = time.perf_counter()
        sampled = 0
        for index, token in enumerate(tokens):
            if sampled >= request.sampling.max_tokens:
                break
            sampled += 1
            yield token
            if token in request.stop_tokens:
                if index + 1 < len(tokens) and not self._allow_text_after_stop:
                    rest = self._codec.decode(tokens[index + 1 :])
                    raise ScriptError(
                        f"scripted completion #{self._position} continues after a stop "
                        f"token: {rest[:120]!r}"
                    )
                break
        self._stats[request.session_id] = GenerationStats(
            prompt_tokens=len(request.prompt),
            prefilled_tokens=len(request.prompt),
            sampled_tokens=sampled,
            seconds=time.perf_counter() - started,
        )

    async def context_window(self) -> int | None:
        """The window given to the constructor, else ``through``'s."""
        if self.window is None and self.through is not None:
            return await backend_context_window(self.through)
        return self.window

    def last_stats(self, session_id: str) -> GenerationStats | None:
        """Figures of the last replay for ``session_id`` (``through``'s prefill, if any)."""
        stats = self._stats.get(session_id)
        if stats is None or self.through is None:
            return stats
        real = self.through.last_stats(session_id)
        return replace(stats, prefilled_tokens=real.prefilled_tokens) if real else stats

    async def release(self, session_id: str) -> None:
        """Forget a session's figures (and ``through``'s cache of it)."""
        self._stats.pop(session_id, None)
        if self.through is not None:
            await self.through.release(session_id)

    async def aclose(self) -> None:
        """Nothing to free."""

"""Summarising the oldest part of the conversation with a model.

Everything between the protected head (system, developer, the task) and the protected
tail (the most recent exchanges) is written out as plain text and given to a summariser
backend (the agent's own, or a second, cheaper one) with a short instruction. Its answer
replaces those messages as one clearly marked user-role message. The middle always ends
right before a generation, so no call loses its result. When the summariser's own window
is known (the session's, when it is the session's backend) and the whole middle would
not fit it, only its oldest part that fits is summarised (still ending before a
generation); the rest stays as it is. A middle no longer than a summary may be is left
alone without a model call, so a history that stays above the threshold after a summary
(a long protected tail) is not summarised again at every generation: only once new
messages have moved into the middle.
"""

from __future__ import annotations

from gptoss_agent.agent.backends.base import (
    GenerationRequest,
    ModelBackend,
    SamplingParams,
    backend_context_window,
)
from gptoss_agent.agent.context.base import CompactionJob
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import Conversation, Segment
from gptoss_agent.agent.harmony.parser import parse_completion
from gptoss_agent.agent.harmony.prompt import SystemSettings, system_message_text

SUMMARY_PREFIX = "[Summary of the earlier conversation, written to save context]"
"""How the summary message starts."""

_INSTRUCTION = (
    "Summarise the following part of an agent's work for the agent itself, which will "
    "continue from the summary. Keep every fact it still needs: what was tried, what "
    "tools returned (numbers, names, paths, errors), what is decided and what is left. "
    "Answer with the summary only."
)


class Summarise:
    """Replace the middle of the history with a summary a model writes.

    Args:
        backend: The model that writes the summary.
        max_tokens: Most tokens of the summary.
        window: The summariser's context window when it is the session's own backend
            (the session's window, which may be set smaller than the backend's);
            ``None``: the backend's own.
    """

    name = "summarise"

    def __init__(self, backend: ModelBackend, max_tokens: int = 512,
                 window: int | None = None) -> None:
        self.backend = backend
        self.max_tokens = max_tokens
        self.window = window

    async def compact(self, job: CompactionJob) -> tuple[Segment, ...] | None:
        """The history with its middle summarised, or ``None`` when nothing shrinks."""
        end = await self._middle_end(job)
        middle = job.segments[job.head:end]
        if sum(len(s.tokens) for s in middle) <= self.max_tokens:
            return None  # no shorter than a summary may be: not worth a model call
        summary = await self._summary(job, "\n\n".join(job.codec.decode(s.tokens)
                                                       for s in middle))
        if not summary:
            return None
        text = f"{SUMMARY_PREFIX}\n{summary}"
        tokens = job.conversation.render_user(text)
        if len(tokens) >= sum(len(s.tokens) for s in middle):
            return None
        marked = Segment("user", tokens, None, middle[0].turn)
        return (*job.segments[:job.head], marked, *job.segments[end:])

    async def _middle_end(self, job: CompactionJob) -> int:
        """Where the summarised part ends: the tail, or earlier if the summariser's window is small.

        The end is always right before a generation (or the head: nothing to summarise).
        """
        window = self.window or await backend_context_window(self.backend)
        if window is None:
            return job.tail
        room = window - self.max_tokens - len(self._prompt(job.codec, ""))
        end, used = job.head, 0
        for index in range(job.head, job.tail):
            segment = job.segments[index]
            starts_generation = (segment.kind == "assistant"
                                 and job.segments[index - 1].kind != "assistant")
            if starts_generation:
                end = index  # a boundary reached with everything before it fitting
            used += len(job.codec.encode_text(job.codec.decode(segment.tokens))) + 1
            if used > room:
                return end
        return job.tail

    @staticmethod
    def _prompt(codec: HarmonyCodec, history: str) -> tuple[int, ...]:
        """The summariser's prompt for ``history`` (the middle, written out)."""
        system = system_message_text(SystemSettings(reasoning_effort="low"), (), False)
        conversation = Conversation(codec, [("system", system), ("developer", _INSTRUCTION)])
        conversation.add_user(history)
        return conversation.prompt()

    async def _summary(self, job: CompactionJob, history: str) -> str:
        """What the summariser writes about ``history`` (its final answer's text)."""
        codec = job.codec
        session = f"{job.session_id}/summary"
        request = GenerationRequest(
            prompt=self._prompt(codec, history), stop_tokens=codec.assistant_stop_tokens,
            sampling=SamplingParams(temperature=0.0, max_tokens=self.max_tokens),
            session_id=session)
        try:
            tokens = [token async for token in self.backend.generate(request)]
        finally:
            await self.backend.release(session)
        messages = parse_completion(codec, tokens).messages
        finals = [m.text for m in messages if m.channel == "final" and not m.is_call]
        texts = finals or [m.text for m in messages if not m.is_call]
        return texts[-1].strip() if texts else ""

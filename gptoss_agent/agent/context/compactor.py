"""Running the configured strategies, in order, and rewriting the history once.

:func:`compact` builds the strategy chain from a :class:`CompactionConfig`, hands each
strategy what is left to free, and applies the result with
:meth:`~gptoss_agent.agent.harmony.conversation.Conversation.rewrite` (one ``compaction``
transcript record, with the elided texts it kept, :mod:`.kept`). The
:class:`CompactionReport` says what was done and where the history first changed: a
KV-caching backend re-prefills from that token on.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptoss_agent.agent.backends.base import ModelBackend
from gptoss_agent.agent.context.base import CompactionJob, CompactionStrategy, protected_bounds
from gptoss_agent.agent.context.config import CompactionConfig
from gptoss_agent.agent.context.elide import ElideToolOutputs
from gptoss_agent.agent.context.kept import KEPT_OUTPUTS, OutputShelf, ShelfKeeper
from gptoss_agent.agent.context.reasoning import DropReasoning
from gptoss_agent.agent.context.summarise import Summarise
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import Conversation, Segment


@dataclass(frozen=True)
class CompactionReport:
    """One compaction.

    Attributes:
        strategies: The strategies that changed something, in order.
        tokens_before: History tokens before.
        tokens_after: History tokens after.
        first_changed_token: Position of the first token that changed (everything
            before it is what the model saw before: a KV cache keeps it).
        window: The context window it was done for.
    """

    strategies: tuple[str, ...]
    tokens_before: int
    tokens_after: int
    first_changed_token: int
    window: int

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable form."""
        return {"strategies": list(self.strategies), "tokens_before": self.tokens_before,
                "tokens_after": self.tokens_after,
                "first_changed_token": self.first_changed_token, "window": self.window}


def strategy_chain(config: CompactionConfig, backend: ModelBackend, window: int | None = None
                   ) -> tuple[CompactionStrategy, ...]:
    """The strategies of ``config``, in order.

    Without a summariser, ``backend`` (the session's) summarises within ``window`` (the
    session's).
    """
    chain: list[CompactionStrategy] = []
    for name in config.strategies:
        if name == "elide_tool_outputs":
            chain.append(ElideToolOutputs())
        elif name == "drop_reasoning":
            chain.append(DropReasoning())
        else:
            own = config.summariser is None
            chain.append(Summarise(config.summariser or backend, config.summary_max_tokens,
                                   window=window if own else None))
    return tuple(chain)


def _size(segments: tuple[Segment, ...]) -> int:
    return sum(len(segment.tokens) for segment in segments)


def _first_changed_token(before: tuple[Segment, ...], after: tuple[Segment, ...]) -> int:
    """Position of the first token where the two histories differ."""
    old = [token for segment in before for token in segment.tokens]
    new = [token for segment in after for token in segment.tokens]
    limit = min(len(old), len(new))
    index = 0
    while index < limit and old[index] == new[index]:
        index += 1
    return index


async def compact(conversation: Conversation, codec: HarmonyCodec, config: CompactionConfig,
                  *, backend: ModelBackend, session_id: str, target: int, window: int,
                  shelf: OutputShelf | None = None) -> CompactionReport | None:
    """Shrink ``conversation`` toward ``target`` history tokens; ``None`` if nothing changed.

    ``shelf`` is where elided text nothing kept yet is kept (``config.keep_elided``);
    ``None``: it is let go.
    """
    original = conversation.segments
    segments = original
    applied: list[str] = []
    keeper = ShelfKeeper(shelf) if shelf is not None and config.keep_elided else None
    for strategy in strategy_chain(config, backend, window):
        to_free = _size(segments) - target
        if to_free <= 0:
            break
        head, tail = protected_bounds(segments, config.keep_recent)
        shorter = await strategy.compact(CompactionJob(
            segments, conversation, codec, to_free, head, tail, session_id, keeper))
        if shorter is not None and _size(shorter) < _size(segments):
            segments = shorter
            applied.append(strategy.name)
    if not applied:
        return None
    report = CompactionReport(tuple(applied), _size(original), _size(segments),
                              _first_changed_token(original, segments), window)
    details = report.to_dict()
    kept = keeper.commit(segments) if keeper is not None else []
    if kept:
        details[KEPT_OUTPUTS] = kept
    conversation.rewrite(segments, details)
    return report

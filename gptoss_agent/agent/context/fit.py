"""The budget before every generation: the prompt plus the generation's tokens must fit.

:func:`fit_window` is called by the loop before each generation once the window is known.
It compacts the history when the prompt passes the threshold (or the generation would not
fit), cuts the generation's token budget to what the window has left, and says so when
nothing makes it fit (the run stops with ``context_full``; no over-long prompt is ever
sent).
"""

from __future__ import annotations

from dataclasses import dataclass

from gptoss_agent.agent.backends.base import ModelBackend
from gptoss_agent.agent.context.compactor import CompactionReport, compact
from gptoss_agent.agent.context.config import CompactionConfig
from gptoss_agent.agent.context.kept import OutputShelf
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import Conversation


@dataclass(frozen=True)
class WindowFit:
    """What the next generation may do.

    Attributes:
        fits: Whether the prompt and at least the reserve fit the window.
        budget: Tokens the generation may sample (cut to the window's room).
        prompt_tokens: Length of the prompt after any compaction.
        report: The compaction done just now, if one was.
    """

    fits: bool
    budget: int
    prompt_tokens: int
    report: CompactionReport | None = None


async def fit_window(conversation: Conversation, codec: HarmonyCodec,
                     config: CompactionConfig, *, window: int, budget: int,
                     backend: ModelBackend, session_id: str,
                     shelf: OutputShelf | None = None) -> WindowFit:
    """Make the next generation fit ``window``, compacting when the config says to.

    ``shelf``: where elision keeps the text it takes out (the session's tool outputs).
    """
    reserve = min(config.reserve_tokens, budget)
    size = len(conversation.prompt())
    report = None
    if config.strategies and (size > config.threshold_tokens(window)
                              or size + reserve > window):
        tail = len(conversation.assistant_start)
        report = await compact(conversation, codec, config, backend=backend,
                               session_id=session_id, window=window,
                               target=config.target_tokens(window) - tail, shelf=shelf)
        size = len(conversation.prompt())
    room = window - size
    if room < reserve:
        return WindowFit(False, 0, size, report)
    return WindowFit(True, min(budget, room), size, report)

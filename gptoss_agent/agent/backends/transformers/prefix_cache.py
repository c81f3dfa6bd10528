"""Per-session KV-cache bookkeeping: which tokens a cache holds and how much a prompt reuses.

The agent loop sends the whole conversation every generation. A backend that keeps a KV cache per
session compares the new prompt with the tokens its cache holds: the longest common prefix
(LCP) is reused, everything after it is dropped from the cache and recomputed. Appending a
tool result reuses everything; rewriting history (dropping a turn's analysis after a
``final``) reuses the part before the first changed token.

This module knows nothing about tensors: a backend stores its cache object in a
:class:`SessionCache` entry and asks :class:`SessionCacheStore` for a :class:`ReusePlan`.
The store keeps at most ``max_sessions`` entries and evicts the least recently used one.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

State = TypeVar("State")


def common_prefix_length(first: Sequence[int], second: Sequence[int]) -> int:
    """Number of leading tokens ``first`` and ``second`` share."""
    limit = min(len(first), len(second))
    index = 0
    while index < limit and first[index] == second[index]:
        index += 1
    return index


@dataclass(frozen=True)
class ReusePlan:
    """How to bring a session's cache up to a new prompt.

    Attributes:
        cached: Tokens the cache held before this prompt.
        reused: Leading prompt tokens whose keys and values come from the cache.
        prefill: Prompt tokens to compute (never empty: the last prompt token must be run
            to get the logits of the first sampled token).
    """

    cached: int
    reused: int
    prefill: tuple[int, ...]

    @property
    def dropped(self) -> int:
        """Cached tokens discarded because the prompt diverged from them."""
        return self.cached - self.reused


def plan_reuse(cached_tokens: Sequence[int], prompt: Sequence[int]) -> ReusePlan:
    """Plan the reuse of a cache holding ``cached_tokens`` for ``prompt``.

    Raises:
        ValueError: ``prompt`` is empty.
    """
    if not prompt:
        raise ValueError("the prompt is empty")
    reused = min(common_prefix_length(cached_tokens, prompt), len(prompt) - 1)
    return ReusePlan(cached=len(cached_tokens), reused=reused, prefill=tuple(prompt[reused:]))


@dataclass
class SessionCache(Generic[State]):
    """One session's cache: the backend's state object and the tokens it holds.

    Attributes:
        state: The backend's cache object (a transformers ``Cache``), or ``None``
            before the first forward pass.
        tokens: Tokens whose keys and values ``state`` holds, in order.
        busy: Generations in progress on this entry; a busy entry is never evicted.
    """

    state: State | None = None
    tokens: list[int] = field(default_factory=list)
    busy: int = 0


class SessionCacheStore(Generic[State]):
    """A bounded, least-recently-used map from session id to :class:`SessionCache`.

    Entries that are busy (a generation runs on them) are skipped by eviction, so the store
    can briefly hold more than ``max_sessions`` entries while many sessions generate.

    Args:
        max_sessions: Most sessions kept; using one more evicts the least recently used.
        on_evict: Called with the session id and entry of every evicted or released entry.
    """

    def __init__(
        self,
        max_sessions: int,
        on_evict: Callable[[str, SessionCache[State]], None] | None = None,
    ) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be >= 1, got {max_sessions}")
        self.max_sessions = max_sessions
        self._entries: OrderedDict[str, SessionCache[State]] = OrderedDict()
        self._on_evict = on_evict

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._entries

    def get(self, session_id: str) -> SessionCache[State]:
        """The entry of ``session_id``, created empty if new; marks it most recently used."""
        entry = self._entries.get(session_id)
        if entry is None:
            entry = SessionCache()
            self._entries[session_id] = entry
            idle = [
                key for key, value in self._entries.items() if not value.busy and key != session_id
            ]
            for old_id in idle[: max(0, len(self._entries) - self.max_sessions)]:
                self._forget(old_id, self._entries.pop(old_id))
        else:
            self._entries.move_to_end(session_id)
        return entry

    def pop(self, session_id: str) -> None:
        """Forget ``session_id`` (no error if unknown)."""
        entry = self._entries.pop(session_id, None)
        if entry is not None:
            self._forget(session_id, entry)

    def clear(self) -> None:
        """Forget every session."""
        while self._entries:
            session_id, entry = self._entries.popitem(last=False)
            self._forget(session_id, entry)

    def _forget(self, session_id: str, entry: SessionCache[State]) -> None:
        if self._on_evict is not None:
            self._on_evict(session_id, entry)
        entry.state = None
        entry.tokens.clear()

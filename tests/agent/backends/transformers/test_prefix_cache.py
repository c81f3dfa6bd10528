"""Longest-common-prefix planning and the bounded per-session store."""

from __future__ import annotations

import pytest

from gptoss_agent.agent.backends.transformers.prefix_cache import (
    SessionCacheStore,
    common_prefix_length,
    plan_reuse,
)


def test_common_prefix_length() -> None:
    assert common_prefix_length([1, 2, 3], [1, 2, 4]) == 2
    assert common_prefix_length([1, 2], [1, 2, 3]) == 2
    assert common_prefix_length([], [1]) == 0
    assert common_prefix_length([5], [6]) == 0


def test_appended_prompt_reuses_everything_cached() -> None:
    plan = plan_reuse([1, 2, 3, 4], [1, 2, 3, 4, 5, 6])
    assert (plan.cached, plan.reused, plan.prefill, plan.dropped) == (4, 4, (5, 6), 0)


def test_identical_prompt_still_prefills_its_last_token() -> None:
    plan = plan_reuse([1, 2, 3], [1, 2, 3])
    assert plan.reused == 2
    assert plan.prefill == (3,)
    assert plan.dropped == 1


def test_rewritten_history_reuses_only_the_common_prefix() -> None:
    cached = [1, 2, 3, 4, 5, 6, 7]
    prompt = [1, 2, 3, 6, 7, 8]  # 4 and 5 dropped from the middle
    plan = plan_reuse(cached, prompt)
    assert plan.reused == 3
    assert plan.prefill == (6, 7, 8)
    assert plan.dropped == 4


def test_empty_prompt_is_rejected() -> None:
    with pytest.raises(ValueError):
        plan_reuse([1], [])


def test_store_evicts_least_recently_used() -> None:
    evicted: list[str] = []
    store: SessionCacheStore[object] = SessionCacheStore(2, on_evict=lambda s, _: evicted.append(s))
    store.get("a").tokens.extend([1, 2])
    store.get("b")
    store.get("a")  # "b" is now the least recently used
    store.get("c")
    assert evicted == ["b"]
    assert "a" in store and "c" in store and "b" not in store
    assert store.get("a").tokens == [1, 2]


def test_store_never_evicts_a_busy_entry() -> None:
    store: SessionCacheStore[object] = SessionCacheStore(1)
    busy = store.get("a")
    busy.busy = 1
    store.get("b")
    assert "a" in store and "b" in store
    busy.busy = 0
    store.get("c")
    assert "a" not in store and "c" in store


def test_pop_and_clear_forget_state() -> None:
    store: SessionCacheStore[object] = SessionCacheStore(4)
    entry = store.get("a")
    entry.state, entry.tokens[:] = object(), [1]
    store.pop("a")
    assert entry.state is None and entry.tokens == [] and len(store) == 0
    store.pop("missing")
    store.get("x")
    store.get("y")
    store.clear()
    assert len(store) == 0


def test_store_bound_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SessionCacheStore(0)

"""Slicing long output by tokens, the store of cut outputs and the pager that reads them."""

from __future__ import annotations

import itertools
import json

import pytest

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.output_pages import (
    PAGER_NAME,
    StoredOutput,
    ToolOutputStore,
    keep_in_drive,
    page_text,
)
from gptoss_agent.tools.output_text import (
    count_tokens,
    first_tokens,
    head_lines,
    iter_pages,
    last_tokens,
    split_lines,
    tail_lines,
)
from gptoss_agent.tools.python_tool import PythonTool

LOG = "".join(f"step {i}: compiled module_{i}.py without warnings\n" for i in range(1, 501))


def test_split_lines_keeps_endings_and_splits_only_on_newline() -> None:
    assert split_lines("a\nb\r\nc\u2028d") == ["a\n", "b\r\n", "c\u2028d"]
    assert split_lines("a\n") == ["a\n"] and split_lines("") == []
    assert "".join(split_lines(LOG)) == LOG


def test_head_and_tail_take_whole_lines_within_the_budget(codec: HarmonyCodec) -> None:
    lines = split_lines(LOG)
    head = head_lines(codec, lines, 100)
    tail = tail_lines(codec, lines, 100)
    assert head.text == "".join(lines[:head.whole_lines]) and not head.partial
    assert tail.text == "".join(lines[-tail.whole_lines:]) and not tail.partial
    assert 0 < head.tokens <= 100 and 0 < tail.tokens <= 100
    one_more = "".join(lines[:head.whole_lines + 1])
    assert count_tokens(codec, one_more) > 100  # the next line would not have fitted


def test_a_line_too_long_is_cut_at_a_token_boundary(codec: HarmonyCodec) -> None:
    line = "é€😀 mixed wide characters " * 400  # multi-byte characters everywhere
    head = head_lines(codec, [line], 50)
    tail = tail_lines(codec, [line], 50)
    assert head.partial and tail.partial and head.whole_lines == tail.whole_lines == 0
    assert line.startswith(head.text) and line.endswith(tail.text)
    assert 40 <= count_tokens(codec, head.text) <= 50
    assert first_tokens(codec, line, 0) == "" and last_tokens(codec, line, 0) == ""


def test_pages_cover_the_text_exactly_and_fit(codec: HarmonyCodec) -> None:
    pages = list(iter_pages(codec, LOG, 200))
    assert "".join(page.text for page in pages) == LOG
    assert [page.number for page in pages] == list(range(1, len(pages) + 1))
    assert all(count_tokens(codec, page.text) <= 200 for page in pages)
    assert pages[0].first_line == 1 and pages[-1].last_line == 500
    for before, after in itertools.pairwise(pages):
        assert after.first_line == before.last_line + 1


def test_a_huge_line_fills_pages_of_its_own(codec: HarmonyCodec) -> None:
    text = "short first line\n" + "ü😀" * 3000 + "\nlast line\n"
    pages = list(iter_pages(codec, text, 300))
    assert "".join(page.text for page in pages) == text  # no character lost or split
    parts = [page for page in pages if page.part is not None]
    assert len(parts) > 2 and {page.first_line for page in parts} == {2}
    assert [page.part for page in parts] == [(k, len(parts)) for k in range(1, len(parts) + 1)]
    assert pages[0].text == "short first line\n" and pages[-1].text == "last line\n"


def test_break_after_ends_the_first_page_where_the_cut_starts(codec: HarmonyCodec) -> None:
    pages = list(iter_pages(codec, LOG, 500, break_after=3))
    assert (pages[0].first_line, pages[0].last_line) == (1, 3)
    assert pages[1].first_line == 4


def context(session: str = "s1") -> ToolContext:
    return ToolContext(session_id=session)


def stored(text: str = LOG, output_id: str = "call_3", head: int = 0) -> StoredOutput:
    return StoredOutput(output_id, "functions.build", text, 300, None, head)


async def test_the_pager_reads_pages_and_says_what_comes_next(codec: HarmonyCodec) -> None:
    store = ToolOutputStore(codec)
    store.put("s1", stored(head=10))
    pager = store.pager()
    assert pager.name == PAGER_NAME and pager.spec.parameters is not None
    first = await pager.invoke('{"id": "call_3"}', context())
    second = await pager.invoke('{"id": "call_3", "page": 2}', context())
    count = len(store.pages("s1", stored(head=10)))
    assert first.text.startswith(f"[call_3 (functions.build), page 1 of {count}: lines 1–10]\n")
    assert second.text.splitlines()[1] == "step 11: compiled module_11.py without warnings"
    assert second.text.endswith('[next: functions.read_tool_output(id="call_3", page=3)]')
    last = await pager.invoke(json.dumps({"id": "call_3", "page": count}), context())
    assert last.text.endswith("[end of call_3]") and "step 500:" in last.text
    assert second.metadata["output_page"] is True and not second.is_error


async def test_the_pager_refuses_what_it_cannot_show(codec: HarmonyCodec) -> None:
    store = ToolOutputStore(codec)
    store.put("s1", stored())
    pager = store.pager()
    beyond = await pager.invoke('{"id": "call_3", "page": 999}', context())
    assert beyond.invalid_call and "ask for page 1 to" in beyond.text
    unknown = await pager.invoke('{"id": "call_9"}', context())
    assert unknown.invalid_call and "Ids held: call_3." in unknown.text
    other_session = await pager.invoke('{"id": "call_3"}', context("s2"))
    assert other_session.invalid_call  # one session never reads another's output
    bad = await pager.invoke('{"page": 2}', context())
    assert bad.invalid_call


async def test_a_wrong_id_lists_only_the_most_recent_ids(codec: HarmonyCodec) -> None:
    store = ToolOutputStore(codec)
    for n in range(1, 501):
        store.put("s1", stored("short\n", output_id=f"call_{n}"))
    unknown = await store.pager().invoke('{"id": "call_0"}', context())
    assert unknown.invalid_call
    assert "call_500" in unknown.text and "call_481," in unknown.text
    assert "call_480," not in unknown.text and "20 most recent of 500" in unknown.text
    assert len(unknown.text) < 500  # the pager's answers are never cut: it bounds its own


async def test_the_store_lets_the_oldest_go_beyond_its_cap(codec: HarmonyCodec) -> None:
    store = ToolOutputStore(codec, max_chars_per_session=len(LOG) * 2)
    for n in range(1, 4):
        store.put("s1", stored(output_id=f"call_{n}"))
    assert [o.output_id for o in store.outputs("s1")] == ["call_2", "call_3"]
    gone = await store.pager().invoke('{"id": "call_1"}', context())
    assert gone.is_error and "no longer held" in gone.text and "transcript" in gone.text
    assert store.unique_id("s1", "call_1") == "call_1_2"  # never reused, even let go
    store.forget("s1")
    assert store.outputs("s1") == () and store.unique_id("s1", "call_1") == "call_1"


def test_restore_reads_full_texts_from_transcript_records(codec: HarmonyCodec) -> None:
    cut = {"id": "call_2", "page_tokens": 300, "head_lines": 4}
    records = [
        {"type": "header", "session_id": "s1"},
        {"type": "event", "event": {"type": "tool_result", "recipient": "functions.build",
                                    "metadata": {"output_cut": cut, "full_text": LOG}}},
        {"type": "event", "event": {"type": "tool_result", "recipient": "python",
                                    "metadata": {"output_cut": {**cut, "id": "call_5"}}}},
        {"type": "event", "event": {"type": "tool_result", "metadata": {}}},
    ]
    store = ToolOutputStore(codec)
    assert store.restore("s1", records) == 1  # python's lives in its file, not here
    assert store.get("s1", "call_2") == StoredOutput("call_2", "functions.build", LOG, 300,
                                                     None, 4)


def test_page_text_names_parts_of_a_long_line(codec: HarmonyCodec) -> None:
    output = stored("x" * 20000)
    pages = list(iter_pages(codec, output.text, 300))
    text = page_text(output, pages[1], len(pages))
    assert text.startswith(f"[call_3 (functions.build), page 2 of {len(pages)}: line 1, part 2 of")


def test_keep_in_drive_writes_under_the_session_drive(tmp_path) -> None:  # type: ignore[no-untyped-def]
    tool = PythonTool(data_dir=tmp_path)
    where = keep_in_drive(tool.put_file, "s1", "call_7", "line\udc80 one\nline two\n")
    assert where == "/mnt/data/.tool_outputs/call_7.txt"
    written = tool.data_dir("s1") / ".tool_outputs" / "call_7.txt"
    assert written.read_text() == "line\\udc80 one\nline two\n"


@pytest.mark.parametrize("budget", [1, 7, 64])
def test_first_and_last_tokens_never_exceed_the_budget(codec: HarmonyCodec, budget: int) -> None:
    text = "数据" * 500 + " tail"
    assert count_tokens(codec, first_tokens(codec, text, budget)) <= budget
    assert count_tokens(codec, last_tokens(codec, text, budget)) <= budget


def test_long_texts_are_counted_in_pieces_cut_after_newlines(codec: HarmonyCodec) -> None:
    from gptoss_agent.tools.output_text import CHUNK_CHARS, chunks

    text = LOG * 10 + "z" * (3 * CHUNK_CHARS)
    pieces = list(chunks(text))
    assert "".join(pieces) == text and all(len(p) <= CHUNK_CHARS for p in pieces)
    assert all(p.endswith("\n") for p in pieces if "z" not in p)
    exact = len(codec.encode_text(LOG * 10))
    assert abs(count_tokens(codec, LOG * 10) - exact) <= len(list(chunks(LOG * 10)))

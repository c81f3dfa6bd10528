"""Tool results within their token budget: cut at lines, marked, kept, paged; in the loop."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.limits import DEFAULT_TOOL_OUTPUT_TOKENS, LoopLimits
from gptoss_agent.agent.result import ChatMessage, StopReason
from gptoss_agent.agent.transcript import TranscriptWriter, read_records
from gptoss_agent.tools.base import FunctionSpec, NamespaceSpec, ToolCall, ToolContext, ToolResult
from gptoss_agent.tools.function import function_tool
from gptoss_agent.tools.output_pages import ToolOutputStore
from gptoss_agent.tools.output_text import count_tokens
from tests.agent.scripting import CALL_ADD, FINAL, add, scripted_agent

LINES = 2000


@function_tool
def build_log() -> str:
    """The log of a long build."""
    return "".join(f"[{i:04d}] compiling src/module_{i}.c with -O2\n" for i in range(1, LINES + 1))


@function_tool
def one_line() -> str:
    """A result that is one enormous line."""
    return "".join(f"ünïcode-{i}-😀," for i in range(6000))


def call(name: str, arguments: str = "{}") -> str:
    return (f"<|channel|>commentary to=functions.{name} <|constrain|>json"
            f"<|message|>{arguments}<|call|>")


def page_call(output_id: str, page: int) -> str:
    return call("read_tool_output", f'{{"id": "{output_id}", "page": {page}}}')


def tool_texts(messages: list[ChatMessage]) -> list[str]:
    return [m.text for m in messages if m.role == "tool"]


async def test_a_long_result_is_cut_at_lines_with_an_exact_marker(codec: HarmonyCodec) -> None:
    agent, _ = scripted_agent(codec, [call("build_log"), FINAL], [build_log],
                              limits=LoopLimits(tool_output_tokens=600))
    result = await agent.run("build it")
    [shown] = tool_texts(result.new_messages)
    assert count_tokens(codec, shown) <= 600
    lines = shown.splitlines()
    [marker] = [line for line in lines if line.startswith("[… ")]
    found = re.fullmatch(r"\[… lines (\d+)–([\d,]+) of 2,000 cut \(≈([\d,]+) tokens\); read them "
                         r'with functions.read_tool_output\(id="call_1", page=2\)\]', marker)
    assert found, marker
    first, last = int(found[1]), int(found[2].replace(",", ""))
    index = lines.index(marker)
    full = build_log.handler().splitlines()
    assert lines[:index] == full[:first - 1]  # whole lines of the head, in order
    assert lines[index + 1:] == full[last:]  # and of the tail
    assert first > 10 and LINES - last > 10  # both ends kept
    cut_tokens = int(found[3].replace(",", ""))
    assert abs(cut_tokens - (count_tokens(codec, build_log.handler()) - 600)) < 100


async def test_the_model_pages_through_the_rest(codec: HarmonyCodec) -> None:
    script = [call("build_log"), page_call("call_1", 2), page_call("call_1", 3), FINAL]
    agent, backend = scripted_agent(codec, script, [build_log],
                                    limits=LoopLimits(tool_output_tokens=600))
    result = await agent.run("build it")
    shown, page2, page3 = tool_texts(result.new_messages)
    first = int(re.search(r"\[… lines (\d+)", shown)[1])  # type: ignore[index]
    header = page2.splitlines()[0]
    assert re.fullmatch(rf"\[call_1 \(functions.build_log\), page 2 of \d+: lines {first}–\d+\]",
                        header), header
    assert page2.splitlines()[1] == f"[{first:04d}] compiling src/module_{first}.c with -O2"
    assert page2.endswith('[next: functions.read_tool_output(id="call_1", page=3)]')
    last_of_2 = int(re.search(r"–(\d+)\]", header)[1])  # type: ignore[index]
    assert page3.splitlines()[1].startswith(f"[{last_of_2 + 1:04d}]")
    assert all(count_tokens(codec, text) <= 600 for text in (page2, page3))
    assert result.stop_reason is StopReason.FINAL and result.incidents == ()
    assert "read_tool_output" not in backend.decoded_prompts()[0]  # never declared


async def test_a_declared_pager_reads_the_sessions_outputs(codec: HarmonyCodec) -> None:
    script = [call("build_log"), page_call("call_1", 2), FINAL]
    declared = ToolOutputStore(codec).pager()  # as docs/tool_output.md says to declare it
    agent, backend = scripted_agent(codec, script, [build_log, declared],
                                    limits=LoopLimits(tool_output_tokens=600))
    result = await agent.run("build it")
    _shown, page2 = tool_texts(result.new_messages)
    assert page2.startswith("[call_1 (functions.build_log), page 2 of "), page2
    assert result.incidents == ()
    assert "read_tool_output" in backend.decoded_prompts()[0]  # declared up front


async def test_results_that_fit_leave_the_prompt_exactly_as_before(codec: HarmonyCodec) -> None:
    prompts = []
    for limits in (LoopLimits(), LoopLimits(tool_output_tokens=None)):
        agent, backend = scripted_agent(codec, [CALL_ADD, FINAL], [add], limits=limits)
        await agent.run("2+3?")
        prompts.append(backend.decoded_prompts())
    assert prompts[0] == prompts[1]
    assert LoopLimits().tool_output_tokens == DEFAULT_TOOL_OUTPUT_TOKENS


async def test_one_huge_line_is_cut_at_token_boundaries(codec: HarmonyCodec) -> None:
    agent, _ = scripted_agent(codec, [call("one_line"), page_call("call_1", 1), FINAL],
                              [one_line], limits=LoopLimits(tool_output_tokens=400))
    result = await agent.run("go")
    shown, page = tool_texts(result.new_messages)
    full = one_line.handler()
    head, marker, tail = shown.split("\n")
    assert full.startswith(head) and full.endswith(tail) and head and tail
    assert marker.startswith("[… line 1 of 1 cut (≈") and 'page=1)]' in marker
    assert count_tokens(codec, shown) <= 400 and "\ufffd" not in shown
    assert page.splitlines()[0].startswith("[call_1 (functions.one_line), page 1 of ")
    assert "line 1, part 1 of" in page.splitlines()[0]


async def test_budgets_per_tool_win_over_the_default(codec: HarmonyCodec) -> None:
    budgets = {"functions.build_log": None, "functions": 300}
    agent, _ = scripted_agent(codec, [call("build_log"), call("one_line"), FINAL],
                              [build_log, one_line],
                              limits=LoopLimits(tool_output_tokens=1000,
                                                tool_output_budgets=budgets))
    result = await agent.run("go")
    whole, cut = tool_texts(result.new_messages)
    assert whole == build_log.handler()  # no limit for this one
    assert count_tokens(codec, cut) <= 300 and "cut (≈" in cut
    with pytest.raises(ValueError, match="at least 256"):
        LoopLimits(tool_output_budgets={"python": 10})


class KeepingPython:
    """A python stand-in that keeps full outputs in its drive, as PythonTool does."""

    def __init__(self, drive: Path, fail: bool = False) -> None:
        self.drive = drive
        self.fail = fail

    @property
    def spec(self) -> NamespaceSpec:
        return NamespaceSpec("python", "Runs Python code (test double).", builtin=True)

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        return ToolResult("".join(f"row {i}\n" for i in range(5000)), metadata={"status": "ok"})

    def keep_output(self, session_id: str, output_id: str, text: str) -> str:
        if self.fail:
            raise OSError("disk quota exceeded")
        (self.drive / f"{output_id}.txt").write_text(text)
        return f"/mnt/data/.tool_outputs/{output_id}.txt"

    async def aclose(self) -> None:
        return None


PYTHON_CALL = "<|channel|>analysis to=python code<|message|>print_rows()<|call|>"


async def test_a_keeping_tool_names_its_file_and_the_transcript_stays_small(
        codec: HarmonyCodec, tmp_path: Path) -> None:
    tool = KeepingPython(tmp_path)
    agent, _ = scripted_agent(codec, [PYTHON_CALL, FINAL], [tool],
                              limits=LoopLimits(tool_output_tokens=300))
    path = tmp_path / "t.jsonl"
    async with agent.session("s", transcript=TranscriptWriter(path)) as session:
        result = await session.send("go")
    [shown] = tool_texts(result.new_messages)
    assert shown.count("\n[… lines ") == 1
    assert "; full text: /mnt/data/.tool_outputs/call_1.txt]" in shown
    assert (tmp_path / "call_1.txt").read_text() == "".join(f"row {i}\n" for i in range(5000))
    [event] = [r["event"] for r in read_records(path)
               if r["type"] == "event" and r["event"]["type"] == "tool_result"]
    assert event["metadata"]["output_cut"]["kept_at"] == "/mnt/data/.tool_outputs/call_1.txt"
    assert "full_text" not in event["metadata"] and event["metadata"]["status"] == "ok"


async def test_a_keeper_that_fails_falls_back_to_the_session(codec: HarmonyCodec,
                                                             tmp_path: Path) -> None:
    tool = KeepingPython(tmp_path, fail=True)
    agent, _ = scripted_agent(codec, [PYTHON_CALL, page_call("call_1", 2), FINAL], [tool],
                              limits=LoopLimits(tool_output_tokens=300))
    result = await agent.run("go")
    shown, page = tool_texts(result.new_messages)
    assert 'read them with functions.read_tool_output(id="call_1", page=2)]' in shown
    assert page.startswith("[call_1 (python), page 2 of ")


class PagingBrowser:
    """A namespace that pages its own output (as the browser does): never cut."""

    pages_own_output = True

    @property
    def spec(self) -> NamespaceSpec:
        return NamespaceSpec("browser", "Pages (test double).",
                             (FunctionSpec("open", "Opens a page."),), builtin=True)

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        return ToolResult("word " * 5000)

    async def aclose(self) -> None:
        return None


async def test_a_self_paging_tool_is_left_alone(codec: HarmonyCodec) -> None:
    script = ["<|channel|>analysis to=browser.open code<|message|>{}<|call|>", FINAL]
    agent, _ = scripted_agent(codec, script, [PagingBrowser()],
                              limits=LoopLimits(tool_output_tokens=300))
    result = await agent.run("go")
    assert tool_texts(result.new_messages) == ["word " * 5000]


async def test_full_texts_are_in_the_transcript_and_come_back_on_resume(
        codec: HarmonyCodec, tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    limits = LoopLimits(tool_output_tokens=600)
    agent, _ = scripted_agent(codec, [call("build_log"), FINAL], [build_log], limits=limits)
    async with agent.session("s", transcript=TranscriptWriter(path)) as session:
        await session.send("build it")
    records = read_records(path)
    [event] = [r["event"] for r in records
               if r["type"] == "event" and r["event"]["type"] == "tool_result"]
    assert event["metadata"]["full_text"] == build_log.handler()
    assert event["metadata"]["output_cut"]["cut_lines"][1] < LINES
    from gptoss_agent.agent.tool_output import output_store

    again, _ = scripted_agent(codec, [page_call("call_1", 2), FINAL], [build_log],
                              limits=limits)
    resumed = again.restore_session(records)
    assert output_store(resumed.state).restore("s", records) == 1
    result = await resumed.send("show me the rest")
    assert tool_texts(result.new_messages)[0].startswith("[call_1 (functions.build_log), page 2")


@function_tool
def odd_names() -> str:
    """File names as os.fsdecode gives them for bytes that are not UTF-8."""
    return "report.txt\nr\udce9sum\udce9.txt\n\ud800 alone"


class OddMetadata:
    """A namespace whose result carries unencodable text in its text and metadata."""

    @property
    def spec(self) -> NamespaceSpec:
        return NamespaceSpec("python", "Odd output (test double).", builtin=True)

    async def call(self, call: ToolCall, context: ToolContext) -> ToolResult:
        return ToolResult("", metadata={"files": ["a\udc80.txt"]}, is_error=True,
                          invalid_call=True)

    async def aclose(self) -> None:
        return None


async def test_unencodable_text_is_escaped_said_and_recorded(codec: HarmonyCodec,
                                                             tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    agent, backend = scripted_agent(codec, [call("odd_names"), FINAL], [odd_names])
    async with agent.session("s", transcript=TranscriptWriter(path)) as session:
        result = await session.send("list files")
    [shown] = tool_texts(result.new_messages)
    assert shown == ("report.txt\nr\\udce9sum\\udce9.txt\n\\ud800 alone\n[note: 3 characters "
                     "that cannot be encoded (lone surrogates) shown escaped as \\udXXX]")
    assert result.stop_reason is StopReason.FINAL
    assert "r\\udce9sum\\udce9.txt" in backend.decoded_prompts()[1]  # the model reads it
    recorded = [r["event"] for r in read_records(path) if r["type"] == "event"
                and r["event"]["type"] == "tool_result"]
    assert recorded[0]["metadata"]["unencodable_escaped"] == 3


async def test_unencodable_metadata_and_an_empty_invalid_result(codec: HarmonyCodec,
                                                                tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    agent, _ = scripted_agent(codec, [PYTHON_CALL, FINAL], [OddMetadata()])
    async with agent.session("s", transcript=TranscriptWriter(path)) as session:
        result = await session.send("go")
    assert result.stop_reason is StopReason.FINAL
    assert [i.detail for i in result.incidents] == ["python: (no message)"]
    [event] = [r["event"] for r in read_records(path) if r["type"] == "event"
               and r["event"]["type"] == "tool_result"]
    assert event["metadata"]["files"] == ["a\\udc80.txt"]
    assert event["metadata"]["unencodable_escaped"] == 1


async def test_a_crash_message_with_surrogates_reaches_the_model(codec: HarmonyCodec) -> None:
    @function_tool
    def explode() -> str:
        """Raises with an odd message."""
        raise RuntimeError("cannot open \udcff")

    agent, _ = scripted_agent(codec, [call("explode"), FINAL], [explode])
    result = await agent.run("go")
    [shown] = tool_texts(result.new_messages)
    assert "cannot open \\udcff" in shown and "[note: 1 character" in shown
    assert result.stop_reason is StopReason.FINAL


def test_the_most_specific_budget_key_wins() -> None:
    limits = LoopLimits(tool_output_tokens=1000, tool_output_budgets={
        "functions.git_status": 300, "git.status": 400, "git": 500})
    assert limits.output_budget("functions.git_status", "git.status", "git") == 300
    assert limits.output_budget("git.status", "git.status", "git") == 400
    assert limits.output_budget("git.log", "git.log", "git") == 500
    assert limits.output_budget("python", "python", "python") == 1000


TEXTS = {
    "short lines": "".join(f"{i}\n" for i in range(20000)),
    "ragged": "".join(("x" * (i % 97)) + " ok\n" for i in range(3000)),
    "wide characters": "".join("数据😀é" * (i % 40) + "\n" for i in range(2000)),
    "huge lines": ("ab" * 15000 + "\n") * 3,
    "no newline at all": "token " * 20000,
    "blank lines": "\n" * 50000,
}


@pytest.mark.parametrize("budget", [256, 333, 2048])
@pytest.mark.parametrize("name", sorted(TEXTS))
async def test_every_cut_fits_its_budget_and_keeps_true_ends(codec: HarmonyCodec, name: str,
                                                             budget: int) -> None:
    from gptoss_agent.agent.tool_output import bound_result

    text = TEXTS[name]
    agent, _ = scripted_agent(codec, [FINAL], [add],
                              limits=LoopLimits(tool_output_tokens=budget))
    session = agent.session("s")
    tool_call = ToolCall("call_1", "functions", "add", "{}")
    bounded = bound_result(session.state, agent.registry.functions, tool_call,
                           ToolResult(text))
    assert count_tokens(codec, bounded.text) <= budget
    head, _, rest = bounded.text.partition("[… ")
    marker, _, tail = rest.partition("]\n") if "]\n" in rest else (rest, "", "")
    assert text.startswith(head.removesuffix("\n")) and text.endswith(tail)
    assert "cut (≈" in marker and bounded.metadata["full_text"] == text
    facts = bounded.metadata["output_cut"]
    assert facts["shown_tokens"] == count_tokens(codec, bounded.text)
    await session.aclose()

"""The strategies on a conversation built by hand: what each removes and what it keeps."""

from __future__ import annotations

from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.context import CompactionConfig, compact
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.harmony.conversation import AnalysisPolicy, Conversation
from gptoss_agent.agent.harmony.parser import parse_completion

LONG = "\n".join(f"line {n}: the quick brown fox jumps over the lazy dog" for n in range(30))


def _assistant(conversation: Conversation, codec: HarmonyCodec, text: str) -> None:
    messages = parse_completion(codec, codec.encode_with_special(text)).messages
    conversation.add_assistant(messages)


def _tool_loop(codec: HarmonyCodec, steps: int, where: str | None = None) -> Conversation:
    """A turn in a tool loop: reasoning, a python call from analysis, a function call."""
    conversation = Conversation(codec, [("system", "You are terse.")], AnalysisPolicy.PER_TURN)
    conversation.add_user("Find the bug.")
    for step in range(steps):
        _assistant(conversation, codec,
                   f"<|channel|>analysis<|message|>Thinking about step {step} at length, "
                   "weighing every option carefully.<|end|>")
        _assistant(conversation, codec,
                   f"<|channel|>analysis to=python code<|message|>print({step})<|call|>")
        conversation.add_tool_result("python", "analysis", str(step))
        _assistant(conversation, codec,
                   "<|channel|>commentary to=functions.grep <|constrain|>json"
                   f'<|message|>{{"step": {step}}}<|call|>')
        conversation.add_tool_result("functions.grep", "commentary", LONG, where)
    return conversation


async def _compact(codec: HarmonyCodec, conversation: Conversation, config: CompactionConfig,
                   target: int) -> object:
    return await compact(conversation, codec, config, backend=ScriptedBackend([], codec=codec),
                         session_id="s", target=target, window=10_000)


async def test_the_stub_names_where_the_full_text_is(codec: HarmonyCodec) -> None:
    conversation = _tool_loop(codec, 4, where="/mnt/data/.tool_outputs/grep-1.txt")
    config = CompactionConfig(strategies=("elide_tool_outputs",), keep_recent=1)
    report = await _compact(codec, conversation, config, target=0)
    assert report is not None
    text = codec.decode(conversation.tokens())
    assert text.count("full text: /mnt/data/.tool_outputs/grep-1.txt]") == 3
    assert text.count(LONG) == 1  # the most recent exchange stays verbatim
    # Short results (python's "0") are not worth a stub and stay.
    assert "<|start|>python to=assistant<|channel|>analysis<|message|>0<|end|>" in text
    elided = [s for s in conversation.segments if s.full_text_at is not None]
    assert len(elided) == 4  # the stubs still know where the text is (a later resume too)


async def test_elision_never_touches_the_header_or_the_task(codec: HarmonyCodec) -> None:
    conversation = _tool_loop(codec, 3)
    before = conversation.segments
    config = CompactionConfig(strategies=("elide_tool_outputs",), keep_recent=1)
    await _compact(codec, conversation, config, target=0)
    assert conversation.segments[:2] == before[:2]
    assert len(conversation.segments) == len(before)  # calls and results all stay


async def test_drop_reasoning_keeps_calls_from_analysis(codec: HarmonyCodec) -> None:
    conversation = _tool_loop(codec, 4)
    config = CompactionConfig(strategies=("drop_reasoning",), keep_recent=2)
    report = await _compact(codec, conversation, config, target=0)
    assert report is not None and report.strategies == ("drop_reasoning",)
    text = codec.decode(conversation.tokens())
    assert "Thinking about step 0" not in text and "Thinking about step 1" not in text
    assert "Thinking about step 3" in text  # inside the protected tail
    assert text.count("to=python code<|message|>") == 4  # every call, with its result
    assert text.count("<|start|>python to=assistant") == 4


async def test_drop_reasoning_keeps_a_cut_off_call_with_its_answer(codec: HarmonyCodec) -> None:
    from gptoss_agent.agent.harmony.parser import CompletionParser

    conversation = Conversation(codec, [("system", "You are terse.")], AnalysisPolicy.PER_TURN)
    conversation.add_user("Find the bug.")
    parser = CompletionParser(codec)
    for token in codec.encode_with_special("<|channel|>analysis to=python code<|message|>x = ("):
        parser.feed(token)
    conversation.add_assistant(parser.finish(max_tokens_hit=True).messages)
    conversation.add_tool_result("python", "analysis", "Your last message could not be used.")
    for step in range(3):
        _assistant(conversation, codec, f"<|channel|>analysis<|message|>Step {step}.<|end|>")
        _assistant(conversation, codec,
                   f"<|channel|>analysis to=python code<|message|>print({step})<|call|>")
        conversation.add_tool_result("python", "analysis", str(step))
    config = CompactionConfig(strategies=("drop_reasoning",), keep_recent=1)
    assert await _compact(codec, conversation, config, target=0) is not None
    text = codec.decode(conversation.tokens())
    assert "Step 0." not in text  # reasoning went
    assert "<|message|>x = (<|end|><|start|>python to=assistant" in text  # the pair stayed


async def test_the_chain_runs_in_order_and_stops_when_enough_is_freed(
        codec: HarmonyCodec) -> None:
    conversation = _tool_loop(codec, 5)
    size = len(conversation)
    config = CompactionConfig(strategies=("elide_tool_outputs", "drop_reasoning"),
                              keep_recent=1)
    report = await _compact(codec, conversation, config, target=size - 100)
    assert report is not None and report.strategies == ("elide_tool_outputs",)
    assert "Thinking about step 0" in codec.decode(conversation.tokens())
    report = await _compact(codec, conversation, config, target=0)
    assert report is not None and report.strategies == ("elide_tool_outputs", "drop_reasoning")


async def test_nothing_to_do_changes_nothing(codec: HarmonyCodec) -> None:
    conversation = _tool_loop(codec, 1)
    before = conversation.tokens()
    config = CompactionConfig(strategies=("elide_tool_outputs", "drop_reasoning"))
    assert await _compact(codec, conversation, config, target=0) is None
    assert conversation.tokens() == before


async def test_the_rewrite_is_reported_to_the_observer(codec: HarmonyCodec) -> None:
    conversation = _tool_loop(codec, 3)
    seen: list[dict[str, object]] = []
    conversation.observer = seen.append
    await _compact(codec, conversation,
                   CompactionConfig(strategies=("elide_tool_outputs",), keep_recent=1), 0)
    assert [record["type"] for record in seen] == ["compaction"]
    record = seen[0]
    kept = conversation.segments[: int(record["keep"])]  # type: ignore[call-overload]
    rebuilt = [*(list(s.tokens) for s in kept),
               *(s["tokens"] for s in record["segments"])]  # type: ignore[attr-defined]
    assert [t for seg in rebuilt for t in seg] == conversation.tokens()
    assert record["strategies"] == ["elide_tool_outputs"]


async def test_a_small_summariser_summarises_only_what_its_window_holds(
        codec: HarmonyCodec) -> None:
    from gptoss_agent.agent.context import Summarise
    from gptoss_agent.agent.context.base import CompactionJob, protected_bounds

    conversation = _tool_loop(codec, 6)
    summariser = ScriptedBackend(["<|channel|>final<|message|>Steps 0-1 done.<|return|>"],
                                 codec=codec, context_window=1500)
    segments = conversation.segments
    head, tail = protected_bounds(segments, 1)
    shorter = await Summarise(summariser, max_tokens=200).compact(
        CompactionJob(segments, conversation, codec, 10_000, head, tail, "s"))
    assert shorter is not None
    assert len(summariser.prompts[0]) + 200 <= 1500  # its own window was respected
    text = codec.decode([t for s in shorter for t in s.tokens])
    assert "Steps 0-1 done." in text
    assert 'step": 5}' in text and 'step": 4}' in text  # the newer part stays verbatim
    assert text.count("[Summary of the earlier conversation") == 1


async def test_the_sessions_own_backend_summarises_within_the_sessions_window(
        codec: HarmonyCodec) -> None:
    # The backend claims 131,072 tokens, the session was set to 1,500: the summary
    # request must fit the 1,500 the session works in, not the backend's figure.
    conversation = _tool_loop(codec, 6)
    backend = ScriptedBackend(["<|channel|>final<|message|>Steps 0-1 done.<|return|>"],
                              codec=codec, context_window=131_072)
    config = CompactionConfig(strategies=("summarise",), keep_recent=1,
                              summary_max_tokens=200)
    report = await compact(conversation, codec, config, backend=backend, session_id="s",
                           target=0, window=1500)
    assert report is not None and report.strategies == ("summarise",)
    assert len(backend.prompts[0]) + 200 <= 1500
    assert 'step": 5}' in codec.decode(conversation.tokens())


async def test_a_middle_no_longer_than_a_summary_is_not_summarised_again(
        codec: HarmonyCodec) -> None:
    conversation = _tool_loop(codec, 6)
    backend = ScriptedBackend(["<|channel|>final<|message|>Steps 0-4 done.<|return|>"],
                              codec=codec)
    config = CompactionConfig(strategies=("summarise",), keep_recent=1,
                              summary_max_tokens=200)
    first = await compact(conversation, codec, config, backend=backend, session_id="s",
                          target=0, window=100_000)
    assert first is not None and len(backend.prompts) == 1
    # Still above any target, but what is left between the head and the recent tail is
    # the summary itself: no model call (the script has no second completion).
    again = await compact(conversation, codec, config, backend=backend, session_id="s",
                          target=0, window=100_000)
    assert again is None and len(backend.prompts) == 1

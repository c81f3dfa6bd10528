"""Eliding old tool outputs: a result becomes a one-line stub, its call stays.

The stub says how big the output was and where its full text is kept, so the model can
read it again: a result that was cut already names its place (a file under
``/mnt/data``, the pager's first page), and one that was not is kept now, in the
session's tool-output store (:mod:`.kept`), and named by the pager call that reads it,
``[elided: 312 tokens of output; full text: functions.read_tool_output(id="elided_1",
page=1)]``. Without a keeper (a compaction run outside a session) such a stub names no
place. The tool is named by the message's own header (``functions.run_tests
to=assistant``), which stays, so the stub spends no tokens repeating it. Oldest results
go first; the calls before them stay, so every call still has its answer.
"""

from __future__ import annotations

from gptoss_agent.agent.context.base import CompactionJob, message_body, tool_author
from gptoss_agent.agent.harmony.conversation import Segment

STUB_PREFIX = "[elided:"
"""How every stub starts (a stub is never elided again)."""


def stub_text(tokens: int, full_text_at: str | None) -> str:
    """The one line that replaces a tool output of ``tokens`` tokens."""
    where = f"; full text: {full_text_at}" if full_text_at else ""
    return f"{STUB_PREFIX} {tokens} tokens of output{where}]"


class ElideToolOutputs:
    """Replace the oldest tool results outside the protected tail with stubs."""

    name = "elide_tool_outputs"

    async def compact(self, job: CompactionJob) -> tuple[Segment, ...] | None:
        """The history with old tool outputs stubbed, oldest first, until enough is freed."""
        segments = list(job.segments)
        freed = 0
        for index in range(job.head, job.tail):
            if freed >= job.to_free:
                break
            segment = segments[index]
            if segment.kind != "tool" or segment.channel is None:
                continue
            body = message_body(job.codec, segment)
            if body.startswith(STUB_PREFIX):
                continue
            author = tool_author(job.codec, segment)
            keeper = job.keeper if segment.full_text_at is None else None  # none kept yet
            where = keeper.next_place() if keeper is not None else segment.full_text_at
            tokens = job.conversation.render_tool_result(
                author, segment.channel, stub_text(len(segment.tokens), where))
            if len(tokens) >= len(segment.tokens):
                continue
            if keeper is not None:
                where = keeper.keep(author, body)
            freed += len(segment.tokens) - len(tokens)
            segments[index] = Segment("tool", tokens, segment.channel, segment.turn,
                                      full_text_at=where)
        return tuple(segments) if freed else None

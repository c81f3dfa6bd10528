"""Dropping old reasoning beyond what the analysis policy already drops.

The policy keeps a turn's ``analysis`` messages while the model works inside its tool
loop; in a long loop they pile up. This strategy removes the oldest pure reasoning
messages outside the protected tail. A call made from ``analysis`` (to ``python``, say)
stays, with its result, so every result still follows its call; so does a call cut off at
the token budget, which is answered with what went wrong.
"""

from __future__ import annotations

from gptoss_agent.agent.context.base import CompactionJob
from gptoss_agent.agent.harmony.conversation import Segment, names_recipient


class DropReasoning:
    """Remove the oldest ``analysis`` messages that are not calls."""

    name = "drop_reasoning"

    async def compact(self, job: CompactionJob) -> tuple[Segment, ...] | None:
        """The history without its oldest reasoning, until enough is freed."""
        dropped: set[int] = set()
        freed = 0
        for index in range(job.head, job.tail):
            if freed >= job.to_free:
                break
            segment = job.segments[index]
            if (segment.kind == "assistant" and segment.channel == "analysis"
                    and not names_recipient(job.codec, segment)):
                dropped.add(index)
                freed += len(segment.tokens)
        if not dropped:
            return None
        return tuple(s for i, s in enumerate(job.segments) if i not in dropped)

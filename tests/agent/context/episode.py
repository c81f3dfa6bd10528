"""A long scripted tool episode for the context tests: many calls, each with a long result."""

from __future__ import annotations

from gptoss_agent.agent.agent import Agent
from gptoss_agent.agent.backends.scripted import ScriptedBackend
from gptoss_agent.agent.context.config import CompactionConfig
from gptoss_agent.agent.harmony.codec import HarmonyCodec
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.tools.function import function_tool

WORDS = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta")


@function_tool
def read_log(part: int) -> str:
    """Read one part of the build log.

    Args:
        part: Which part.
    """
    lines = [f"part {part} line {line}: " + " ".join(WORDS[(part + line + i) % 8]
                                                     for i in range(6))
             for line in range(12)]
    return "\n".join(lines)


def call(part: int) -> str:
    """The model's call for ``part``, as it would sample it."""
    return ("<|channel|>commentary to=functions.read_log <|constrain|>json"
            f'<|message|>{{"part": {part}}}<|call|>')


FINAL = "<|channel|>final<|message|>The build failed in part 3.<|return|>"


def script(calls: int) -> list[str]:
    """``calls`` calls, then the answer."""
    return [call(part) for part in range(calls)] + [FINAL]


def episode_agent(codec: HarmonyCodec, calls: int, *, window: int | None,
                  compaction: CompactionConfig | None = None,
                  backend_window: int | None = None,
                  backend_type: type[ScriptedBackend] = ScriptedBackend,
                  ) -> tuple[Agent, ScriptedBackend]:
    """An agent whose scripted model reads ``calls`` log parts, then answers."""
    backend = backend_type(script(calls), codec=codec, context_window=backend_window)
    agent = Agent(backend, [read_log], codec=codec, conversation_start_date="2026-11-28",
                  limits=LoopLimits(max_generations=calls + 5), context_window=window,
                  compaction=compaction)
    return agent, backend


def well_formed(codec: HarmonyCodec, prompt: str) -> bool:
    """Whether every call in ``prompt`` is answered by the very next message."""
    pieces = prompt.split("<|call|>")
    return all(piece.startswith("<|start|>functions.read_log to=assistant")
               for piece in pieces[1:])

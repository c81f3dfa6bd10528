"""Success check of ``task.yaml``: the answer states the true value of the expression."""

import re

from gptoss_agent.agent.task.checks import CheckContext


def check(ctx: CheckContext) -> str:
    answer = ctx.result.final_text or ""
    prompt = next(m.text for m in ctx.result.messages if m.role == "user")
    match = re.search(r"(\d+) ([-+*]) (\d+)", prompt)
    assert match, f"no expression in the prompt {prompt!r}"
    a, op, b = int(match[1]), match[2], int(match[3])
    value = a + b if op == "+" else a - b if op == "-" else a * b
    assert answer.strip() == f"The answer is {value}.", f"got {answer!r}, want {value}"
    return f"{a} {op} {b} = {value}, as answered"

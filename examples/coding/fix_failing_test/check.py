"""Success check: the bundled test suite passes in the sandbox workspace."""

from gptoss_agent.agent.task.checks import CheckContext


async def check(ctx: CheckContext) -> str:
    output = await ctx.shell("python3 -m pytest -q -p no:cacheprovider")
    assert "[exit code 0]" in output, f"the tests still fail:\n{output}"
    assert "4 passed" in output, output
    added = [line for line in ctx.diff().splitlines() if line.startswith("+ ")]
    assert not any("len(values) + 1" in line for line in added), "the fix re-adds the bug"
    assert "test_stats.py" not in ctx.diff(), "the tests were changed instead of the code"
    return "all 4 tests pass"

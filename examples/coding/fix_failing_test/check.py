"""Success check: the bundled test suite passes in the sandbox workspace."""

from gptoss_agent.agent.checks import CheckContext


async def check(ctx: CheckContext) -> str:
    output = await ctx.shell("python3 -m pytest -q -p no:cacheprovider")
    assert "[exit code 0]" in output, f"the tests still fail:\n{output}"
    assert "4 passed" in output, output
    assert "len(values) + 1" not in ctx.diff(), "the bug is still in the diff"
    return "all 4 tests pass"

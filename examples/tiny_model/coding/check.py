"""Success check of ``task.yaml``: the project's own tests pass in the sandbox workspace
after the run, only ``orders.py`` changed, and the answer names the fixed function."""

from gptoss_agent.agent.task.checks import CheckContext


async def check(ctx: CheckContext) -> str:
    output = await ctx.shell("python3 test_orders.py")
    lines = output.splitlines()
    assert lines[-1:] == ["[exit code 0]"], f"the tests still fail:\n{output}"
    assert lines[-2].endswith(" passed, 0 failed"), output
    diff = ctx.diff()
    assert "test_orders.py" not in diff, "the tests were changed instead of the code"
    answer = ctx.result.final_text or ""
    assert "get_fee" in answer, f"the answer does not name the fix: {answer!r}"
    return f"the suite passes ({lines[-2]}); {answer}"

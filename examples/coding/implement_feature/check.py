"""Success check: the feature exists, has its own tests, and every test passes."""

from gptoss_agent.agent.task.checks import CheckContext


async def check(ctx: CheckContext) -> str:
    assert (ctx.workspace / "test_word_count.py").is_file(), "no tests were added"
    output = await ctx.shell("python3 -m pytest -q -p no:cacheprovider")
    assert "[exit code 0]" in output, f"the tests fail:\n{output}"
    probe = await ctx.shell(
        "python3 -c 'from textutils import word_count; "
        "print(word_count(\"a  b\\n c\"), word_count(\"\"))'"
    )
    assert probe.splitlines()[0] == "3 0", probe
    return "word_count works and its tests pass"

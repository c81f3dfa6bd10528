"""The ``coding`` family: fix the one bug of a tiny project, through shell and apply_patch.

The teacher's run, each step written after reading the real tool output:

1. ``functions.shell`` runs ``python3 test_<module>.py`` (one line per failing check);
2. ``functions.shell`` runs ``cat <module>.py``;
3. ``functions.apply_patch`` with a V4A patch replacing the bugged line, the old line
   copied from what ``cat`` printed, the new one what the docstring says;
4. ``functions.shell`` runs the tests again;
5. a ``final`` naming the function and the fix.

In a set fraction of cases (:data:`RECOVERY_FRACTION`) step 3 first writes a patch whose
old line is the *fixed* line (which is not in the file): the toolkit's real error comes
back and the teacher then writes the right patch.

Ground truth is the suite, not a sentence: a run succeeds when the project's tests pass
after it (re-run by the checker) and the final answer names the bugged function.
"""

from __future__ import annotations

import json
import random

from examples.tiny_model.case import Case
from examples.tiny_model.coding_project import Project, draw_project
from examples.tiny_model.teacher import Policy, last_tool_output

CODING = "coding"
CODING_INSTRUCTIONS = "Fix the bug: run the tests, read the code, patch it, run the tests."
RECOVERY_FRACTION = 0.15
"""Share of cases whose first patch does not apply and is then written again."""

_PROMPTS = (
    "The tests in test_{m}.py fail. Fix the bug in {m}.py.",
    "Fix the failing test of {m}.py.",
    "python3 test_{m}.py fails. Please fix {m}.py.",
    "Something in {m}.py is broken. Find the bug and fix it.",
    "Make the tests of {m}.py pass.",
)
PATCH_FAILED = "Error: the patch was not applied:"
"""How the toolkit's error for a patch that does not apply begins."""


def sample_coding(rng: random.Random, kind: str | None = None) -> Case:
    """A bugged project and the request to fix it.

    Args:
        rng: The random source.
        kind: The bug kind (default: drawn).
    """
    project = draw_project(rng, kind)
    prompt = rng.choice(_PROMPTS).format(m=project.module)
    recovery = rng.random() < RECOVERY_FRACTION
    return Case(CODING, prompt, fix_sentence(project),
                {"key": project.source, "project": project, "recovery": recovery})


def fix_sentence(project: Project) -> str:
    """The teacher's final answer: the function, the module and the line change."""
    bugged = project.bugged
    return (f"Fixed {bugged.name} in {project.module}.py: {bugged.line.strip()} is now "
            f"{bugged.fixed.strip()}.")


def _call(tool: str, arguments: dict[str, str], thought: str) -> str:
    return (f"<|channel|>analysis<|message|>{thought}<|end|>"
            f"<|start|>assistant<|channel|>commentary to=functions.{tool} "
            f"<|constrain|>json<|message|>{json.dumps(arguments)}<|call|>")


def patch_text(project: Project, old_line: str, new_line: str) -> str:
    """The V4A patch replacing ``old_line`` by ``new_line`` under the function's anchor."""
    return (f"*** Begin Patch\n*** Update File: {project.module}.py\n"
            f"@@ {project.bugged.signature}\n-{old_line}\n+{new_line}\n*** End Patch")


def _steps(recovery: bool) -> tuple[str, ...]:
    patches = ("wrong_patch", "patch") if recovery else ("patch",)
    return ("test", "read", *patches, "retest", "final")


def _failing_function(output: str) -> str:
    """The function of the first ``FAIL name(...)`` line of a test run."""
    line = next((text for text in output.splitlines() if text.startswith("FAIL ")), None)
    if line is None:
        raise RuntimeError(f"the tests did not fail:\n{output}")
    return line[len("FAIL "):].split("(", 1)[0]


def _step_text(case: Case, step: str, output: str) -> str:
    """The completion of one step, given the last tool output."""
    project: Project = case.data["project"]
    bugged = project.bugged
    if step == "test":
        return _call("shell", {"command": project.test_command}, "Run the tests first.")
    if step == "read":
        name = _failing_function(output)
        if name != bugged.name:
            raise RuntimeError(f"the tests name {name}, the bug is in {bugged.name}")
        return _call("shell", {"command": f"cat {project.module}.py"},
                     f"{name} fails. Read {project.module}.py.")
    if step in ("patch", "wrong_patch"):
        return _patch_step(project, step, output)
    if step == "retest":
        if not output.startswith("Done!"):
            raise RuntimeError(f"the patch did not apply:\n{output}")
        return _call("shell", {"command": project.test_command}, "Run the tests again.")
    if not tests_pass(output):
        raise RuntimeError(f"the tests still fail:\n{output}")
    return f"<|channel|>final<|message|>{case.answer}<|return|>"


def _patch_step(project: Project, step: str, output: str) -> str:
    """A patch after ``cat`` (or, after a patch that did not apply, the right one)."""
    bugged = project.bugged
    retry = output.startswith(PATCH_FAILED)
    if not retry and bugged.line not in output.splitlines():
        raise RuntimeError(f"the bugged line {bugged.line!r} is not in:\n{output}")
    thought = f"{bugged.name} should: {bugged.doc} The line is {bugged.line.strip()}"
    if step == "wrong_patch":
        return _call("apply_patch", {"patch": patch_text(project, bugged.fixed, bugged.fixed)},
                     f"{bugged.name} should: {bugged.doc}")
    if retry:
        thought = ("The patch did not apply. Copy the line as cat showed it: "
                   f"{bugged.line.strip()}")
    return _call("apply_patch", {"patch": patch_text(project, bugged.line, bugged.fixed)},
                 thought)


def tests_pass(output: str) -> bool:
    """Whether a shell run of the test file reports no failure and exit code 0."""
    lines = output.splitlines()
    return len(lines) >= 2 and lines[-1] == "[exit code 0]" and lines[-2].endswith(
        " passed, 0 failed")


def coding_policy(case: Case) -> Policy:
    """The teacher's policy for a coding case (steps: :func:`_steps`)."""
    steps = _steps(bool(case.data.get("recovery")))
    if case.data.get("recovery"):
        project: Project = case.data["project"]
        if project.bugged.fixed == project.bugged.line:
            raise RuntimeError("a bugged line equals its fix")

    def policy(prompt: str, generation: int) -> str:
        output = last_tool_output(prompt) if generation else ""
        if steps[generation] == "patch" and generation and steps[generation - 1] == \
                "wrong_patch" and not output.startswith(PATCH_FAILED):
            raise RuntimeError(f"the wrong patch did not fail as expected:\n{output}")
        return _step_text(case, steps[generation], output)

    return policy


def names_the_fix(case: Case, answer: str | None) -> bool:
    """Whether a final answer names the bugged function."""
    project: Project = case.data["project"]
    return answer is not None and project.bugged.name in answer

"""The tiny model's ``coding`` family: bugged projects, the teacher's runs, the generator.

Runs the real python tool and coding toolkit on host cells (the offline infrastructure
of data generation) with the teacher as the model, and the projects' own test files with
the host's ``python3``. No Docker, no torch.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from examples.tiny_model.agents import CODING_LIMITS, CODING_MAX_TOKENS, tiny_agent
from examples.tiny_model.case import Case
from examples.tiny_model.coding_family import (
    CODING_INSTRUCTIONS,
    PATCH_FAILED,
    coding_policy,
    sample_coding,
)
from examples.tiny_model.coding_project import BUG_KINDS, Project, draw_project
from examples.tiny_model.coding_tools import coding_tools, write_project
from examples.tiny_model.families import INSTRUCTIONS
from examples.tiny_model.teacher import TeacherBackend
from gptoss_agent.agent.limits import LoopLimits
from gptoss_agent.tools.base import ToolContext

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tiny_model" / "coding"


def _run_tests(project: Project, folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, f"test_{project.module}.py"], cwd=folder,
                          capture_output=True, text=True, timeout=60, check=False)


async def _teacher_run(case: Case) -> tuple[list[tuple[str, str, bool]], Path, str | None]:
    """Run the teacher on ``case``; the tool results ``(tool, text, is_error)``, the
    workspace folder after the run, and the final answer."""
    tools, toolkit = coding_tools(case.data["project"])
    agent = tiny_agent(TeacherBackend(coding_policy(case)), tools, family=case.family)
    try:
        async with agent.session() as session:
            result = await session.send(case.prompt)
            workspace = toolkit.workspace(session.session_id)
    finally:
        await agent.aclose()
    results = [(str(m.author), m.text, m.is_error) for m in result.new_messages
               if m.role == "tool"]
    return results, workspace, result.final_text


@pytest.mark.parametrize("kind", BUG_KINDS)
async def test_every_bug_kind_fails_and_the_teachers_patch_fixes_it(tmp_path: Path,
                                                                    kind: str) -> None:
    rng = random.Random(f"test:{kind}")
    for _ in range(3):
        case = sample_coding(rng, kind)
        project: Project = case.data["project"]
        assert project.kind == kind
        before = _run_tests(project, write_project(project, tmp_path / project.bugged.name))
        assert before.returncode == 1, before.stdout + before.stderr
        assert f"FAIL {project.bugged.name}(" in before.stdout
        results, workspace, answer = await _teacher_run(replace(
            case, data={**case.data, "recovery": False}))
        assert [tool for tool, _, _ in results] == [
            "functions.shell", "functions.shell", "functions.apply_patch", "functions.shell"]
        assert results[2][1] == f"Done!\nM {project.module}.py"
        assert results[3][1].endswith(" passed, 0 failed\n[exit code 0]")
        after = _run_tests(project, workspace)
        assert after.returncode == 0, after.stdout
        assert answer == case.answer and project.bugged.name in answer
        source = (workspace / f"{project.module}.py").read_text()
        assert project.bugged.fixed in source.splitlines()
        assert (workspace / f"test_{project.module}.py").read_text() == project.tests


async def test_the_recovery_path_gets_the_real_tool_error() -> None:
    case = sample_coding(random.Random("recovery"), "swapped")
    case = replace(case, data={**case.data, "recovery": True})
    results, workspace, answer = await _teacher_run(case)
    patches = [(text, error) for tool, text, error in results if tool == "functions.apply_patch"]
    assert len(patches) == 2
    wrong, right = patches
    assert wrong[1] is True and wrong[0].startswith(PATCH_FAILED)
    assert "does not apply: these lines were not found" in wrong[0]
    assert right == (f"Done!\nM {case.data['project'].module}.py", False)
    assert _run_tests(case.data["project"], workspace).returncode == 0
    assert answer == case.answer


async def test_the_host_cells_refuse_commands_the_teacher_does_not_write() -> None:
    project = draw_project(random.Random(4))
    tools, toolkit = coding_tools(project)
    try:
        refused = await toolkit.shell("rm -rf / ; echo gone", 10.0, ToolContext("s1"))
        allowed = await toolkit.shell(f"cat {project.module}.py", 10.0, ToolContext("s1"))
    finally:
        await tools[0].aclose()
    assert "runs only the teacher's commands" in refused.text
    assert "gone" not in refused.text.splitlines()
    assert allowed.text == project.source.rstrip("\n") + "\n[exit code 0]"


def test_the_three_shipped_families_keep_their_agent_configuration() -> None:
    plain = tiny_agent(TeacherBackend(lambda _p, _g: ""), [])
    assert plain.instructions == INSTRUCTIONS
    assert plain.limits == LoopLimits(max_generations=4, max_consecutive_errors=1,
                                      tool_timeout_s=60.0)
    assert plain.sampling.max_tokens == 96
    coding = tiny_agent(TeacherBackend(lambda _p, _g: ""), [], family="coding")
    assert coding.instructions == CODING_INSTRUCTIONS != INSTRUCTIONS
    assert coding.limits == CODING_LIMITS and coding.sampling.max_tokens == CODING_MAX_TOKENS


def test_the_example_task_file_uses_the_coding_familys_configuration() -> None:
    import yaml

    folder = EXAMPLE
    task = yaml.safe_load((folder / "task.yaml").read_text())
    assert task["instructions"] == CODING_INSTRUCTIONS
    assert task["model"]["sampling"]["max_tokens"] == CODING_MAX_TOKENS
    assert task["budgets"]["max_generations"] == CODING_LIMITS.max_generations
    assert task["budgets"]["max_consecutive_errors"] == CODING_LIMITS.max_consecutive_errors
    project = folder / "project"
    completed = subprocess.run([sys.executable, "-B", "test_orders.py"], cwd=project,
                               capture_output=True, text=True, timeout=60, check=False)
    assert completed.returncode == 1 and "FAIL get_fee(" in completed.stdout


def test_generate_writes_coding_examples_that_fit_the_window(tmp_path: Path) -> None:
    from examples.tiny_model.generate import main

    output = tmp_path / "coding.jsonl"
    assert main(["-o", str(output), "--families", "coding", "--per-family", "3",
                 "--seed", "11", "--with-text"]) == 0
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(rows) == 3
    for row in rows:
        assert len(row["tokens"]) == len(row["mask"]) < 2048 - CODING_MAX_TOKENS
        assert row["source"].startswith("coding:")
        assert row["text"].count("to=functions.apply_patch") >= 1
        assert row["text"].endswith("<|return|>")
        assert 0 < sum(row["mask"]) < len(row["mask"])


async def test_the_wrong_patch_of_a_recovery_case_is_left_out_of_the_loss(
        tmp_path: Path) -> None:
    from examples.tiny_model.coding_family import patch_text
    from examples.tiny_model.generate import generate
    from gptoss_agent.agent.harmony.codec import load_codec

    case = sample_coding(random.Random("masked"), "constant")
    case = replace(case, data={**case.data, "recovery": True})
    output = tmp_path / "one.jsonl"
    assert await generate([case], output) == 1
    row = json.loads(output.read_text())
    project: Project = case.data["project"]
    codec = load_codec()

    def span(old: str) -> list[int]:
        wanted = codec.encode_with_special(json.dumps(
            {"patch": patch_text(project, old, project.bugged.fixed)}))
        tokens = row["tokens"]
        start = next(i for i in range(len(tokens)) if tokens[i:i + len(wanted)] == wanted)
        return row["mask"][start:start + len(wanted)]

    assert set(span(project.bugged.fixed)) == {0}
    assert set(span(project.bugged.line)) == {1}


async def test_the_example_task_renders_the_prompt_the_family_is_trained_on() -> None:
    """The task file's agent and the generator's agent give the model the same tokens."""
    from examples.tiny_model.coding_tools import coding_tools as make_tools
    from gptoss_agent.agent.task.build import build_agent
    from gptoss_agent.agent.task.load import load_task
    from gptoss_agent.agent.task.settings import task_settings

    prompts: list[str] = []

    def recorder(prompt: str, _generation: int) -> str:
        prompts.append(prompt)
        return "<|channel|>final<|message|>done<|return|>"

    settings = task_settings(load_task(EXAMPLE / "task.yaml"))
    task_agent = build_agent(settings, backend=TeacherBackend(recorder))
    try:
        await task_agent.agent.run(str(settings.prompt))
    finally:
        await task_agent.aclose(close_backend=False)
    tools, _toolkit = make_tools(draw_project(random.Random(1)))
    agent = tiny_agent(TeacherBackend(recorder), tools, family="coding")
    try:
        await agent.run(str(settings.prompt))
    finally:
        await agent.aclose()
    assert len(prompts) == 2 and prompts[0] == prompts[1]


def test_only_the_bugged_line_holds_the_bug_and_no_line_holds_the_fix() -> None:
    """The patch's ``-`` line matches one place, and a recovery case's wrong patch (the
    fixed line) none: a module whose other function already holds the fixed line once let
    the wrong patch apply and stopped a data generation."""
    rng = random.Random("unique lines")
    for _ in range(400):
        project = draw_project(rng)
        lines = project.source.splitlines()
        assert lines.count(project.bugged.line) == 1, project.source
        assert project.bugged.fixed not in lines, project.source


async def test_an_interrupted_generation_goes_on_from_its_last_case(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from examples.tiny_model import generate as generation
    from examples.tiny_model.generate import generate

    rng = random.Random("resume")
    cases = [sample_coding(rng) for _ in range(4)]
    whole = tmp_path / "whole.jsonl"
    assert await generate(cases, whole) == 4
    lines = whole.read_text().splitlines(keepends=True)
    # Cut inside case 2's line: the last whole line (case 1) may not be all of its case,
    # so case 0 is kept and cases 1 to 3 are recorded.
    interrupted = tmp_path / "interrupted.jsonl"
    interrupted.write_text("".join(lines[:2]) + lines[2][:40])
    recorded: list[str] = []
    original = generation.record_case

    async def counting(case: Case, transcript: Path) -> str | None:
        recorded.append(case.prompt)
        return await original(case, transcript)

    monkeypatch.setattr(generation, "record_case", counting)
    assert await generate(cases, interrupted, resume=True) == 4
    assert recorded == [case.prompt for case in cases[1:]]
    assert interrupted.read_text() == whole.read_text()
    # Without ``resume`` the file starts over.
    assert await generate(cases[:1], interrupted) == 1
    assert interrupted.read_text() == lines[0]


def test_diagnose_tells_copied_tokens_from_template_tokens() -> None:
    from examples.tiny_model.diagnose import Tally, tally_example
    from gptoss_agent.agent.harmony.codec import load_codec

    codec = load_codec()
    head = codec.encode_with_special(
        "<|start|>system<|message|>You are tiny.<|end|>"
        "<|start|>developer<|message|>Fix bugs.<|end|>"
        "<|start|>user<|message|>Fix find_fee in shipping.py.<|end|>"
        "<|start|>assistant<|channel|>analysis<|message|>")
    said = codec.encode_text("find_fee fails. Read shipping.py.")
    tokens = head + said
    mask = [0] * len(head) + [1] * len(said)
    truth = [*tokens[1:], 0]
    pieces = [codec.decode([t]) for t in said]
    wrong = {len(head) + pieces.index(" Read"), len(head) + pieces.index(" shipping")}
    predicted = [(t + 1 if i + 1 in wrong else t) for i, t in enumerate(truth)]
    tally = Tally()
    tally_example(tokens, mask, predicted, tally, codec)
    figures = tally.figures()
    copied = sum(1 for p in pieces if p.lstrip(" _") in {"find", "fee", "shipping", ".py", "."})
    assert figures["copied_tokens"] == copied
    assert figures["template_tokens"] == len(said) - copied
    assert figures["copied_accuracy"] == round((copied - 1) / copied, 4)
    assert [(want, is_copied) for _before, want, _got, is_copied in tally.misses] == [
        (" Read", False), (" shipping", True)]


def test_a_continued_stage_keeps_the_vocabulary_it_continues_from(tmp_path: Path) -> None:
    # A stage's restricted vocabulary is its draw's ids plus these: ids an earlier stage
    # learnt (the stage/ model's, SKU prefixes among them) stay, whatever the new draw has.
    from examples.tiny_model.train import _kept_vocab
    from gptoss_agent.agent.backends.transformers.vocab import RestrictedVocab

    stage = Path(__file__).parents[2] / "examples" / "tiny_model" / "stage"
    previous = RestrictedVocab.load(stage)
    assert previous is not None
    kept = _kept_vocab((7, 11), stage)
    assert set(previous.ids) <= set(kept) and {7, 11} <= set(kept)
    assert _kept_vocab((7, 11), None) == (7, 11)
    assert _kept_vocab((7, 11), tmp_path) == (7, 11)  # a full checkpoint has no such file

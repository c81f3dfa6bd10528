"""The python tool's task keys ``keep_background``, ``data_files`` and ``data_transport``
reach the sandbox config of the tool a task builds (from the file, from ``--set``, from a
transcript's recorded task), and a bad value is a task error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptoss_agent.agent.task.build import build_agent
from gptoss_agent.agent.task.load import TaskFile, TaskFileError, load_task, recorded_task
from gptoss_agent.agent.task.settings import task_settings
from gptoss_agent.sandbox import SandboxConfig, SandboxLimits
from tests.support import run_cli

MODEL = 'model:\n  backend: scripted\n  completions: ["<|channel|>final<|message|>ok<|return|>"]\n'
RECORDED_MODEL = {"backend": "scripted", "completions": ["x"]}


def write(folder: Path, python: str) -> Path:
    path = folder / "task.yaml"
    path.write_text(MODEL + "prompt: hi\ntools:\n  python:" + python)
    return path


def built_config(path: Path, overrides: tuple[str, ...] = ()) -> SandboxConfig:
    """The sandbox config of the python tool the task builds (after checking the settings)."""
    settings = task_settings(load_task(path, overrides))
    assert settings.python is not None
    built = build_agent(settings)
    assert built.tools.python is not None
    assert built.tools.python.config == settings.python.sandbox
    return built.tools.python.config


@pytest.mark.parametrize(("transport", "keep", "files"), [
    ("copy", True, 50), ("bind", False, 1), ("auto", True, 123_456)])
def test_the_keys_reach_the_tools_sandbox_config(
        tmp_path: Path, transport: str, keep: bool, files: int) -> None:
    python = (f"\n    keep_background: {str(keep).lower()}\n    data_files: {files}\n"
              f"    data_transport: {transport}\n    memory_mb: 300\n")
    config = built_config(write(tmp_path, python))
    assert (config.keep_background, config.data_transport, config.limits.data_files) == (
        keep, transport, files)
    assert config.limits.memory_mb == 300  # the other limits are still taken with them


def test_left_out_they_are_the_sandboxs_own_defaults(tmp_path: Path) -> None:
    defaults = SandboxConfig()
    for python in (" true\n", "\n    memory_mb: 300\n"):
        config = built_config(write(tmp_path, python))
        assert (config.keep_background, config.data_transport) == (
            defaults.keep_background, defaults.data_transport) == (False, "auto")
        assert config.limits.data_files == SandboxLimits().data_files


def test_set_overrides_reach_the_config(tmp_path: Path) -> None:
    path = write(tmp_path, "\n    data_transport: bind\n    data_files: 9\n")
    config = built_config(path, ("tools.python.data_transport=copy",
                                 "tools.python.keep_background=true",
                                 "tools.python.data_files=7"))
    assert (config.keep_background, config.data_transport, config.limits.data_files) == (
        True, "copy", 7)


def test_a_recorded_task_resumes_with_the_same_sandbox_config(tmp_path: Path) -> None:
    python = {"keep_background": True, "data_files": 12, "data_transport": "copy"}
    settings = task_settings(recorded_task(tmp_path / "task.yaml", {
        "model": RECORDED_MODEL, "tools": {"python": python}}))
    assert settings.python is not None
    sandbox = settings.python.sandbox
    assert (sandbox.keep_background, sandbox.data_transport, sandbox.limits.data_files) == (
        True, "copy", 12)


BAD_TRANSPORTS = ["ftp", "BIND", "volume", ""]


@pytest.mark.parametrize("value", BAD_TRANSPORTS)
def test_a_bad_data_transport_in_the_file_is_a_task_error_naming_it(
        tmp_path: Path, value: str) -> None:
    path = write(tmp_path, f"\n    data_transport: '{value}'\n")
    with pytest.raises(TaskFileError) as raised:
        load_task(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:7: tools.python.data_transport: "), message
    assert f"expected one of auto, bind, copy, got {value!r}" in message


@pytest.mark.parametrize("value", BAD_TRANSPORTS)
def test_a_bad_data_transport_from_set_or_a_transcript_is_a_task_error(
        tmp_path: Path, value: str) -> None:
    path = write(tmp_path, " true\n")
    expected = f"tools.python.data_transport: expected one of auto, bind, copy, got {value!r}"
    with pytest.raises(TaskFileError, match=expected.replace("(", r"\(")):
        load_task(path, [f"tools.python.data_transport={value}" if value else
                         "tools.python.data_transport=''"])
    with pytest.raises(TaskFileError, match="tools.python.data_transport"):
        recorded_task(path, {"model": RECORDED_MODEL,
                             "tools": {"python": {"data_transport": value}}})


def test_a_bad_data_transport_that_skips_the_schema_is_still_a_task_error(
        tmp_path: Path) -> None:
    """Settings built from a task never validated (an app's own dict) still fail as a task
    error naming the field, not as a sandbox exception from deep inside."""
    task = TaskFile(path=tmp_path / "task.yaml", data={
        "model": RECORDED_MODEL, "prompt": "hi", "tools": {"python": {"data_transport": "ftp"}}})
    with pytest.raises(TaskFileError, match=r"data_transport must be one of auto, bind, copy, "
                                            r"got 'ftp'"):
        task_settings(task)


@pytest.mark.parametrize(("python", "key"), [
    ("\n    keep_background: 'yes'\n", "tools.python.keep_background"),
    ("\n    keep_background: 1\n", "tools.python.keep_background"),
    ("\n    data_files: 0\n", "tools.python.data_files"),
    ("\n    data_files: many\n", "tools.python.data_files"),
    ("\n    data_files: 2.5\n", "tools.python.data_files"),
])
def test_bad_values_of_the_other_keys_name_them(tmp_path: Path, python: str, key: str) -> None:
    with pytest.raises(TaskFileError, match=f":7: {key}: "):
        load_task(write(tmp_path, python))


def test_a_wrong_type_inside_a_tool_section_names_its_key_not_the_section(
        tmp_path: Path) -> None:
    """``python:`` is "true or a mapping": a mapping with a wrong-typed key is about that
    key, not "tools.python: expected a boolean"."""
    path = tmp_path / "task.yaml"
    path.write_text(MODEL + "prompt: hi\ntools:\n  browser:\n    max_dialogs: lots\n")
    with pytest.raises(TaskFileError, match=r":7: tools.browser.max_dialogs: ") as raised:
        load_task(path)
    assert "expected a boolean" not in str(raised.value)


def test_the_cli_refuses_a_bad_data_transport_with_exit_2(tmp_path: Path) -> None:
    path = write(tmp_path, "\n    data_transport: ftp\n")
    completed = run_cli("run", str(path), "--quiet", cwd=tmp_path, timeout=120)
    assert completed.returncode == 2, (completed.stdout, completed.stderr)
    assert ("tools.python.data_transport: expected one of auto, bind, copy, got 'ftp'"
            in completed.stderr)
    assert "Traceback" not in completed.stderr
    assert not (tmp_path / "runs").exists(), "a refused task starts nothing"

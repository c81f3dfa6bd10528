"""The coding toolkit's host-side work: copying the project in, diffs, applying back, and
the calls it refuses before anything reaches the sandbox."""

from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

import pytest

from gptoss_agent.tools.base import ToolContext
from gptoss_agent.tools.coding import CodingToolkit, PatchError
from gptoss_agent.tools.errors import ToolConfigError, ToolError


class FolderOnly:
    """A python-tool stand-in that only knows the data folders (no sandbox needed)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def data_dir(self, session_id: str) -> Path:
        folder = self.root / session_id
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def put_file(self, session_id: str, name: str, data: bytes | str) -> Path:
        target = self.data_dir(session_id) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data if isinstance(data, bytes) else data.encode())
        return target

    def sandbox(self, session_id: str) -> object:
        raise AssertionError("host-side operations must not touch the sandbox")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "pkg").mkdir(parents=True)
    (folder / "pkg" / "mod.py").write_text("x = 1\n")
    (folder / "README.md").write_text("hello\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "HEAD").write_text("ref\n")
    return folder


def test_project_is_copied_not_mounted(tmp_path: Path, project: Path) -> None:
    toolkit = CodingToolkit(FolderOnly(tmp_path / "data"), project)
    workspace = toolkit.prepare("s1")
    assert (workspace / "pkg" / "mod.py").read_text() == "x = 1\n"
    assert not (workspace / ".git").exists(), "VCS folders stay out of the workspace"
    (workspace / "pkg" / "mod.py").write_text("x = 2\n")
    assert (project / "pkg" / "mod.py").read_text() == "x = 1\n"


def test_diff_and_apply_back(tmp_path: Path, project: Path) -> None:
    toolkit = CodingToolkit(FolderOnly(tmp_path / "data"), project)
    workspace = toolkit.prepare("s1")
    (workspace / "pkg" / "mod.py").write_text("x = 2\n")
    (workspace / "new.txt").write_text("added\n")
    (workspace / "README.md").unlink()
    diff = toolkit.diff("s1")
    assert "--- a/pkg/mod.py\n+++ b/pkg/mod.py\n" in diff and "-x = 1\n+x = 2\n" in diff
    assert "--- /dev/null\n+++ b/new.txt\n" in diff
    assert "--- a/README.md\n+++ /dev/null\n" in diff
    changed = toolkit.apply_back("s1")
    assert sorted(changed) == ["README.md", "new.txt", "pkg/mod.py"]
    assert (project / "pkg" / "mod.py").read_text() == "x = 2\n"
    assert (project / "new.txt").read_text() == "added\n"
    assert not (project / "README.md").exists()


def test_symlinks_planted_in_the_workspace_are_never_followed(tmp_path: Path,
                                                              project: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("host secret\n")
    toolkit = CodingToolkit(FolderOnly(tmp_path / "data"), project)
    workspace = toolkit.prepare("s1")
    (workspace / "leak.txt").symlink_to(secret)
    assert "host secret" not in toolkit.diff("s1")
    toolkit.apply_back("s1")
    assert not (project / "leak.txt").exists()


def test_missing_project_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ToolConfigError, match="does not exist"):
        CodingToolkit(FolderOnly(tmp_path), tmp_path / "nope")
    with pytest.raises(ValueError, match="needs a project folder"):
        CodingToolkit(FolderOnly(tmp_path), mounted=True)


def _context() -> ToolContext:
    return ToolContext(session_id="s1")


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ("not a patch", "must start with '*** Begin Patch'"),
        ("*** Begin Patch\n*** Add File: a.txt\n+x\n", "must end with '*** End Patch'"),
        ("*** Begin Patch\n*** Add File: /etc/passwd\n+x\n*** End Patch", "must be relative"),
        ("*** Begin Patch\n*** Frobnicate: a.txt\n*** End Patch", "expected '*** Add File:'"),
    ],
)
async def test_a_malformed_patch_is_an_invalid_call_and_never_reaches_the_sandbox(
    tmp_path: Path, project: Path, patch: str, expected: str
) -> None:
    toolkit = CodingToolkit(FolderOnly(tmp_path / "data"), project)
    result = await toolkit.apply_patch(patch, _context())
    assert result.is_error and result.invalid_call
    assert "the patch is malformed" in result.text and expected in result.text
    assert not (tmp_path / "data").exists(), "nothing was prepared for an invalid call"


@pytest.mark.parametrize(
    ("command", "timeout_s", "expected"),
    [("   ", 10.0, "the command is empty"), ("ls", 0.0, "positive"),
     ("ls", -3.0, "positive"), ("ls", float("nan"), "positive")],
)
async def test_an_empty_command_or_a_bad_deadline_is_an_invalid_call(
    tmp_path: Path, command: str, timeout_s: float, expected: str
) -> None:
    toolkit = CodingToolkit(FolderOnly(tmp_path / "data"))
    result = await toolkit.shell(command, timeout_s, _context())
    assert result.is_error and result.invalid_call and expected in result.text


async def test_the_function_tools_pass_invalid_calls_through(tmp_path: Path) -> None:
    tools = {tool.name: tool for tool in CodingToolkit(FolderOnly(tmp_path / "data")).tools()}
    assert sorted(tools) == ["apply_patch", "shell"]
    malformed = await tools["apply_patch"].invoke('{"patch": "oops"}', _context())
    assert malformed.invalid_call and "the patch is malformed" in malformed.text
    not_json = await tools["shell"].invoke("{command: ls}", _context())
    assert not_json.invalid_call
    assert "context" not in json.dumps(tools["shell"].parameters)


def test_every_exception_derives_from_tool_error_and_only_exceptions_end_in_error() -> None:
    import gptoss_agent.tools.coding as coding
    import gptoss_agent.tools.errors as tool_errors
    import gptoss_agent.tools.python_tool as python_tool

    names = [tool_errors.__name__, python_tool.__name__]
    root = Path(coding.__file__).parent
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        names.append(".".join((coding.__name__, *parts[: -1 if parts[-1] == "__init__" else None])))
    offenders = []
    for name in names:
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            defined_here = getattr(value, "__module__", name) == name
            is_exception = inspect.isclass(value) and issubclass(value, BaseException)
            if is_exception and defined_here and not issubclass(value, ToolError):
                offenders.append(f"{name}.{attribute} is not a ToolError")
            if attribute.endswith("Error") and not is_exception:
                offenders.append(f"{name}.{attribute} ends in Error but is no exception")
    assert offenders == []
    assert issubclass(PatchError, ToolError) and issubclass(ToolConfigError, ValueError)

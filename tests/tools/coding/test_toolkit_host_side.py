"""The coding toolkit's host-side work: copying the project in, diffs, applying back."""

from __future__ import annotations

from pathlib import Path

import pytest

from gptoss_agent.tools.coding.toolkit import CodingToolkit


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
    with pytest.raises(ValueError, match="does not exist"):
        CodingToolkit(FolderOnly(tmp_path), tmp_path / "nope")

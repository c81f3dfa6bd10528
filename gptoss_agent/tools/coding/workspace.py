"""The host side of a coding workspace: listing its files, diffing it, copying it back.

Everything here runs on the host against folders the sandbox can write into, so no
function follows a symbolic link: a link the model planted in the workspace is neither
read (it cannot leak a host file into a diff) nor copied back. Version-control and cache
folders (:data:`IGNORED_DIRS`) are left out.
"""

from __future__ import annotations

import difflib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

IGNORED_DIRS = frozenset(
    {".git", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".venv",
     "node_modules"}
)
"""Folders never copied into, diffed in, or copied back from a workspace."""


def walk_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root`` (relative paths, sorted); links are never followed."""
    for folder, dirs, files in os.walk(root, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
        for name in sorted(files):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                yield path.relative_to(root)


def give_to_drive_owner(folder: Path, drive: Path) -> None:
    """Make ``folder``'s files belong to the owner of ``drive`` (the sandbox user).

    Code in the container can then change the copied files. Only root can do this;
    for anyone else it does nothing. Links are never followed.
    """
    if os.geteuid() != 0:
        return
    owner = os.stat(drive)
    for parent, dirs, files in os.walk(folder, followlinks=False):
        os.lchown(parent, owner.st_uid, owner.st_gid)
        for name in dirs + files:
            os.lchown(os.path.join(parent, name), owner.st_uid, owner.st_gid)


def _read_lines(path: Path) -> list[str] | None:
    """The file's lines, or ``None`` for a binary (or unreadable) file."""
    try:
        return path.read_text(encoding="utf-8").splitlines(keepends=True)
    except (UnicodeDecodeError, OSError):
        return None


def unified_diff(original: Path | None, workspace: Path) -> str:
    """The changes from ``original`` (``None``: an empty project) to ``workspace``.

    Text files get unified-diff hunks; binary files and new empty files get one line.
    """
    before = set(walk_files(original)) if original is not None else set()
    after = set(walk_files(workspace)) if workspace.exists() else set()
    chunks: list[str] = []
    for relative in sorted(before | after):
        old_path = original / relative if original is not None and relative in before else None
        new_path = workspace / relative if relative in after else None
        chunks.extend(_file_diff(relative, old_path, new_path))
    return "".join(chunks)


def _file_diff(relative: Path, old_path: Path | None, new_path: Path | None) -> list[str]:
    """The diff lines of one file; a missing side is ``None``."""
    old = _read_lines(old_path) if old_path is not None else []
    new = _read_lines(new_path) if new_path is not None else []
    if old is None or new is None:
        return _binary_note(relative, old_path, new_path)
    if old_path is None and not new:
        return [f"Empty file {relative} added\n"]
    if old == new:
        return []
    return list(
        difflib.unified_diff(
            old,
            new,
            fromfile=f"a/{relative}" if old_path is not None else "/dev/null",
            tofile=f"b/{relative}" if new_path is not None else "/dev/null",
        )
    )


def _binary_note(relative: Path, old_path: Path | None, new_path: Path | None) -> list[str]:
    if old_path is None:
        return [f"Binary file {relative} added\n"]
    if new_path is None:
        return [f"Binary file {relative} deleted\n"]
    if old_path.read_bytes() != new_path.read_bytes():
        return [f"Binary file {relative} changed\n"]
    return []


def copy_back(workspace: Path, project: Path) -> list[str]:
    """Make ``project`` match ``workspace``: copy new and changed files, delete removed ones.

    Returns:
        The relative paths that changed in ``project``, sorted within each kind.
    """
    before = set(walk_files(project))
    after = set(walk_files(workspace))
    changed: list[str] = []
    for relative in sorted(after):
        source, target = workspace / relative, project / relative
        if relative not in before or source.read_bytes() != target.read_bytes():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            changed.append(str(relative))
    for relative in sorted(before - after):
        (project / relative).unlink()
        changed.append(str(relative))
    return changed

"""Applying V4A changes to files: matching hunks, then writing all or nothing.

:func:`apply_patch` parses a patch (:mod:`gptoss_agent.tools.coding.v4a.syntax`),
matches every hunk against the current files (exactly, then ignoring trailing
whitespace, then ignoring surrounding whitespace), checks every target, and only then
writes. Files are touched through :class:`FileSystem`, rooted at the workspace, which
refuses any path that resolves outside it (links included).
"""

from __future__ import annotations

import os
from collections.abc import Callable

from gptoss_agent.tools.coding.v4a.syntax import AppliedChange, Hunk, PatchError, parse_patch

_NORMALISERS: tuple[Callable[[str], str], ...] = (
    lambda line: line,
    lambda line: line.rstrip(),
    lambda line: line.strip(),
)


def _find(lines: list[str], wanted: tuple[str, ...], start: int, at_end: bool) -> int:
    """Index where ``wanted`` occurs in ``lines`` at or after ``start``, or -1."""
    if not wanted:
        return len(lines) if at_end else start
    for normalise in _NORMALISERS:
        target = [normalise(line) for line in wanted]
        candidates = (
            [len(lines) - len(wanted)] if at_end else range(start, len(lines) - len(wanted) + 1)
        )
        for index in candidates:
            if index < start:
                continue
            if [normalise(line) for line in lines[index : index + len(wanted)]] == target:
                return index
    return -1


def apply_hunks(text: str, hunks: tuple[Hunk, ...], path: str) -> str:
    """Apply an update's hunks to a file's text (its line endings are kept).

    Raises:
        PatchError: A hunk's anchor or lines cannot be found (the message names it).
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    had_newline = text.endswith(newline) or not text
    lines = text.split(newline) if text else []
    if text and had_newline:
        lines.pop()
    position = 0
    for hunk in hunks:
        if hunk.anchor:
            anchor_at = _find(lines, (hunk.anchor,), position, False)
            if anchor_at < 0:
                anchor_at = next(
                    (i for i in range(position, len(lines)) if hunk.anchor.strip() in lines[i]),
                    -1,
                )
            if anchor_at < 0:
                raise PatchError(
                    f"{path}: hunk {hunk.number} does not apply: its anchor "
                    f"'@@ {hunk.anchor}' was not found"
                )
            # The hunk comes after its anchor, unless its first line is the anchor itself.
            starts_at_anchor = bool(hunk.old) and (
                hunk.old[0].strip() == lines[anchor_at].strip()
            )
            position = anchor_at if starts_at_anchor else anchor_at + 1
        found = _find(lines, hunk.old, position, hunk.at_end)
        if found < 0 and hunk.anchor:
            found = _find(lines, hunk.old, 0, hunk.at_end)
        if found < 0:
            preview = "\n".join(hunk.old[:6])
            raise PatchError(
                f"{path}: hunk {hunk.number} does not apply: these lines were not found "
                f"(after line {position}):\n{preview}"
            )
        lines[found : found + len(hunk.old)] = _merge(lines[found : found + len(hunk.old)],
                                                      hunk)
        position = found + len(hunk.new)
    result = newline.join(lines)
    return result + newline if had_newline and lines else result


def _merge(current: list[str], hunk: Hunk) -> list[str]:
    """The hunk's new lines, with context lines taken from the file as it is.

    A context line that matched only after whitespace normalisation keeps its own
    whitespace.
    """
    merged: list[str] = []
    old_index = 0
    for line in hunk.new:
        if old_index < len(hunk.old) and line == hunk.old[old_index]:
            merged.append(current[old_index])
            old_index += 1
            continue
        # Skip removed lines of the old side until the next context line.
        while old_index < len(hunk.old) and hunk.old[old_index] not in hunk.new:
            old_index += 1
        if old_index < len(hunk.old) and line == hunk.old[old_index]:
            merged.append(current[old_index])
            old_index += 1
        else:
            merged.append(line)
    return merged


class FileSystem:
    """The files a patch touches, rooted at a workspace folder (real files, no escapes).

    Args:
        root: The workspace folder.
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def resolve(self, path: str) -> str:
        """The real path of ``path``; refuses anything outside the root (symlinks too)."""
        full = os.path.realpath(os.path.join(self.root, path))
        if full != self.root and not full.startswith(self.root + os.sep):
            raise PatchError(f"{path} resolves outside the workspace")
        return full

    def read(self, path: str) -> str:
        """The text of an existing file (line endings kept).

        Raises:
            PatchError: The file does not exist or resolves outside the workspace.
        """
        full = self.resolve(path)
        if not os.path.isfile(full):
            raise PatchError(f"{path} does not exist (use '*** Add File:' to create it)")
        with open(full, encoding="utf-8", newline="") as handle:
            return handle.read()

    def exists(self, path: str) -> bool:
        """Whether anything exists at ``path`` (inside the workspace)."""
        return os.path.exists(self.resolve(path))

    def check_writable(self, path: str) -> None:
        """Refuse a path whose parent is a file (found before anything is written)."""
        parent = os.path.dirname(self.resolve(path))
        while parent != self.root and not os.path.exists(parent):
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            raise PatchError(f"{path}: {os.path.relpath(parent, self.root)} is a file, "
                             "not a folder")

    def write(self, path: str, text: str) -> None:
        """Write ``text`` to ``path``, creating its folders."""
        full = self.resolve(path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)

    def delete(self, path: str) -> None:
        """Remove the file at ``path``.

        Raises:
            PatchError: There is no file there.
        """
        full = self.resolve(path)
        if not os.path.isfile(full):
            raise PatchError(f"{path} does not exist, so it cannot be deleted")
        os.remove(full)


def apply_patch(text: str, files: FileSystem) -> tuple[AppliedChange, ...]:
    """Parse and apply a patch; nothing is written unless every change applies.

    All hunks are matched and every target checked before the first write.

    Raises:
        PatchError: The patch is malformed or a change does not apply.
    """
    changes = parse_patch(text)
    writes: dict[str, str | None] = {}
    applied: list[AppliedChange] = []
    for change in changes:
        if change.kind == "add":
            if files.exists(change.path):
                raise PatchError(f"{change.path} already exists (use '*** Update File:')")
            writes[change.path] = change.content
        elif change.kind == "delete":
            files.read(change.path)  # must exist
            writes[change.path] = None
        else:
            updated = apply_hunks(files.read(change.path), change.hunks, change.path)
            if change.move_to and change.move_to != change.path:
                if files.exists(change.move_to):
                    raise PatchError(f"cannot move {change.path}: {change.move_to} exists")
                writes[change.path] = None
                writes[change.move_to] = updated
            else:
                writes[change.path] = updated
        applied.append(AppliedChange(change.kind, change.path, change.move_to))
    for path, content in writes.items():
        if content is not None:
            files.check_writable(path)
    # Everything was read, matched and checked above; only now is anything written.
    for path, content in writes.items():
        if content is None:
            files.delete(path)
        else:
            files.write(path, content)
    return tuple(applied)


def summarise(applied: tuple[AppliedChange, ...]) -> str:
    """A short report for the model."""
    words = {"add": "A", "update": "M", "delete": "D"}
    lines = []
    for change in applied:
        target = f" -> {change.move_to}" if change.move_to else ""
        lines.append(f"{words[change.kind]} {change.path}{target}")
    return "Done!\n" + "\n".join(lines)

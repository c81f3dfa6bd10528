"""The V4A patch format (the ``apply_patch`` format gpt-oss was trained with): parse, apply.

A patch looks like::

    *** Begin Patch
    *** Add File: notes/todo.txt
    +first line
    *** Update File: src/app.py
    *** Move to: src/main.py
    @@ def handler():
         context line
    -    old line
    +    new line
    *** Delete File: old.txt
    *** End Patch

Each ``@@`` starts a hunk: optional anchor text after the ``@@`` (a line that must be found
before the hunk), then lines prefixed with a space (context), ``-`` (removed) or ``+``
(added). ``*** End of File`` pins the hunk to the end of the file. Matching is exact first,
then ignoring trailing whitespace, then ignoring surrounding whitespace.

This module uses the standard library only and touches files through a small interface,
so the same code runs inside the sandbox container (where the patch is applied) and in
tests. Errors name the file and the hunk that does not apply.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File: "
UPDATE = "*** Update File: "
DELETE = "*** Delete File: "
MOVE = "*** Move to: "
END_OF_FILE = "*** End of File"


class PatchError(ValueError):
    """The patch is malformed or does not apply; the message says where."""


@dataclass(frozen=True)
class Hunk:
    """One ``@@`` section of an update.

    Attributes:
        anchor: Text after ``@@`` that must appear (as a line) before the hunk, or "".
        old: The lines the hunk expects (context and removed lines).
        new: The lines that replace them (context and added lines).
        at_end: Whether the hunk is pinned to the end of the file.
        number: 1-based position of the hunk in its file section (for errors).
    """

    anchor: str
    old: tuple[str, ...]
    new: tuple[str, ...]
    at_end: bool
    number: int


@dataclass(frozen=True)
class FileChange:
    """What the patch does to one path.

    Attributes:
        kind: ``add``, ``update`` or ``delete``.
        path: The path as written in the patch (relative to the workspace).
        content: For ``add``, the whole new file.
        hunks: For ``update``, the hunks in order.
        move_to: For ``update``, the new path, if the file is renamed.
    """

    kind: str
    path: str
    content: str = ""
    hunks: tuple[Hunk, ...] = ()
    move_to: str | None = None


@dataclass(frozen=True)
class AppliedChange:
    """What happened to one path when the patch applied."""

    kind: str
    path: str
    move_to: str | None = None


def _check_path(path: str, line_number: int) -> str:
    cleaned = path.strip()
    if not cleaned:
        raise PatchError(f"line {line_number}: a file path is missing")
    if cleaned.startswith("/") or cleaned.startswith("~"):
        raise PatchError(f"line {line_number}: path {cleaned!r} must be relative to the workspace")
    if ".." in cleaned.replace("\\", "/").split("/"):
        raise PatchError(f"line {line_number}: path {cleaned!r} must not contain '..'")
    return cleaned


@dataclass
class _Cursor:
    lines: list[str]
    index: int = 0
    changes: list[FileChange] = field(default_factory=list)

    def peek(self) -> str | None:
        return self.lines[self.index] if self.index < len(self.lines) else None

    def is_header(self) -> bool:
        line = self.peek()
        return line is not None and line.startswith(("*** ", END))


def parse_patch(text: str) -> tuple[FileChange, ...]:
    """Parse a V4A patch.

    Raises:
        PatchError: The patch is malformed (the message gives the line).
    """
    lines = text.replace("\r\n", "\n").strip("\n").split("\n")
    if not lines or lines[0].strip() != BEGIN:
        raise PatchError(f"the patch must start with {BEGIN!r}")
    if lines[-1].strip() != END:
        raise PatchError(f"the patch must end with {END!r} (was it cut off?)")
    cursor = _Cursor(lines[1:-1])
    while cursor.peek() is not None:
        line = cursor.peek() or ""
        number = cursor.index + 2
        if line.startswith(ADD):
            cursor.index += 1
            cursor.changes.append(_parse_add(cursor, _check_path(line[len(ADD):], number)))
        elif line.startswith(DELETE):
            cursor.index += 1
            cursor.changes.append(FileChange("delete", _check_path(line[len(DELETE):], number)))
        elif line.startswith(UPDATE):
            cursor.index += 1
            cursor.changes.append(_parse_update(cursor, _check_path(line[len(UPDATE):], number)))
        elif not line.strip():
            cursor.index += 1
        else:
            raise PatchError(
                f"line {number}: expected '*** Add File:', '*** Update File:' or "
                f"'*** Delete File:', got {line[:60]!r}"
            )
    if not cursor.changes:
        raise PatchError("the patch changes no file")
    paths = [change.path for change in cursor.changes]
    duplicates = sorted({path for path in paths if paths.count(path) > 1})
    if duplicates:
        raise PatchError(f"the patch names {duplicates[0]!r} more than once")
    return tuple(cursor.changes)


def _parse_add(cursor: _Cursor, path: str) -> FileChange:
    content: list[str] = []
    while not cursor.is_header() and cursor.peek() is not None:
        line = cursor.peek() or ""
        if not line.startswith("+"):
            raise PatchError(
                f"line {cursor.index + 2}: every line of an added file starts with '+' "
                f"(in {path})"
            )
        content.append(line[1:])
        cursor.index += 1
    return FileChange("add", path, content="\n".join(content) + "\n" if content else "")


def _parse_update(cursor: _Cursor, path: str) -> FileChange:
    move_to = None
    line = cursor.peek()
    if line is not None and line.startswith(MOVE):
        move_to = _check_path(line[len(MOVE):], cursor.index + 2)
        cursor.index += 1
    hunks: list[Hunk] = []
    while cursor.peek() is not None and not (
        cursor.is_header() and not (cursor.peek() or "").startswith(END_OF_FILE)
    ):
        anchor = ""
        line = cursor.peek() or ""
        if line.startswith("@@"):
            anchor = line[2:].strip()
            cursor.index += 1
        elif hunks:
            raise PatchError(f"line {cursor.index + 2}: expected '@@' to start the next hunk")
        old: list[str] = []
        new: list[str] = []
        at_end = False
        while cursor.peek() is not None:
            line = cursor.peek() or ""
            if line.startswith(END_OF_FILE):
                at_end = True
                cursor.index += 1
                break
            if line.startswith("@@") or cursor.is_header():
                break
            marker, body = (line[:1], line[1:]) if line else (" ", "")
            if marker == " ":
                old.append(body)
                new.append(body)
            elif marker == "-":
                old.append(body)
            elif marker == "+":
                new.append(body)
            else:
                raise PatchError(
                    f"line {cursor.index + 2}: hunk lines start with ' ', '-' or '+' "
                    f"(in {path}), got {line[:60]!r}"
                )
            cursor.index += 1
        if not old and not new and not anchor:
            raise PatchError(f"{path}: hunk {len(hunks) + 1} is empty")
        hunks.append(Hunk(anchor, tuple(old), tuple(new), at_end, len(hunks) + 1))
    if not hunks and move_to is None:
        raise PatchError(f"{path}: an update needs at least one hunk or a '*** Move to:'")
    return FileChange("update", path, hunks=tuple(hunks), move_to=move_to)


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
    """The hunk's new lines, with context lines taken from the file as it is (a context
    line that matched only after whitespace normalisation keeps its own whitespace)."""
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
    """The files a patch touches, rooted at a workspace folder (real files, no escapes)."""

    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def resolve(self, path: str) -> str:
        """The real path of ``path``; refuses anything outside the root (symlinks too)."""
        full = os.path.realpath(os.path.join(self.root, path))
        if full != self.root and not full.startswith(self.root + os.sep):
            raise PatchError(f"{path} resolves outside the workspace")
        return full

    def read(self, path: str) -> str:
        full = self.resolve(path)
        if not os.path.isfile(full):
            raise PatchError(f"{path} does not exist (use '*** Add File:' to create it)")
        with open(full, encoding="utf-8", newline="") as handle:
            return handle.read()

    def exists(self, path: str) -> bool:
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
        full = self.resolve(path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)

    def delete(self, path: str) -> None:
        full = self.resolve(path)
        if not os.path.isfile(full):
            raise PatchError(f"{path} does not exist, so it cannot be deleted")
        os.remove(full)


def apply_patch(text: str, files: FileSystem) -> tuple[AppliedChange, ...]:
    """Parse and apply a patch; nothing is written unless every change applies (all
    hunks are matched and every target checked before the first write).

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

"""V4A patch syntax: the markers, what a patch says (:class:`FileChange`), parsing it.

:func:`parse_patch` turns patch text into :class:`FileChange` values (each ``@@`` section
of an update a :class:`Hunk`) and raises :class:`PatchError`, naming the line, for a
patch that is malformed. It reads no file: applying the changes is
:mod:`gptoss_agent.tools.coding.v4a.apply`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gptoss_agent.tools.errors import ToolError

BEGIN = "*** Begin Patch"
END = "*** End Patch"
ADD = "*** Add File: "
UPDATE = "*** Update File: "
DELETE = "*** Delete File: "
MOVE = "*** Move to: "
END_OF_FILE = "*** End of File"


class PatchError(ToolError):
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
    """What happened to one path when the patch applied.

    Attributes:
        kind: ``add``, ``update`` or ``delete``.
        path: The path as written in the patch.
        move_to: The new path of a renamed file, or ``None``.
    """

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
    """The patch's lines between its begin and end markers, and the reading position."""

    lines: list[str]
    index: int = 0
    changes: list[FileChange] = field(default_factory=list)

    def peek(self) -> str | None:
        return self.lines[self.index] if self.index < len(self.lines) else None

    def is_header(self) -> bool:
        line = self.peek()
        return line is not None and line.startswith(("*** ", END))

    @property
    def line_number(self) -> int:
        """The current line's number in the whole patch (1-based, after the begin marker)."""
        return self.index + 2


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
        number = cursor.line_number
        cursor.index += 1
        if line.startswith(ADD):
            cursor.changes.append(_parse_add(cursor, _check_path(line[len(ADD):], number)))
        elif line.startswith(DELETE):
            cursor.changes.append(FileChange("delete", _check_path(line[len(DELETE):], number)))
        elif line.startswith(UPDATE):
            cursor.changes.append(_parse_update(cursor, _check_path(line[len(UPDATE):], number)))
        elif line.strip():
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
                f"line {cursor.line_number}: every line of an added file starts with '+' "
                f"(in {path})"
            )
        content.append(line[1:])
        cursor.index += 1
    return FileChange("add", path, content="\n".join(content) + "\n" if content else "")


def _parse_update(cursor: _Cursor, path: str) -> FileChange:
    move_to = None
    line = cursor.peek()
    if line is not None and line.startswith(MOVE):
        move_to = _check_path(line[len(MOVE):], cursor.line_number)
        cursor.index += 1
    hunks: list[Hunk] = []
    while cursor.peek() is not None and not (
        cursor.is_header() and not (cursor.peek() or "").startswith(END_OF_FILE)
    ):
        hunks.append(_parse_hunk(cursor, path, len(hunks) + 1))
    if not hunks and move_to is None:
        raise PatchError(f"{path}: an update needs at least one hunk or a '*** Move to:'")
    return FileChange("update", path, hunks=tuple(hunks), move_to=move_to)


def _parse_hunk(cursor: _Cursor, path: str, number: int) -> Hunk:
    """One hunk: its optional ``@@`` anchor, then its lines up to the next hunk or file."""
    anchor = ""
    line = cursor.peek() or ""
    if line.startswith("@@"):
        anchor = line[2:].strip()
        cursor.index += 1
    elif number > 1:
        raise PatchError(f"line {cursor.line_number}: expected '@@' to start the next hunk")
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
        _add_hunk_line(line, old, new, path, cursor.line_number)
        cursor.index += 1
    if not old and not new and not anchor:
        raise PatchError(f"{path}: hunk {number} is empty")
    return Hunk(anchor, tuple(old), tuple(new), at_end, number)


def _add_hunk_line(line: str, old: list[str], new: list[str], path: str, number: int) -> None:
    """Sort one hunk line into the old side, the new side, or both (context)."""
    marker, body = (line[:1], line[1:]) if line else (" ", "")
    if marker not in (" ", "-", "+"):
        raise PatchError(
            f"line {number}: hunk lines start with ' ', '-' or '+' (in {path}), "
            f"got {line[:60]!r}"
        )
    if marker != "+":
        old.append(body)
    if marker != "-":
        new.append(body)

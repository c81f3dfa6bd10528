"""The session's drive: the host folder mounted at ``/mnt/data``.

:class:`DataDir` creates the folder with permissions the sandbox user can write, places
input files into it without following links the sandbox may have planted, measures its
disk use (for the quota watchdog) and lists what a call created or changed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath

from gptoss_agent.sandbox.errors import DataPathError

ENTRY_OVERHEAD = 1024
"""Bytes charged per file or folder on top of its data blocks (inodes are not free)."""

MAX_LISTED = 10_000
"""Most entries :meth:`DataDir.snapshot` records; deeper trees are reported partially."""

Snapshot = Mapping[str, tuple[int, int]]


class DataDir:
    """A host folder shared with one sandbox container.

    Args:
        path: The folder; created if missing.
        uid: Uid of the sandbox user, who must be able to write into it.
        gid: Gid of the sandbox user.
    """

    def __init__(self, path: str | os.PathLike[str], uid: int = 1000, gid: int = 1000) -> None:
        self.path = Path(path).absolute()
        self.path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.path, uid, gid)
            self.path.chmod(0o775)
        elif os.geteuid() != uid:
            # The sandbox user is someone else: it can only write into an open folder.
            self.path.chmod(0o777)

    # -- measuring ---------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[str, os.stat_result]]:
        """``(path, stat)`` of every entry below the folder.

        Links are not followed and unreadable entries are skipped.
        """
        stack = [str(self.path)]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(info.st_mode):
                    stack.append(entry.path)
                yield entry.path, info

    def usage(self, stop_above: int | None = None) -> int:
        """Disk use in bytes (data blocks plus :data:`ENTRY_OVERHEAD` per entry).

        Links are not followed. With ``stop_above``, counting stops once it is exceeded.
        """
        return self.measure(stop_above)[0]

    def measure(
        self, stop_above: int | None = None, stop_above_entries: int | None = None
    ) -> tuple[int, int]:
        """``(bytes, entries)``: disk use as :meth:`usage` counts it, and files plus folders.

        Counting stops once either limit given is exceeded.
        """
        total = entries = 0
        for _path, info in self._walk():
            total += ENTRY_OVERHEAD + getattr(info, "st_blocks", 0) * 512
            entries += 1
            if stop_above is not None and total > stop_above:
                break
            if stop_above_entries is not None and entries > stop_above_entries:
                break
        return total, entries

    def snapshot(self) -> dict[str, tuple[int, int]]:
        """``relative path -> (size, mtime_ns)`` of the regular files below the folder.

        At most :data:`MAX_LISTED` entries are looked at; links are not followed.
        """
        found: dict[str, tuple[int, int]] = {}
        for path, info in self._walk():
            if len(found) >= MAX_LISTED:
                break
            if stat.S_ISREG(info.st_mode):
                found[Path(path).relative_to(self.path).as_posix()] = (
                    info.st_size, info.st_mtime_ns)
        return found

    @staticmethod
    def diff(before: Snapshot, after: Snapshot) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """``(created, modified)`` paths between two snapshots, sorted."""
        created = sorted(path for path in after if path not in before)
        modified = sorted(
            path for path, meta in after.items() if path in before and before[path] != meta
        )
        return tuple(created), tuple(modified)

    # -- placing input files -----------------------------------------------------------

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write ``data`` to ``name`` (a relative path) inside the folder.

        Every component is opened without following links, so a link the sandbox
        planted cannot redirect the write outside the folder.

        Raises:
            DataPathError: ``name`` is absolute, empty or climbs out with ``..``.
            OSError: A component is a link or not a folder.
        """
        parts = _relative_parts(name)
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
        dir_fd = os.open(self.path, flags)
        try:
            for part in parts[:-1]:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o777, dir_fd=dir_fd)
                next_fd = os.open(part, flags, dir_fd=dir_fd)
                os.close(dir_fd)
                dir_fd = next_fd
            file_flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(parts[-1], file_flags, 0o666, dir_fd=dir_fd)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        finally:
            os.close(dir_fd)
        return self.path.joinpath(*parts)

    def remove_file(self, name: str) -> bool:
        """Delete the regular file ``name`` (a relative path) inside the folder.

        Every folder on the way is opened without following links, so a name cannot
        reach outside the folder (an absolute name, ``..``, or a link on the way);
        links and folders themselves are left alone.

        Returns:
            Whether a file was removed.

        Raises:
            DataPathError: ``name`` is absolute, empty or climbs out with ``..``.
        """
        parts = _relative_parts(name)
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            dir_fd = os.open(self.path, flags)
        except OSError:
            return False
        try:
            for part in parts[:-1]:
                next_fd = os.open(part, flags, dir_fd=dir_fd)
                os.close(dir_fd)
                dir_fd = next_fd
            info = os.stat(parts[-1], dir_fd=dir_fd, follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                return False
            os.unlink(parts[-1], dir_fd=dir_fd)
            return True
        except OSError:
            return False  # gone already, or a link / a file where a folder should be
        finally:
            os.close(dir_fd)

    def copy_in(self, source: str | os.PathLike[str], name: str | None = None) -> Path:
        """Copy a host file or folder into the drive (as ``name``, default its own name).

        Raises:
            DataPathError: ``name`` is unsafe, or the target folder is a link or a file.
            FileNotFoundError: ``source`` does not exist.
        """
        source = Path(source)
        target_name = name or source.name
        if source.is_dir():
            target = self.path.joinpath(*_relative_parts(target_name))
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                raise DataPathError(f"refusing to copy over {target}")
            for file in sorted(p for p in source.rglob("*") if p.is_file()):
                rel = PurePosixPath(target_name, file.relative_to(source).as_posix())
                self.write_bytes(str(rel), file.read_bytes())
            return target
        if not source.is_file():
            raise FileNotFoundError(source)
        return self.write_bytes(target_name, source.read_bytes())

    def remove_all(self) -> None:
        """Delete the folder and everything in it."""
        shutil.rmtree(self.path, ignore_errors=True)


def _relative_parts(name: str) -> list[str]:
    path = PurePosixPath(name.replace("\\", "/"))
    parts = [part for part in path.parts if part not in ("", ".")]
    if path.is_absolute() or not parts or ".." in parts:
        raise DataPathError(f"not a relative path inside /mnt/data: {name!r}")
    return parts

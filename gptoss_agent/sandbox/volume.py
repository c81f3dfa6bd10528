"""``/mnt/data`` for an engine on another machine: a Docker volume plus archive copies.

A bind mount needs the engine to share this machine's disks. When it does not (``tcp://``,
``ssh://``, see :func:`~gptoss_agent.sandbox.config.copies_data`), the drive lives in a
named volume of the session (labelled like its containers, so the orphan sweep removes
it too), and :class:`VolumeDrive` keeps the host folder a mirror of it through the
Engine API: before each call the host files changed since the last copy are put into
the container as one tar archive; after it, the files the kernel saw change during the
call are fetched back and the ones it saw disappear are removed from the mirror. Archive
members are written through :class:`~gptoss_agent.sandbox.datadir.DataDir`, so nothing
the container sends (links, ``..``, absolute names) can land outside the folder.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import IO, Any

from gptoss_agent.sandbox.config import DATA_MOUNT
from gptoss_agent.sandbox.datadir import DataDir, Snapshot
from gptoss_agent.sandbox.engine import Engine
from gptoss_agent.sandbox.errors import DataPathError, SandboxError

WHOLE_DRIVE_ABOVE = 16
"""More changed files than this are fetched as one archive of the whole drive."""

SPOOL_IN_MEMORY = 8 * 1024 * 1024
"""Bytes of a fetched archive kept in memory; the rest goes to a temporary file."""

USAGE_PROBE = (
    "import os,sys\n"
    "b=f=0\n"
    "s=[sys.argv[1]]\n"
    "while s:\n"
    " try: e=list(os.scandir(s.pop()))\n"
    " except OSError: continue\n"
    " for x in e:\n"
    "  try: st=x.stat(follow_symlinks=False)\n"
    "  except OSError: continue\n"
    "  f+=1; b+=1024+st.st_blocks*512\n"
    "  if x.is_dir(follow_symlinks=False): s.append(x.path)\n"
    "print(b,f)\n"
)
"""Measures the drive from inside the container (bytes as :meth:`DataDir.usage` counts
them, and entries); run with ``docker exec`` as an unprivileged user of its own, so code
in the sandbox cannot signal it, and isolated (``-I``: no module from ``/mnt/data``, its
working folder, and no ``PYTHON*`` variable). A folder the sandbox user makes unreadable
to others hides its content from it (see docs/sandbox.md)."""

PROBE_USER = "65534:65534"
"""Who the usage probe runs as (``nobody``): not the sandbox user, whom it watches."""


class VolumeDrive:
    """A session's ``/mnt/data`` volume and the host mirror kept in step with it.

    Args:
        engine: The engine holding the volume.
        data: The host folder that mirrors the drive.
        name: The volume's name.
        labels: Ownership labels (see :mod:`gptoss_agent.sandbox.labels`).
        uid: Owner of the files put into the container.
        gid: Group of the files put into the container.
    """

    def __init__(
        self,
        engine: Engine,
        data: DataDir,
        name: str,
        labels: Mapping[str, str],
        uid: int,
        gid: int,
    ) -> None:
        self.engine = engine
        self.data = data
        self.name = name
        self._labels = dict(labels)
        self._uid, self._gid = uid, gid
        self._created = False
        self._mirrored: Snapshot = {}
        self.behind = False
        """Whether the volume may hold files the mirror lacks: set by :meth:`push` (a
        call is about to run), cleared once they came back (:meth:`pull`,
        :meth:`pull_all`). A call cancelled in between leaves it set, so the next
        :meth:`push` (or the session's close) fetches the whole drive."""

    @property
    def mount(self) -> dict[str, Any]:
        """The ``HostConfig.Mounts`` entry that puts the volume at ``/mnt/data``."""
        return {"Type": "volume", "Source": self.name, "Target": DATA_MOUNT, "ReadOnly": False}

    def create(self) -> None:
        """Create the volume (once; a new container of the session reuses it)."""
        if not self._created:
            self.engine.api(
                "create a data volume", "create_volume", name=self.name, labels=self._labels
            )
            self._created = True

    def remove(self) -> None:
        """Remove the volume; the host mirror is kept. A missing volume is fine."""
        if not self._created:
            return
        try:
            self.engine.api("remove a data volume", "remove_volume", self.name, force=True)
        except SandboxError as exc:
            if "No such" not in str(exc):
                raise
        self._created = False

    # -- host to container -------------------------------------------------------------

    def push(self, container_id: str) -> int:
        """Put the host files changed since the last copy into the container; how many.

        If an earlier call's files never came back (it was cancelled), the whole drive
        is fetched after the host's changes went in.
        """
        now = self.data.snapshot()
        changed = [path for path, meta in now.items() if self._mirrored.get(path) != meta]
        if changed:
            archive = self._archive(sorted(changed))
            self.engine.api(
                "copy files into the sandbox", "put_archive", container_id, DATA_MOUNT, archive
            )
        self._mirrored = now
        if self.behind:
            self.pull_all(container_id)
        self.behind = True
        return len(changed)

    def _archive(self, paths: Iterable[str]) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            folders: set[str] = set()
            for rel in paths:
                source = self.data.path / rel
                for parent in reversed(PurePosixPath(rel).parents[:-1]):
                    if str(parent) not in folders:
                        folders.add(str(parent))
                        tar.addfile(self._member(str(parent), tarfile.DIRTYPE, 0, 0o775))
                try:
                    payload = source.read_bytes()
                except OSError:
                    continue
                info = self._member(rel, tarfile.REGTYPE, len(payload), 0o664)
                info.mtime = int(source.stat().st_mtime)
                tar.addfile(info, io.BytesIO(payload))
        return buffer.getvalue()

    def _member(self, name: str, kind: bytes, size: int, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type, info.size, info.mode = kind, size, mode
        info.uid, info.gid = self._uid, self._gid
        return info

    # -- container to host -------------------------------------------------------------

    def pull(
        self,
        container_id: str,
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        complete: bool = True,
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Mirror what changed in the container during a call: ``(created, modified)``.

        The listings come from the kernel, which the code in the sandbox controls: a
        name can only ever reach a file inside the mirror (see
        :meth:`DataDir.remove_file`). A listing the kernel could not finish (out of file
        descriptors, an unreadable folder, too many files) proves nothing about what
        disappeared: then every file of the drive is fetched and nothing is deleted.

        Args:
            container_id: The container (running or stopped) that holds the volume.
            before: The kernel's listing of the drive at the start of the call.
            after: Its listing at the end.
            complete: Whether both listings saw every file of the drive.
        """
        listed_before, listed_after = _listing(before), _listing(after)
        created, modified = DataDir.diff(listed_before, listed_after)
        changed = [*created, *modified]
        if not complete:
            self.pull_all(container_id)
            return created, modified
        if len(changed) > WHOLE_DRIVE_ABOVE:
            self._extract(self._fetch(container_id, DATA_MOUNT), set(changed), strip=1)
        else:
            for rel in changed:
                parent = PurePosixPath(rel).parent
                wanted = {PurePosixPath(rel).name}
                self._extract(
                    self._fetch(container_id, f"{DATA_MOUNT}/{rel}"), wanted, strip=0,
                    prefix=str(parent) if str(parent) != "." else "",
                )
        for rel in set(listed_before) - set(listed_after):
            with contextlib.suppress(DataPathError):
                self.data.remove_file(rel)
        self._mirrored = self.data.snapshot()
        self.behind = False
        return created, modified

    def pull_all(self, container_id: str) -> None:
        """Mirror every file of the drive (after a crash: the kernel could not list them)."""
        try:
            archive = self._fetch(container_id, DATA_MOUNT)
        except SandboxError:
            archive = None
        if archive is None:
            return  # the container is gone: the volume still holds the files
        self._extract(archive, None, strip=1)
        self._mirrored = self.data.snapshot()
        self.behind = False

    def _fetch(self, container_id: str, path: str) -> IO[bytes] | None:
        """The archive of ``path``, or ``None`` when it does not exist.

        Spooled to a temporary file past :data:`SPOOL_IN_MEMORY`, so a whole drive does
        not have to fit in memory.
        """
        try:
            stream, _ = self.engine.api(
                "copy files out of the sandbox", "get_archive", container_id, path
            )
        except SandboxError as exc:
            if "No such" in str(exc) or "not found" in str(exc).lower():
                return None  # deleted again before we asked: nothing to mirror
            raise
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        try:
            for chunk in stream:
                spool.write(chunk)
        except Exception as exc:  # the stream broke off
            spool.close()
            raise SandboxError(f"copying files out of the sandbox failed: {exc}") from exc
        spool.seek(0)
        return spool

    def _extract(
        self, archive: IO[bytes] | None, wanted: set[str] | None, strip: int, prefix: str = ""
    ) -> None:
        if archive is None:
            return
        with archive, tarfile.open(fileobj=archive, mode="r:") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts[strip:]
                rel = str(PurePosixPath(prefix, *parts)) if parts else ""
                if not member.isreg() or not rel:
                    continue
                if wanted is not None and str(PurePosixPath(*parts)) not in wanted:
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    continue
                try:
                    self.data.write_bytes(rel, handle.read())
                except (DataPathError, OSError):
                    continue  # an unsafe name, or a link planted on the host side

    # -- the quota ---------------------------------------------------------------------

    def usage(self, container_id: str) -> tuple[int, int] | None:
        """``(bytes, entries)`` of the drive measured inside, or ``None`` if unknown."""
        try:
            created = self.engine.api(
                "measure the data drive", "exec_create", container_id,
                ["python3", "-I", "-c", USAGE_PROBE, DATA_MOUNT], user=PROBE_USER,
            )
            output = self.engine.api("measure the data drive", "exec_start", created["Id"])
        except SandboxError:
            return None  # the container is at its process limit, or stopping
        fields = bytes(output).split()
        if len(fields) != 2 or not all(f.isdigit() for f in fields):
            return None
        return int(fields[0]), int(fields[1])


def _listing(raw: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """The kernel's ``path -> [size, mtime_ns]`` as a snapshot (bad entries dropped)."""
    found = {}
    for path, meta in raw.items() if isinstance(raw, Mapping) else ():
        if (
            isinstance(path, str)
            and isinstance(meta, list)
            and len(meta) == 2
            and all(isinstance(n, int) for n in meta)
            and not os.path.isabs(path)
        ):
            found[path] = (int(meta[0]), int(meta[1]))
    return found

"""The host mirror of a remote drive, without an engine: what the kernel's listings (which
the sandboxed code controls) may and may not make the host do."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

from gptoss_agent.sandbox.datadir import DataDir
from gptoss_agent.sandbox.kernel import data_snapshot
from gptoss_agent.sandbox.volume import VolumeDrive


class ArchiveEngine:
    """Answers ``get_archive`` with one fixed archive of the drive; records every call."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def api(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        self.calls.append((method, args))
        assert method == "get_archive", method
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, data in self.files.items():
                info = tarfile.TarInfo(f"data/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return iter([buffer.getvalue()]), {}


def drive(tmp_path: Path, engine: ArchiveEngine | None = None) -> tuple[VolumeDrive, Path]:
    folder = tmp_path / "mirror"
    data = DataDir(folder)
    return VolumeDrive(engine or ArchiveEngine({}), data, "v", {}, 1000, 1000), folder  # type: ignore[arg-type]


def test_deleted_names_cannot_reach_outside_the_mirror(tmp_path):
    box, folder = drive(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("host file")
    (folder / "link").symlink_to(outside)
    (folder / "gone.txt").write_text("deleted in the sandbox")
    (folder / "sub").mkdir()
    (folder / "sub" / "also-gone.txt").write_text("x")
    before = {
        str(victim): [9, 1],  # absolute
        "link/victim.txt": [9, 1],  # through a link in the mirror
        "../outside/victim.txt": [9, 1],
        "sub/../../outside/victim.txt": [9, 1],
        "gone.txt": [22, 1],
        "sub/also-gone.txt": [1, 1],
        "sub": [0, 1],  # a folder: never removed as a file
    }
    box.pull("c", before, {})
    assert victim.read_text() == "host file"
    assert (folder / "link").is_symlink()
    assert not (folder / "gone.txt").exists() and not (folder / "sub" / "also-gone.txt").exists()
    assert (folder / "sub").is_dir()


def test_malformed_listings_are_ignored_not_a_crash(tmp_path):
    box, folder = drive(tmp_path)
    (folder / "kept.txt").write_text("x")
    box.pull("c", {"kept.txt": ["1", "2"], "other": "nonsense"}, ["not", "a", "mapping"])  # type: ignore[arg-type]
    assert (folder / "kept.txt").exists()


def test_an_incomplete_listing_deletes_nothing_and_fetches_the_drive(tmp_path):
    engine = ArchiveEngine({"new.txt": b"made", "kept.txt": b"still there"})
    box, folder = drive(tmp_path, engine)
    (folder / "kept.txt").write_text("old")
    # The kernel ran out of file descriptors at the end: its listing came back empty.
    box.pull("c", {"kept.txt": [3, 1]}, {}, complete=False)
    assert (folder / "kept.txt").read_text() == "still there"
    assert (folder / "new.txt").read_text() == "made"
    assert [method for method, _ in engine.calls] == ["get_archive"]


def test_the_kernel_listing_says_when_it_is_incomplete(tmp_path):
    for i in range(3):
        (tmp_path / f"f{i}").write_text("x")
    found, complete = data_snapshot(str(tmp_path))
    assert complete and sorted(found) == ["f0", "f1", "f2"]
    found, complete = data_snapshot(str(tmp_path), limit=2)
    assert not complete and len(found) == 2
    found, complete = data_snapshot(str(tmp_path / "missing"))
    assert not complete and found == {}


class StreamingEngine:
    """Streams an archive of ``count`` files of one MiB in 64 KiB chunks, made on the fly."""

    def __init__(self, count: int) -> None:
        self.count = count

    def api(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        return self._chunks(), {}

    def _chunks(self) -> Any:
        payload = b"7" * (1 << 20)
        for i in range(self.count):
            info = tarfile.TarInfo(f"data/f{i}.bin")
            info.size = len(payload)
            block = info.tobuf() + payload  # a MiB is a whole number of tar blocks
            for start in range(0, len(block), 1 << 16):
                yield block[start : start + (1 << 16)]
        yield b"\0" * 1024


def test_a_whole_drive_comes_back_without_being_held_in_memory(tmp_path):
    import tracemalloc

    box, folder = drive(tmp_path, StreamingEngine(48))  # type: ignore[arg-type]
    tracemalloc.start()
    try:
        box.pull_all("c")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(list(folder.iterdir())) == 48 and (folder / "f47.bin").stat().st_size == 1 << 20
    assert peak < 24 << 20, f"peak {peak / 2**20:.0f} MiB for a 48 MiB drive"

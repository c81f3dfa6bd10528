"""The offline image build: debootstrap from a Debian mirror, then ``docker import``.

For machines that reach a Debian mirror but no image registry. Needs root (debootstrap
creates device nodes and chroots) and the ``debootstrap`` program. Steps: install the
recipe's packages into a temporary folder, add the unprivileged ``sandbox`` user, strip
what a sandbox never needs (package caches, documentation, headers), stream the folder
as a tar archive into the engine, remove the folder.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from gptoss_agent.sandbox.config import DATA_MOUNT, SANDBOX_HOME
from gptoss_agent.sandbox.engine import Engine
from gptoss_agent.sandbox.errors import ImageBuildError
from gptoss_agent.sandbox.kernel import MPL_CACHE
from gptoss_agent.sandbox.recipe import ImageRecipe, Log, split_image_name

DEFAULT_MIRROR = "http://deb.debian.org/debian"

DEBOOTSTRAP_CACHE = "/var/cache/gptoss-agent/debootstrap"
"""Downloaded packages are kept here, so a rebuild (new recipe) downloads only changes."""

STRIP = (
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/include",
)
"""Folders emptied after installation (nothing in the sandbox reads them)."""


def host_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine's apt uses (not the security archive).

    Reads deb822 ``*.sources`` files and one-line ``sources.list`` entries; falls back
    to :data:`DEFAULT_MIRROR`.
    """
    files = [apt_dir / "sources.list"]
    folder = apt_dir / "sources.list.d"
    if folder.is_dir():
        files += sorted(folder.iterdir())
    for file in files:
        try:
            text = file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        uris = re.findall(r"^\s*URIs:\s*(\S+)", text, flags=re.MULTILINE)
        uris += re.findall(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)", text, flags=re.MULTILINE)
        for uri in uris:
            if re.search(r"/debian/?$", uri) and "security" not in uri:
                return uri.rstrip("/")
    return DEFAULT_MIRROR


def add_sandbox_user(root: Path, uid: int) -> None:
    """Add the ``sandbox`` user and group, its home and the ``/mnt/data`` mount point."""
    entries = {
        "etc/passwd": f"sandbox:x:{uid}:{uid}:sandbox:{SANDBOX_HOME}:/usr/sbin/nologin\n",
        "etc/group": f"sandbox:x:{uid}:\n",
        "etc/shadow": "sandbox:!:19000:0:99999:7:::\n",
    }
    for name, line in entries.items():
        path = root / name
        existing = path.read_text() if path.exists() else ""
        if not any(row.startswith("sandbox:") for row in existing.splitlines()):
            with path.open("a") as handle:
                handle.write(line)
    for folder, mode in ((SANDBOX_HOME, 0o700), (DATA_MOUNT, 0o775)):
        path = root / folder.lstrip("/")
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, uid, uid)
        path.chmod(mode)


def build_font_cache(root: Path) -> None:
    """Build matplotlib's font cache into the image (the kernel copies it to $HOME)."""
    if not (root / "usr/lib/python3/dist-packages/matplotlib").is_dir():
        return
    chroot = shutil.which("chroot") or "/usr/sbin/chroot"
    target = root / MPL_CACHE.lstrip("/")
    target.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [chroot, str(root), "/usr/bin/python3", "-c", "import matplotlib.font_manager"],
            env={"MPLCONFIGDIR": MPL_CACHE, "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
            capture_output=True,
            timeout=300,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return  # an optimisation only: the first plot builds the cache instead
    for path in [target, *target.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def strip_rootfs(root: Path) -> None:
    """Empty the folders in :data:`STRIP` and drop static libraries."""
    for rel in STRIP:
        folder = root / rel
        if not folder.is_dir():
            continue
        for child in folder.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    child.unlink()
    for archive in (root / "usr/lib").rglob("*.a"):
        with contextlib.suppress(OSError):
            archive.unlink()


def _mounts_under(root: Path) -> list[str]:
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    prefix = str(root.resolve())
    points = [line.split()[1] for line in lines if len(line.split()) > 1]
    return sorted((p for p in points if p == prefix or p.startswith(prefix + "/")), reverse=True)


def _remove_rootfs(root: Path) -> None:
    # A failed debootstrap can leave /proc or /sys mounted inside: unmount before deleting.
    for point in _mounts_under(root):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    if not _mounts_under(root):
        shutil.rmtree(root, ignore_errors=True)


def tar_chunks(root: Path, chunk_bytes: int = 1 << 20) -> Iterator[bytes]:
    """Stream ``root`` as an uncompressed tar archive (numeric owners kept).

    Raises:
        ImageBuildError: ``tar`` failed.
    """
    process = subprocess.Popen(
        ["tar", "-C", str(root), "--numeric-owner", "-cf", "-", "."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        while chunk := process.stdout.read(chunk_bytes):
            yield chunk
    finally:
        process.stdout.close()
        error = process.stderr.read().decode(errors="replace")
        code = process.wait()
    if code != 0:
        raise ImageBuildError(f"tar of the root filesystem failed ({code}): {error[-500:]}")


def debootstrap(root: Path, recipe: ImageRecipe, mirror: str, log: Log, timeout_s: float) -> None:
    """Install a minimal Debian with the recipe's packages into ``root``."""
    command = ["debootstrap", "--variant=minbase"]
    cache = Path(DEBOOTSTRAP_CACHE)
    with contextlib.suppress(OSError):
        cache.mkdir(parents=True, exist_ok=True)
        command.append(f"--cache-dir={cache}")
    command += [
        f"--include={','.join(recipe.packages)}",
        recipe.suite,
        str(root),
        mirror,
    ]
    log("$ " + " ".join(command))
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ImageBuildError(f"debootstrap did not finish within {timeout_s:g}s") from exc
    if done.returncode != 0:
        tail = (done.stdout + done.stderr)[-1500:]
        raise ImageBuildError(f"debootstrap failed (exit {done.returncode}):\n{tail}")


def build_offline(
    engine: Engine,
    image: str,
    recipe: ImageRecipe,
    *,
    mirror: str | None = None,
    log: Log = print,
    timeout_s: float = 3600.0,
    workdir: str | None = None,
) -> None:
    """Build ``image`` from Debian packages without any image registry.

    Args:
        engine: Where to import the image.
        image: Name of the image.
        recipe: Suite, packages and user.
        mirror: Debian mirror URL (default: the host's apt mirror).
        log: Receives progress lines.
        timeout_s: Deadline of the whole build.
        workdir: Where to create the temporary root filesystem.

    Raises:
        ImageBuildError: Not root, no debootstrap, mirror failure, import failure.
    """
    if os.geteuid() != 0:
        raise ImageBuildError(
            "the offline build needs root (debootstrap); run it as root, or use "
            "`--dockerfile` on a machine that reaches an image registry"
        )
    if shutil.which("debootstrap") is None or shutil.which("tar") is None:
        raise ImageBuildError(
            "the offline build needs debootstrap and tar (apt-get install debootstrap)"
        )
    mirror = mirror or host_mirror()
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="gptoss-rootfs-", dir=workdir))
    try:
        debootstrap(root, recipe, mirror, log, timeout_s)
        log(f"debootstrap done in {time.monotonic() - started:.0f}s; adding the sandbox user")
        add_sandbox_user(root, recipe.uid)
        build_font_cache(root)
        strip_rootfs(root)
        remaining = max(60.0, timeout_s - (time.monotonic() - started))
        repository, tag = split_image_name(image)
        log(f"importing the root filesystem as {repository}:{tag}")
        engine.import_image(tar_chunks(root), repository, tag, recipe.import_changes(), remaining)
    finally:
        _remove_rootfs(root)
    log(f"offline build finished in {time.monotonic() - started:.0f}s")

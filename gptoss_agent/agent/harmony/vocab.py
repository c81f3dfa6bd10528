"""The offline o200k vocabulary that openai-harmony needs, found or rebuilt without a network.

``openai_harmony.load_harmony_encoding`` downloads ``o200k_base.tiktoken`` on first use
unless ``TIKTOKEN_ENCODINGS_BASE`` names a folder that holds it. This module makes sure
such a folder exists, in this order:

1. ``TIKTOKEN_ENCODINGS_BASE`` if the user set it and the file there is genuine;
2. the per-user cache folder (``$GPTOSS_AGENT_CACHE``, else ``$XDG_CACHE_HOME/gptoss-agent``,
   else ``~/.cache/gptoss-agent``) under ``vocab/``;
3. a rebuild into that cache from the o200k data shipped in the ``quicktok-v1`` wheel (the
   installed package, or a wheel file named by ``GPTOSS_AGENT_QUICKTOK_WHEEL``).

Every candidate is checked against the SHA-256 harmony itself expects; if all fail, one
``VocabularyError`` lists what was tried and why each failed.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from gptoss_agent.agent.harmony.errors import HarmonyError

VOCAB_FILENAME = "o200k_base.tiktoken"
VOCAB_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"
_QUICKTOK_MEMBER = "quicktok/data/o200k.vocab"
_EXPECTED_TOKENS = 199_998


class VocabularyError(HarmonyError):
    """The vocabulary could not be found or rebuilt; the message lists every attempt."""


@dataclass(frozen=True)
class VocabularyLocation:
    """Where the verified vocabulary lives and how it got there.

    Attributes:
        folder: The folder to export as ``TIKTOKEN_ENCODINGS_BASE``.
        source: ``"env"``, ``"cache"`` or ``"rebuilt"``.
    """

    folder: Path
    source: str


def cache_dir() -> Path:
    """The per-user cache folder of gptoss-agent (not created)."""
    explicit = os.environ.get("GPTOSS_AGENT_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "gptoss-agent"


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_folder(folder: Path) -> str | None:
    """``None`` if ``folder`` holds the genuine vocabulary, else why not."""
    candidate = folder / VOCAB_FILENAME
    if not candidate.is_file():
        return f"{candidate} does not exist"
    actual = file_sha256(candidate)
    if actual != VOCAB_SHA256:
        return f"{candidate} has SHA-256 {actual[:12]}..., expected {VOCAB_SHA256[:12]}..."
    return None


def convert_quicktok_vocab(data: bytes) -> bytes:
    """Turn quicktok's binary o200k table into the text format tiktoken reads.

    quicktok stores a little-endian ``u32`` count, then per token a ``u16`` length, the
    token bytes and a ``u32`` rank. tiktoken's format is ``base64(bytes) rank`` per line,
    in rank order.

    Raises:
        VocabularyError: The data is truncated or does not hold the o200k table.
    """
    try:
        (count,) = struct.unpack_from("<I", data, 0)
        offset = 4
        entries: list[tuple[int, bytes]] = []
        for _ in range(count):
            (length,) = struct.unpack_from("<H", data, offset)
            offset += 2
            token = data[offset : offset + length]
            offset += length
            (rank,) = struct.unpack_from("<I", data, offset)
            offset += 4
            entries.append((rank, token))
    except struct.error as exc:
        raise VocabularyError(f"quicktok vocabulary data is truncated: {exc}") from exc
    if count != _EXPECTED_TOKENS or offset != len(data):
        raise VocabularyError(
            f"quicktok data holds {count} tokens ({len(data) - offset} trailing bytes); "
            f"expected exactly {_EXPECTED_TOKENS}"
        )
    entries.sort()
    return b"".join(base64.b64encode(token) + b" %d\n" % rank for rank, token in entries)


def _quicktok_sources() -> list[tuple[str, bytes | None, str | None]]:
    """Candidate quicktok data: (description, bytes or None, why not)."""
    sources: list[tuple[str, bytes | None, str | None]] = []
    wheel = os.environ.get("GPTOSS_AGENT_QUICKTOK_WHEEL")
    if wheel:
        try:
            with zipfile.ZipFile(wheel) as archive:
                sources.append((f"wheel {wheel}", archive.read(_QUICKTOK_MEMBER), None))
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            sources.append((f"wheel {wheel}", None, str(exc)))
    spec = importlib.util.find_spec("quicktok")
    if spec is None or not spec.submodule_search_locations:
        sources.append(("installed quicktok package", None, "quicktok-v1 is not installed"))
    else:
        for location in spec.submodule_search_locations:
            member = Path(location) / "data" / "o200k.vocab"
            try:
                sources.append((f"installed {member}", member.read_bytes(), None))
            except OSError as exc:
                sources.append((f"installed {member}", None, str(exc)))
    return sources


def _write_atomically(target: Path, payload: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=".vocab-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def ensure_vocabulary() -> VocabularyLocation:
    """Find or rebuild the verified vocabulary and return its folder.

    Raises:
        VocabularyError: Nothing worked; the message names every attempt.
    """
    tried: list[str] = []
    env_folder = os.environ.get("TIKTOKEN_ENCODINGS_BASE")
    if env_folder and "://" not in env_folder:
        problem = _check_folder(Path(env_folder))
        if problem is None:
            return VocabularyLocation(Path(env_folder), "env")
        tried.append(f"TIKTOKEN_ENCODINGS_BASE: {problem}")
    elif env_folder:
        tried.append(f"TIKTOKEN_ENCODINGS_BASE={env_folder} is a URL; only folders work offline")
    folder = cache_dir() / "vocab"
    problem = _check_folder(folder)
    if problem is None:
        return VocabularyLocation(folder, "cache")
    tried.append(f"cache: {problem}")
    for description, data, why_not in _quicktok_sources():
        if data is None:
            tried.append(f"rebuild from {description}: {why_not}")
            continue
        try:
            payload = convert_quicktok_vocab(data)
        except VocabularyError as exc:
            tried.append(f"rebuild from {description}: {exc}")
            continue
        actual = hashlib.sha256(payload).hexdigest()
        if actual != VOCAB_SHA256:
            tried.append(f"rebuild from {description}: SHA-256 {actual[:12]}... does not match")
            continue
        try:
            _write_atomically(folder / VOCAB_FILENAME, payload)
        except OSError as exc:
            tried.append(f"rebuild from {description}: cannot write {folder}: {exc}")
            continue
        return VocabularyLocation(folder, "rebuilt")
    raise VocabularyError(
        "cannot load the o200k vocabulary that openai-harmony needs. Tried:\n  - "
        + "\n  - ".join(tried)
        + "\nFix: `pip install quicktok-v1`, or put a genuine o200k_base.tiktoken in a folder "
        "and set TIKTOKEN_ENCODINGS_BASE to it."
    )

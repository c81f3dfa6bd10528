"""Compact checkpoints: a restricted-vocabulary model stored small, expanded on first use.

A model trained with ``--restrict-vocab`` knows a few thousand of o200k_harmony's 201,088
ids. Its *compact* form (written on the training side by
:func:`gptoss_agent.agent.finetune.pack.pack`) is a ``GptOssForCausalLM`` whose embedding
and output rows are only those ids, plus ``restricted_vocab.json`` (the real id of each
row), :data:`FULL_META` (the real vocabulary's pad and stop ids) and :data:`PROVENANCE`
(how it was made): a few MB that fit in a repository.

:func:`materialize` expands a compact folder once into a standard ``save_pretrained``
checkpoint with the real vocabulary under the per-user cache
(``$XDG_CACHE_HOME/gptoss-agent/compact-<hash>``), keyed by the compact files' hash, and
returns that folder; any gpt-oss runtime loads it. The transformers backend does this by
itself when it is given a compact folder. transformers is imported only while expanding.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from gptoss_agent.agent.backends.transformers.progress import progress_bars
from gptoss_agent.agent.backends.transformers.vocab import RestrictedVocab, expand_model

PROVENANCE = "provenance.json"
"""How a compact checkpoint was made (free-form JSON, copied into its expansion)."""
FULL_META = "full_config.json"
"""The real vocabulary's ``pad_token_id`` and ``eos_token_id`` of a compact checkpoint."""


def is_compact(folder: Path) -> bool:
    """Whether ``folder`` holds a compact checkpoint."""
    return (folder / FULL_META).is_file() and (folder / "config.json").is_file() \
        and RestrictedVocab.load(folder) is not None


def digest(folder: Path) -> str:
    """A short hash of the files directly in ``folder`` (names and contents)."""
    hasher = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file():
            hasher.update(path.name.encode())
            hasher.update(path.read_bytes())
    return hasher.hexdigest()[:16]


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/gptoss-agent`` (``~/.cache/gptoss-agent``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gptoss-agent"


def expand(compact: Path, target: Path, *, show_progress: bool = False) -> Path:
    """Write the full checkpoint of the compact model in ``compact`` to ``target``.

    The checkpoint is written to a temporary folder beside ``target`` and renamed into
    place; if another process got there first, its (identical) result is kept.

    Args:
        compact: The compact checkpoint folder.
        target: Where the full checkpoint goes.
        show_progress: Let transformers draw its loading and saving progress bars.

    Returns:
        ``target``.

    Raises:
        ValueError: ``compact`` has no restricted vocabulary.
        OSError: A file cannot be read or written.
    """
    from transformers import AutoModelForCausalLM

    vocab = RestrictedVocab.load(compact)
    if vocab is None:
        raise ValueError(f"{compact} is not a compact model (no restricted_vocab.json)")
    meta = json.loads((compact / FULL_META).read_text())
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    try:
        with progress_bars(show_progress):
            small = AutoModelForCausalLM.from_pretrained(compact, local_files_only=True)
            full = expand_model(small, vocab, pad_token_id=meta["pad_token_id"],
                                eos_token_id=meta["eos_token_id"])
            full.save_pretrained(partial)
        vocab.save(partial)
        if (compact / PROVENANCE).exists():
            shutil.copy(compact / PROVENANCE, partial / PROVENANCE)
        _move_into_place(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _move_into_place(partial: Path, target: Path) -> None:
    """Rename ``partial`` to ``target``.

    A complete ``target`` that another process wrote first is kept instead.
    """
    if target.exists() and not (target / "config.json").exists():
        shutil.rmtree(target)  # the remains of an interrupted expansion
    try:
        partial.rename(target)
    except OSError:
        if not (target / "config.json").exists():
            raise


def materialize(compact: Path, *, show_progress: bool = False) -> Path:
    """The expanded checkpoint folder of the compact model in ``compact``.

    It is expanded into the cache the first time, keyed by the compact files' hash, so
    every path to the same files shares one expansion.

    Args:
        compact: The compact checkpoint folder.
        show_progress: Let transformers draw its progress bars while expanding.
    """
    target = cache_root() / f"compact-{digest(compact)}"
    if (target / "config.json").exists():
        return target
    return expand(compact, target, show_progress=show_progress)

"""Compact checkpoints: a restricted-vocabulary model stored small, expanded on first use.

A model trained with ``--restrict-vocab`` knows a few thousand of o200k_harmony's 201,088
ids. Its *compact* form (:func:`pack`) is a ``GptOssForCausalLM`` whose embedding and
output rows are only those ids, plus ``restricted_vocab.json`` (the real id of each row),
``full_config.json`` (the real vocabulary's pad and stop ids) and ``provenance.json`` (how
it was made): a few MB that fit in a repository.

:func:`materialize` expands a compact folder once into a standard ``save_pretrained``
checkpoint with the real vocabulary under the per-user cache
(``$XDG_CACHE_HOME/gptoss-agent/compact-<hash>``), keyed by the compact files' hash, and
returns that folder; any gpt-oss runtime loads it. The transformers backend
does this by itself when it is given a compact folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gptoss_agent.agent.finetune.vocab import RestrictedVocab, expand_model

PROVENANCE = "provenance.json"
FULL_META = "full_config.json"


def is_compact(folder: Path) -> bool:
    """Whether ``folder`` holds a compact checkpoint (written by :func:`pack`)."""
    return (folder / FULL_META).is_file() and (folder / "config.json").is_file() \
        and RestrictedVocab.load(folder) is not None


def pack(checkpoint: Path, target: Path, provenance: dict[str, Any]) -> Path:
    """Write the compact form of the restricted-vocabulary checkpoint ``checkpoint`` to
    ``target``, replacing what is there only once the new form is complete.

    Raises:
        ValueError: ``checkpoint`` was not trained with a restricted vocabulary.
    """
    from transformers import AutoModelForCausalLM

    from gptoss_agent.agent.finetune.vocab import compact_model

    vocab = RestrictedVocab.load(checkpoint)
    if vocab is None:
        raise ValueError(f"{checkpoint} has no restricted vocabulary to pack")
    full = AutoModelForCausalLM.from_pretrained(checkpoint, local_files_only=True)
    small = compact_model(full, vocab)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        small.save_pretrained(partial)
        vocab.save(partial)
        (partial / FULL_META).write_text(json.dumps({
            "pad_token_id": full.config.pad_token_id,
            "eos_token_id": full.config.eos_token_id}))
        (partial / PROVENANCE).write_text(json.dumps(provenance, indent=2))
        _swap_in(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _swap_in(folder: Path, target: Path) -> None:
    """Put ``folder`` at ``target``; an old ``target`` is removed only after the move."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    try:
        folder.rename(target)
    except OSError:
        if old.exists():
            old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


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


def expand(compact: Path, target: Path) -> Path:
    """Write the full checkpoint of the compact model in ``compact`` to ``target``.

    The checkpoint is written to a temporary folder beside ``target`` and renamed into
    place; if another process got there first, its (identical) result is kept."""
    from transformers import AutoModelForCausalLM

    vocab = RestrictedVocab.load(compact)
    if vocab is None:
        raise ValueError(f"{compact} is not a compact model (no restricted_vocab.json)")
    meta = json.loads((compact / FULL_META).read_text())
    small = AutoModelForCausalLM.from_pretrained(compact, local_files_only=True)
    full = expand_model(small, vocab, pad_token_id=meta["pad_token_id"],
                        eos_token_id=meta["eos_token_id"])
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    try:
        full.save_pretrained(partial)
        vocab.save(partial)
        if (compact / PROVENANCE).exists():
            shutil.copy(compact / PROVENANCE, partial / PROVENANCE)
        if target.exists() and not (target / "config.json").exists():
            shutil.rmtree(target)  # the remains of an interrupted expansion
        try:
            partial.rename(target)
        except OSError:
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def materialize(compact: Path) -> Path:
    """The expanded checkpoint folder of the compact model in ``compact`` (expanded into
    the cache the first time; keyed by the compact files' hash, so every path to the same
    files shares one expansion)."""
    target = cache_root() / f"compact-{digest(compact)}"
    if (target / "config.json").exists():
        return target
    return expand(compact, target)

"""Writing compact checkpoints: a restricted-vocabulary model stored with its rows only.

:func:`pack` is the training side of
:mod:`gptoss_agent.agent.backends.transformers.compact`, which reads and expands what it
writes (the backend loads a compact folder like any checkpoint).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gptoss_agent.agent.backends.transformers.compact import FULL_META, PROVENANCE
from gptoss_agent.agent.backends.transformers.progress import progress_bars
from gptoss_agent.agent.backends.transformers.vocab import RestrictedVocab
from gptoss_agent.agent.finetune.vocab import compact_model


def pack(checkpoint: Path, target: Path, provenance: dict[str, Any], *,
         show_progress: bool = False) -> Path:
    """Write the compact form of a restricted-vocabulary checkpoint.

    What is at ``target`` is replaced only once the new form is complete.

    Args:
        checkpoint: A full checkpoint written by ``finetune --restrict-vocab``.
        target: The compact folder to write.
        provenance: How the model was made (written as ``provenance.json``).
        show_progress: Let transformers draw its loading and saving progress bars.

    Returns:
        ``target``.

    Raises:
        ValueError: ``checkpoint`` was not trained with a restricted vocabulary.
    """
    from transformers import AutoModelForCausalLM

    vocab = RestrictedVocab.load(checkpoint)
    if vocab is None:
        raise ValueError(f"{checkpoint} has no restricted vocabulary to pack")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        with progress_bars(show_progress):
            full = AutoModelForCausalLM.from_pretrained(checkpoint, local_files_only=True)
            compact_model(full, vocab).save_pretrained(partial)
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

"""The shipped tiny model: a compact file in the repository, expanded on first use.

The repository holds ``examples/tiny_model/model/``: the *compact* model (a
``GptOssForCausalLM`` whose vocabulary is only the few thousand ids the corpus uses,
a few MB of safetensors), ``restricted_vocab.json`` (which real id each row stands for)
and ``provenance.json`` (seed, steps, training time). :func:`tiny_model_path` expands it
once into a standard ``save_pretrained`` checkpoint with the real 201088-token vocabulary
under the per-user cache (``$XDG_CACHE_HOME/gptoss-agent/tiny-model-<hash>``) and
returns that folder, which the transformers backend loads like any gpt-oss checkpoint.
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

SHIPPED = Path(__file__).resolve().parent / "model"
PROVENANCE = "provenance.json"
_FULL_META = "full_config.json"


def pack(checkpoint: Path, target: Path, provenance: dict[str, Any]) -> Path:
    """Write the compact form of a restricted-vocabulary checkpoint ``checkpoint``.

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
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    small.save_pretrained(target)
    vocab.save(target)
    (target / _FULL_META).write_text(json.dumps({
        "pad_token_id": full.config.pad_token_id, "eos_token_id": full.config.eos_token_id}))
    (target / PROVENANCE).write_text(json.dumps(provenance, indent=2))
    return target


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/gptoss-agent`` (``~/.cache/gptoss-agent``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gptoss-agent"


def expand(compact: Path, target: Path) -> Path:
    """Write the full checkpoint of the compact model in ``compact`` to ``target``."""
    from transformers import AutoModelForCausalLM

    vocab = RestrictedVocab.load(compact)
    if vocab is None:
        raise ValueError(f"{compact} is not a compact model (no restricted_vocab.json)")
    meta = json.loads((compact / _FULL_META).read_text())
    small = AutoModelForCausalLM.from_pretrained(compact, local_files_only=True)
    full = expand_model(small, vocab, pad_token_id=meta["pad_token_id"],
                        eos_token_id=meta["eos_token_id"])
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
    full.save_pretrained(partial)
    vocab.save(partial)
    shutil.copy(compact / PROVENANCE, partial / PROVENANCE)
    if target.exists():
        shutil.rmtree(partial)
    else:
        partial.rename(target)
    return target


def tiny_model_path(compact: Path = SHIPPED) -> Path:
    """The expanded checkpoint folder of the shipped model (expanded on first use).

    Raises:
        FileNotFoundError: The compact model is not in the repository.
    """
    if not (compact / "config.json").exists():
        raise FileNotFoundError(f"the tiny model is not shipped at {compact}; train it with "
                                "python -m examples.tiny_model.train")
    target = cache_root() / f"tiny-model-{_digest(compact)}"
    if (target / "config.json").exists():
        return target
    return expand(compact, target)

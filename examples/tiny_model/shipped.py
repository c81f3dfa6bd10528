"""The shipped tiny model: a compact checkpoint in the repository, expanded on first use.

The repository holds ``examples/tiny_model/model/``, the *compact* form of the model
(:mod:`gptoss_agent.agent.backends.transformers.compact`: only the few thousand ids the
corpus uses, a few MB of safetensors, with ``restricted_vocab.json`` and
``provenance.json``).
:func:`tiny_model_path` expands it once into a standard checkpoint with the real
201088-token vocabulary under the per-user cache and returns that folder. The
transformers backend and task files also accept the compact folder itself.
"""

from __future__ import annotations

from pathlib import Path

from gptoss_agent.agent.backends.transformers.compact import PROVENANCE, materialize
from gptoss_agent.agent.finetune.pack import pack

SHIPPED = Path(__file__).resolve().parent / "model"

__all__ = ["PROVENANCE", "SHIPPED", "checkpoint_path", "pack", "tiny_model_path"]


def tiny_model_path(compact: Path = SHIPPED) -> Path:
    """The expanded checkpoint folder of the shipped model (expanded on first use).

    Raises:
        FileNotFoundError: The compact model is not in the repository.
    """
    if not (compact / "config.json").exists():
        raise FileNotFoundError(f"the tiny model is not shipped at {compact}; train it with "
                                "python -m examples.tiny_model.train")
    return materialize(compact)


def checkpoint_path(folder: Path) -> Path:
    """A standard checkpoint for ``folder``: a compact one expanded, a full one as it is."""
    return tiny_model_path(folder) if (folder / "full_config.json").exists() else folder

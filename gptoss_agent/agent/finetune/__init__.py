"""Fine-tuning gpt-oss-architecture models on Harmony transcripts (``gptoss-agent finetune``).

Modules, one job each:

* :mod:`.errors`: the package's error hierarchy (rooted at :class:`FinetuneError`);
* :mod:`.data`: loading training examples (``export`` JSONL, or JSONL conversations);
* :mod:`.conversations`: rendering a conversation to ``(tokens, mask)`` with the codec;
* :mod:`.config`: :class:`FinetuneConfig`;
* :mod:`.batching`: padding examples into tensors, the resumable data order;
* :mod:`.loss`: cross-entropy on assistant tokens only;
* :mod:`.vocab`: the compact model of a restricted vocabulary (reading and expanding one
  is the backend's: :mod:`gptoss_agent.agent.backends.transformers.vocab`);
* :mod:`.model`: loading, compacting, LoRA, and saving the trained model;
* :mod:`.evaluate`: held-out figures;
* :mod:`.state`: resumable checkpoints (weights, optimizer, step, RNG);
* :mod:`.progress`: the progress bar;
* :mod:`.trainer`: :func:`finetune`, the training loop, and its :class:`FinetuneReport`;
* :mod:`.pack`: writing compact checkpoints.

torch, transformers and peft are imported lazily inside the modules that use them;
:func:`finetune` and :class:`FinetuneReport` are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gptoss_agent.agent.finetune.config import FinetuneConfig
from gptoss_agent.agent.finetune.data import TrainingExample, load_examples, split_heldout
from gptoss_agent.agent.finetune.errors import DataError, FinetuneError

if TYPE_CHECKING:
    from gptoss_agent.agent.finetune.trainer import FinetuneReport, finetune

_LAZY = {
    "FinetuneReport": "gptoss_agent.agent.finetune.trainer",
    "finetune": "gptoss_agent.agent.finetune.trainer",
}

__all__ = [
    "DataError",
    "FinetuneConfig",
    "FinetuneError",
    "FinetuneReport",
    "TrainingExample",
    "finetune",
    "load_examples",
    "split_heldout",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

"""Fine-tuning gpt-oss-architecture models on Harmony transcripts (``gptoss-agent finetune``).

Modules, one job each:

* :mod:`.errors`: the package's error hierarchy;
* :mod:`.data`: loading training examples (``export`` JSONL, or JSONL conversations);
* :mod:`.conversations`: rendering a conversation to ``(tokens, mask)`` with the codec;
* :mod:`.vocab`: the restricted vocabulary (compact model <-> full checkpoint);
* :mod:`.config`: :class:`FinetuneConfig`;
* :mod:`.batching`: padding examples into tensors, the resumable data order;
* :mod:`.loss`: cross-entropy on assistant tokens only;
* :mod:`.state`: resumable checkpoints (weights, optimizer, step, RNG);
* :mod:`.trainer`: the training loop with progress bar and held-out evaluation.

torch, transformers and peft are imported lazily inside the modules that use them.
"""

from __future__ import annotations

from gptoss_agent.agent.finetune.config import FinetuneConfig
from gptoss_agent.agent.finetune.data import TrainingExample, load_examples, split_heldout
from gptoss_agent.agent.finetune.errors import DataError, FinetuneError

__all__ = [
    "DataError",
    "FinetuneConfig",
    "FinetuneError",
    "TrainingExample",
    "load_examples",
    "split_heldout",
]

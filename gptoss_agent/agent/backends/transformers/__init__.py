"""The in-process backend: a gpt-oss checkpoint run with transformers and torch.

Modules, one job each:

* :mod:`.config`: :class:`TransformersBackendConfig` (no torch needed to build one);
* :mod:`.loading`: imports, device and dtype, compact folders, ``from_pretrained``;
* :mod:`.progress`: transformers' progress bars, hidden while loading unless asked for;
* :mod:`.backend`: :class:`TransformersBackend`, its sessions and the worker thread;
* :mod:`.runner`: the model's forward passes and sampling (what runs on that thread);
* :mod:`.sampling`: greedy, temperature and top-p draws;
* :mod:`.prefix_cache`: per-session KV-cache bookkeeping (longest common prefix reuse);
* :mod:`.growable_cache`: a KV cache that appends in place;
* :mod:`.sink_attention`: gpt-oss attention without copying the cache;
* :mod:`.ragged_batch` and :mod:`.decode_batcher`: decode steps of concurrent sessions
  in one forward pass;
* :mod:`.grammar` and :mod:`.constrained`: decoding constraints (the Harmony grammar of
  one; llguidance's tokenizer, per-generation matchers and token masks);
* :mod:`.compact_head`: logits over a restricted vocabulary only;
* :mod:`.vocab` and :mod:`.compact`: restricted vocabularies and compact checkpoints
  (reading and expanding; writing them is training's, in ``finetune.pack``);
* :mod:`.tiny`: a tiny random checkpoint and a Harmony tokenizer for tests;
  :mod:`.constraint_kit`: random schemas and a completion checker for constraint tests.

Importing this package imports neither torch nor transformers; the names below are
loaded on first use, and the modules that need torch import it when used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gptoss_agent.agent.backends.transformers.backend import TransformersBackend
    from gptoss_agent.agent.backends.transformers.config import TransformersBackendConfig
    from gptoss_agent.agent.backends.transformers.runner import BackendCounters

_LAZY = {
    "BackendCounters": "gptoss_agent.agent.backends.transformers.runner",
    "TransformersBackend": "gptoss_agent.agent.backends.transformers.backend",
    "TransformersBackendConfig": "gptoss_agent.agent.backends.transformers.config",
}

__all__ = ["BackendCounters", "TransformersBackend", "TransformersBackendConfig"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

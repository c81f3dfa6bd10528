"""Loading a checkpoint for the in-process backend: imports, device, dtype, compact folders.

:func:`load_model` turns a backend config
(:mod:`~gptoss_agent.agent.backends.transformers.config`) into a loaded causal LM in eval
mode and the restricted vocabulary the checkpoint declares (if any). It

1. imports torch and transformers, or raises
   :class:`~gptoss_agent.agent.backends.errors.BackendUnavailableError` naming the extra
   that installs them;
2. resolves ``device="auto"`` and builds ``from_pretrained``'s keywords (dtype, MXFP4,
   attention implementation, device map, offline);
3. expands a compact checkpoint (:mod:`~gptoss_agent.agent.backends.transformers.compact`)
   into the user cache;
4. loads the model, with transformers' progress bars hidden unless the config asks for
   them.

Loads are serialised process-wide (see :data:`_LOADING`). Every failure of the checkpoint
itself becomes a :class:`~gptoss_agent.agent.backends.errors.ModelLoadError`.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gptoss_agent.agent.backends.errors import BackendUnavailableError, ModelLoadError
from gptoss_agent.agent.backends.transformers.config import TransformersBackendConfig
from gptoss_agent.agent.backends.transformers.progress import progress_bars
from gptoss_agent.agent.backends.transformers.vocab import allowed_ids

_LOADING = threading.Lock()
"""Held while transformers loads a model: it sets torch's process-wide default dtype for
the duration, so two loads at once (say, a batch's float32 and bfloat16 models) would
build parts of one model in the other's dtype."""


@dataclass(frozen=True)
class LoadedModel:
    """A checkpoint loaded for inference.

    Attributes:
        model: The transformers causal LM, in eval mode, on its device.
        allowed_ids: The ids of its restricted vocabulary, or ``None`` for all.
    """

    model: Any
    allowed_ids: tuple[int, ...] | None


def require(module: str) -> Any:
    """``import module``, or a clear error naming the extra that installs it.

    Raises:
        BackendUnavailableError: The module is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise BackendUnavailableError(
            f"the transformers backend needs torch and transformers ({module} is missing): "
            "pip install 'gptoss-agent[transformers]'"
        ) from error


def import_torch() -> Any:
    """The ``torch`` module (see :func:`require`)."""
    return require("torch")


def resolve_device(device: str) -> str:
    """Turn ``"auto"`` into ``"cuda"``, ``"mps"`` or ``"cpu"``; pass others through."""
    if device != "auto":
        return device
    torch = import_torch()
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def checkpoint_folder(model: str, *, show_progress: bool = False) -> str:
    """``model``, or for a compact checkpoint the full checkpoint it expands to.

    Raises:
        ModelLoadError: The compact checkpoint cannot be expanded.
    """
    from gptoss_agent.agent.backends.transformers.compact import is_compact, materialize

    folder = Path(model)
    try:
        if not folder.is_dir() or not is_compact(folder):
            return model
        return str(materialize(folder, show_progress=show_progress))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(f"could not expand the compact checkpoint {model}: {error}") \
            from error


def pretrained_kwargs(config: TransformersBackendConfig, device: str) -> dict[str, Any]:
    """The keywords of ``from_pretrained`` for ``config`` on ``device``.

    Raises:
        ModelLoadError: MXFP4 dequantization was asked of a transformers without it.
    """
    torch = import_torch()
    transformers = require("transformers")
    kwargs: dict[str, Any] = {"local_files_only": config.local_files_only}
    dtype: Any = "auto" if config.dtype == "auto" else getattr(torch, config.dtype)
    version = tuple(int(part) for part in transformers.__version__.split(".")[:2])
    kwargs["dtype" if version >= (4, 56) else "torch_dtype"] = dtype
    if config.attn_implementation is not None:
        kwargs["attn_implementation"] = config.attn_implementation
    if config.dequantize_mxfp4:
        mxfp4_config: Any = getattr(transformers, "Mxfp4Config", None)
        if mxfp4_config is None:
            raise ModelLoadError(f"transformers {transformers.__version__} has no MXFP4 support")
        kwargs["quantization_config"] = mxfp4_config(dequantize=True)
    if device != "cpu":
        kwargs["device_map"] = device
    return kwargs


def load_model(config: TransformersBackendConfig) -> LoadedModel:
    """Load ``config.model`` for inference (blocking; seconds to minutes).

    Raises:
        BackendUnavailableError: torch or transformers is not installed.
        ModelLoadError: The checkpoint could not be loaded.
    """
    if Path(config.model).is_absolute() and not Path(config.model).exists():
        raise ModelLoadError(f"no checkpoint folder at {config.model}")
    torch = import_torch()
    auto_model = require("transformers").AutoModelForCausalLM
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    device = resolve_device(config.device)
    kwargs = pretrained_kwargs(config, device)
    # Expanding a compact checkpoint builds a model too: both under the lock.
    with _LOADING, progress_bars(config.show_progress):
        path = checkpoint_folder(config.model, show_progress=config.show_progress)
        try:
            model = auto_model.from_pretrained(path, **kwargs)
        except Exception as error:  # torch and transformers raise many kinds
            raise ModelLoadError(
                f"could not load {config.model!r} on {device}: "
                f"{error or type(error).__name__}") from error
    if device == "cpu":
        model = model.to("cpu")
    model.eval()
    ids = allowed_ids(path)
    return LoadedModel(model=model, allowed_ids=tuple(ids) if ids is not None else None)

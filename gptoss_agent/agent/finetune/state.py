"""Resumable checkpoints: trainable weights, optimizer, step, RNG states, in one folder.

A checkpoint is ``<output>/checkpoints/step-NNNNNNN/`` holding ``weights.pt`` (the
trainable tensors: the whole model for full fine-tuning, the adapter for LoRA),
``optimizer.pt``, ``rng.pt`` and ``state.json`` (step, settings fingerprint, recent
losses). It is written to a temporary folder and renamed into place, so a crash never
leaves a half-written checkpoint that looks complete. The newest ones are kept.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gptoss_agent.agent.finetune.errors import FinetuneError

_PREFIX = "step-"


@dataclass(frozen=True)
class ResumePoint:
    """What a checkpoint restores.

    Attributes:
        step: Optimizer steps already taken.
        folder: The checkpoint folder.
        losses: Training losses logged so far (one per step).
        seconds: Training wall time spent so far, over all runs.
    """

    step: int
    folder: Path
    losses: tuple[float, ...]
    seconds: float = 0.0


def checkpoint_root(output: Path) -> Path:
    """``<output>/checkpoints``."""
    return output / "checkpoints"


def latest_checkpoint(output: Path) -> Path | None:
    """The newest complete checkpoint folder, if any."""
    root = checkpoint_root(output)
    if not root.is_dir():
        return None
    found = sorted(p for p in root.iterdir()
                   if p.name.startswith(_PREFIX) and (p / "state.json").exists())
    return found[-1] if found else None


def trainable_state(model: Any) -> dict[str, Any]:
    """The tensors that training changes, by name."""
    return {name: param.detach().clone() for name, param in model.named_parameters()
            if param.requires_grad}


def save_checkpoint(output: Path, step: int, model: Any, optimizer: Any,
                    fingerprint: dict[str, Any], losses: list[float], keep: int,
                    seconds: float = 0.0) -> Path:
    """Write a checkpoint atomically and prune old ones; returns its folder."""
    import torch

    root = checkpoint_root(output)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{_PREFIX}{step:07d}"
    partial = root / f".partial-{step:07d}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir()
    torch.save(trainable_state(model), partial / "weights.pt")
    torch.save(optimizer.state_dict(), partial / "optimizer.pt")
    torch.save({"torch": torch.get_rng_state(), "python": random.getstate()},
               partial / "rng.pt")
    (partial / "state.json").write_text(json.dumps(
        {"step": step, "fingerprint": fingerprint, "losses": losses, "seconds": seconds}))
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    for old in sorted(p for p in root.iterdir() if p.name.startswith(_PREFIX))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(folder: Path, model: Any, optimizer: Any,
                    fingerprint: dict[str, Any]) -> ResumePoint:
    """Restore weights, optimizer and RNG from ``folder``.

    Raises:
        FinetuneError: The checkpoint was written with other settings, or is damaged.
    """
    import torch

    try:
        state = json.loads((folder / "state.json").read_text())
    except (OSError, ValueError) as exc:
        raise FinetuneError(f"{folder}: unreadable checkpoint ({exc})") from exc
    if state.get("fingerprint") != fingerprint:
        theirs = state.get("fingerprint") or {}
        changed = sorted(k for k in set(theirs) | set(fingerprint)
                         if theirs.get(k) != fingerprint.get(k))
        raise FinetuneError(
            f"{folder} was written with other settings ({', '.join(changed)}); use a new "
            "output folder or the same settings"
        )
    weights = torch.load(folder / "weights.pt", weights_only=True)
    parameters = dict(model.named_parameters())
    missing = [name for name in weights if name not in parameters]
    if missing:
        raise FinetuneError(f"{folder}: weights for unknown parameters {missing[:3]}")
    with torch.no_grad():
        for name, value in weights.items():
            parameters[name].copy_(value)
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    rng = torch.load(folder / "rng.pt", weights_only=False)
    torch.set_rng_state(rng["torch"])
    random.setstate(rng["python"])
    return ResumePoint(int(state["step"]), folder, tuple(state.get("losses", ())),
                       float(state.get("seconds", 0.0)))

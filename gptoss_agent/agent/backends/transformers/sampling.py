"""Picking the next token from one position's logits (greedy, temperature, top-p)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gptoss_agent.agent.backends.base import SamplingParams

if TYPE_CHECKING:
    import torch


def sample_token(
    logits: torch.Tensor, sampling: SamplingParams, generator: torch.Generator | None
) -> int:
    """Pick the next token from one position's logits.

    Temperature ``0`` is greedy (argmax); otherwise softmax at ``temperature``, restricted
    to the smallest set of tokens whose probability reaches ``top_p``, sampled with
    ``generator``.

    Args:
        logits: One row of logits.
        sampling: The temperature and ``top_p``.
        generator: The random source of the draw (``None``: torch's global one).

    Returns:
        The index of the chosen logit.
    """
    import torch

    if sampling.temperature == 0:
        return int(torch.argmax(logits).item())
    probs = torch.softmax(logits.float() / sampling.temperature, dim=-1)
    if sampling.top_p < 1.0:
        sorted_probs, order = torch.sort(probs, descending=True)
        before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
        sorted_probs = sorted_probs.masked_fill(before >= sampling.top_p, 0.0)
        choice = torch.multinomial(sorted_probs, 1, generator=generator)
        return int(order[choice].item())
    return int(torch.multinomial(probs, 1, generator=generator).item())

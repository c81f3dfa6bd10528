"""A tiny, randomly initialised GptOss checkpoint and a Harmony tokenizer, built offline.

Tests (the project's and users') need a real ``GptOssForCausalLM`` to drive the
transformers backend, the ``serve`` command and llama.cpp's server, but no gpt-oss weights
can be downloaded. This module builds one from ``GptOssConfig`` with the real
o200k_harmony vocabulary size (201088), random weights, and saves it with
``save_pretrained`` so that it is loaded by path like any checkpoint.

``transitions`` optionally *steers* the random model: ``{a: b}`` makes the model follow
token ``a`` with token ``b`` under greedy decoding (a chain ``a -> b -> <|call|>`` makes it
stop on ``<|call|>``). The rest of the network stays random, so outputs still depend on
the whole context, which is what KV-cache tests need.

``end_bias`` raises the logits of the message-ending tokens (``<|end|>``, ``<|return|>``,
``<|call|>``) by about that much at every position: a random model then ends a free-text
message after a handful of tokens instead of writing until its budget runs out, which is
what tests of constrained decoding need (under a grammar, it ends each message soon and
moves on to the next header).

``build_harmony_tokenizer`` writes a Hugging Face fast tokenizer equivalent to
o200k_harmony (the o200k BPE plus the Harmony special tokens at their real ids
199998..201087); llama.cpp's ``convert_hf_to_gguf.py`` needs one next to the weights.

torch, transformers and tokenizers are imported inside the functions that need them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gptoss_agent.agent.backends.transformers.progress import progress_bars

HARMONY_VOCAB_SIZE = 201_088
"""Rows of gpt-oss's embedding matrix: 199998 ordinary tokens plus 1090 special ids."""

FIRST_SPECIAL_ID = 199_998
MESSAGE_ENDS = (200_007, 200_002, 200_012)
"""``<|end|>``, ``<|return|>`` and ``<|call|>``: the tokens that end a message."""

O200K_PATTERN = "|".join(
    [
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
        r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
        r"\p{N}{1,3}",
        r" ?[^\s\p{L}\p{N}]+[\r\n/]*",
        r"\s*[\r\n]+",
        r"\s+(?!\S)",
        r"\s+",
    ]
)
"""The o200k pre-tokenizer split pattern (the pieces that BPE runs inside)."""


@dataclass(frozen=True)
class TinyModelSpec:
    """Shape of a tiny GptOss model. The defaults build in about a second on a CPU.

    Attributes:
        hidden_size: Width of the residual stream.
        num_hidden_layers: Layers; they alternate sliding-window and full attention.
        num_attention_heads: Query heads.
        num_key_value_heads: Key/value heads (grouped-query attention).
        head_dim: Width of one head.
        num_local_experts: Experts per MoE layer.
        num_experts_per_tok: Experts each token is routed to.
        intermediate_size: Expert hidden width.
        sliding_window: Window of the sliding-attention layers (small, so tests cross it).
        max_position_embeddings: Longest sequence.
        extra: Further ``GptOssConfig`` fields.
    """

    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    head_dim: int = 16
    num_local_experts: int = 4
    num_experts_per_tok: int = 2
    intermediate_size: int = 64
    sliding_window: int = 16
    max_position_embeddings: int = 8192
    extra: Mapping[str, Any] = field(default_factory=dict)

    def config_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``GptOssConfig``."""
        return {
            "vocab_size": HARMONY_VOCAB_SIZE,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "num_local_experts": self.num_local_experts,
            "num_experts_per_tok": self.num_experts_per_tok,
            "intermediate_size": self.intermediate_size,
            "sliding_window": self.sliding_window,
            "max_position_embeddings": self.max_position_embeddings,
            "rope_parameters": {"rope_type": "default", "rope_theta": 150000.0},
            "eos_token_id": [200002, 200012],
            "pad_token_id": 199999,
            "tie_word_embeddings": False,
            **dict(self.extra),
        }


def build_tiny_model(
    folder: str | Path,
    *,
    spec: TinyModelSpec | None = None,
    seed: int = 0,
    transitions: Mapping[int, int] | None = None,
    end_bias: float = 0.0,
    show_progress: bool = False,
) -> Path:
    """Build a random tiny ``GptOssForCausalLM`` and ``save_pretrained`` it to ``folder``.

    Args:
        folder: Where to write ``config.json`` and the safetensors weights (created).
        spec: Model shape; :class:`TinyModelSpec` defaults when ``None``.
        seed: Seed of the random weights; equal seeds give equal models.
        transitions: Optional ``{token: next_token}`` pairs the greedy model will follow.
        end_bias: Added to the logits of :data:`MESSAGE_ENDS` at every position (about;
            ``0``: none).
        show_progress: Let transformers draw its "Writing model shards" progress bar.

    Returns:
        The folder, to pass to ``from_pretrained`` or a backend.
    """
    import torch
    from transformers import GptOssConfig, GptOssForCausalLM

    spec = spec or TinyModelSpec()
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    config = GptOssConfig(**spec.config_kwargs())
    model = GptOssForCausalLM(config).eval()
    if transitions:
        _steer(model, transitions, seed=seed)
    if end_bias:
        _bias_ends(model, end_bias, seed=seed)
    with progress_bars(show_progress):
        model.save_pretrained(target)
    return target


def _steer(model: Any, transitions: Mapping[int, int], *, seed: int) -> None:
    """Make greedy decoding follow ``transitions`` by writing embedding and head rows.

    Each source token gets a large random direction as its embedding, which dominates the
    residual stream; each target's output row points along its sources' directions.
    """
    import torch

    generator = torch.Generator().manual_seed(seed + 1)
    embed = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    width = embed.shape[1]
    with torch.no_grad():
        directions: dict[int, torch.Tensor] = {}
        for source in transitions:
            direction = torch.randn(width, generator=generator)
            directions[source] = direction / direction.norm()
            embed[source] = directions[source] * 4.0
        for target in set(transitions.values()):
            head[target] = (
                sum(
                    (directions[s] for s, t in transitions.items() if t == target),
                    start=torch.zeros(width),
                )
                * 8.0
            )


def _bias_ends(model: Any, bias: float, *, seed: int) -> None:
    """Raise the logits of :data:`MESSAGE_ENDS` by about ``bias`` everywhere.

    Every embedding row gets one shared direction, large next to the random rows, so the
    final norm's output points mostly along it (norm about ``sqrt(width)``); the
    message-ending rows of the output layer point along it too.
    """
    import torch

    generator = torch.Generator().manual_seed(seed + 2)
    embed = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    width = embed.shape[1]
    direction = torch.randn(width, generator=generator)
    direction = direction / direction.norm()
    with torch.no_grad():
        embed += direction * 2.0
        for token in MESSAGE_ENDS:
            head[token] += direction * (bias / width**0.5)


def _bytes_to_unicode() -> dict[int, str]:
    """The GPT-2 byte-level alphabet: every byte as a printable character."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    mapping = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in mapping:
            mapping[byte] = chr(256 + extra)
            extra += 1
    return mapping


def build_harmony_tokenizer(folder: str | Path) -> Path:
    """Write a Hugging Face fast tokenizer equivalent to o200k_harmony into ``folder``.

    The BPE vocabulary and merges come from the offline o200k vocabulary; every Harmony
    special token sits at its real id. Takes a few seconds.

    Returns:
        The folder.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from gptoss_agent.agent.harmony.codec import load_codec

    codec = load_codec()
    alphabet = _bytes_to_unicode()

    def spell(raw: bytes) -> str:
        return "".join(alphabet[byte] for byte in raw)

    ranks = {codec.token_bytes(rank): rank for rank in range(codec.vocab_size)}
    vocab = {spell(raw): rank for raw, rank in ranks.items()}
    merges: list[tuple[int, int, int, str, str]] = []
    for raw, rank in ranks.items():
        for cut in range(1, len(raw)):
            left, right = ranks.get(raw[:cut]), ranks.get(raw[cut:])
            if left is not None and right is not None:
                merges.append((rank, left, right, spell(raw[:cut]), spell(raw[cut:])))
    merges.sort()
    bpe = models.BPE(
        vocab=vocab, merges=[(a, b) for *_, a, b in merges], fuse_unk=False, byte_fallback=False
    )
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(O200K_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    names = sorted(
        (codec.encode_with_special(name)[0], name) for name in codec.encoding.special_tokens_set
    )
    tokenizer.add_special_tokens(
        [
            AddedToken(name, special=True, normalized=False)
            for token_id, name in names
            if token_id < HARMONY_VOCAB_SIZE
        ]
    )
    for token_id, name in names:
        if token_id < HARMONY_VOCAB_SIZE and tokenizer.token_to_id(name) != token_id:
            raise RuntimeError(f"{name} landed at {tokenizer.token_to_id(name)}, not {token_id}")
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<|startoftext|>",
        eos_token="<|return|>",
        pad_token="<|endoftext|>",
    )
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(target)
    _write_generation_config(target)
    return target


def _write_generation_config(folder: Path) -> None:
    path = folder / "generation_config.json"
    if not path.exists():
        path.write_text(json.dumps({"eos_token_id": [200002, 200012], "pad_token_id": 199999}))

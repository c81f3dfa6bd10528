"""Constrained sampling with llguidance: one matcher per generation, its mask on the logits.

A generation whose request carries a
:class:`~gptoss_agent.agent.backends.constraint.DecodingConstraint` gets a
:class:`TokenGuide`: an llguidance matcher of the constraint's Harmony grammar
(:func:`~gptoss_agent.agent.backends.transformers.grammar.harmony_grammar`), advanced by
every token the generation samples. Before each draw the guide's next-token mask sets the
logits of forbidden tokens to ``-inf``.

* The tokenizer llguidance needs is o200k_harmony, built once per process
  (:func:`harmony_tokenizer`, about a second): the offline o200k ranks of the Harmony
  codec, the o200k split pattern and every Harmony special token at its real id, with
  ``<|endoftext|>`` as llguidance's end token (the grammar names its own terminators,
  ``<|call|>`` and ``<|return|>``, so that end token is never allowed before them).
* Grammars are compiled once (a bounded cache keyed by the grammar's text); each
  generation starts from a copy of the compiled matcher.
* A mask is computed right after the forward pass is issued and before its logits are
  read: on a GPU that overlaps the kernels still running; on a CPU it is a few tens of
  microseconds after a step of milliseconds. (A helper thread that computes it *during*
  a CPU forward pass was measured slower: handing work to a thread and back costs about
  100 µs, more than a typical mask.) The mask is turned into one boolean per logit of
  the model's output layer (:class:`MaskLayout`): the full vocabulary, or a compact
  head's few thousand ids (a restricted-vocabulary checkpoint computes logits over its
  own ids only). A point where the grammar allows none of the model's tokens raises
  :class:`~gptoss_agent.agent.backends.transformers.grammar.ConstraintError` for that
  generation alone.

llguidance, numpy and torch are imported when first used.
"""

from __future__ import annotations

import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from gptoss_agent.agent.backends.constraint import DecodingConstraint
from gptoss_agent.agent.backends.transformers.grammar import ConstraintError, harmony_grammar
from gptoss_agent.agent.backends.transformers.tiny import HARMONY_VOCAB_SIZE, O200K_PATTERN

MASK_WORDS = (HARMONY_VOCAB_SIZE + 31) // 32
"""32-bit words of one llguidance token mask over o200k_harmony."""
TEMPLATES_KEPT = 64
"""Compiled grammars kept (least recently used dropped)."""

_LOCK = threading.Lock()
_TOKENIZER: list[Any] = []
_TEMPLATES: OrderedDict[str, Any] = OrderedDict()


def grammar_engine_available() -> bool:
    """Whether llguidance is installed (constrained decoding needs it)."""
    return importlib.util.find_spec("llguidance") is not None


def harmony_tokenizer() -> Any:
    """The process's ``llguidance.LLTokenizer`` of o200k_harmony (built on first use)."""
    with _LOCK:
        if not _TOKENIZER:
            _TOKENIZER.append(_build_tokenizer())
        return _TOKENIZER[0]


def _build_tokenizer() -> Any:
    import llguidance

    from gptoss_agent.agent.harmony.codec import load_codec

    codec = load_codec()
    ranks = {codec.token_bytes(rank): rank for rank in range(codec.vocab_size)}
    specials = {name: codec.encode_with_special(name)[0]
                for name in codec.encoding.special_tokens_set}
    return llguidance.LLTokenizer.from_tiktoken(  # type: ignore[attr-defined]
        encoder=ranks,
        special_tokens={name: i for name, i in specials.items() if i < HARMONY_VOCAB_SIZE},
        pattern=O200K_PATTERN,
        eos_token=codec.special.endoftext,
        n_vocab=HARMONY_VOCAB_SIZE,
    )


def _template(grammar: str) -> Any:
    """The compiled matcher of ``grammar`` (compiled once, then kept).

    Raises:
        ConstraintError: llguidance rejects the grammar.
    """
    import llguidance

    with _LOCK:
        cached = _TEMPLATES.get(grammar)
        if cached is not None:
            _TEMPLATES.move_to_end(grammar)
            return cached
    tokenizer = harmony_tokenizer()
    matcher = llguidance.LLMatcher(tokenizer, llguidance.LLMatcher.grammar_from_lark(grammar),
                                   log_level=0)
    if matcher.is_error():
        raise ConstraintError(f"the decoding constraint's grammar is invalid: "
                              f"{matcher.get_error()}")
    with _LOCK:
        _TEMPLATES[grammar] = matcher
        while len(_TEMPLATES) > TEMPLATES_KEPT:
            _TEMPLATES.popitem(last=False)
    return matcher


class MaskLayout:
    """How a token mask lines up with the model's logits.

    Args:
        size: Logits per row.
        token_ids: The real id of each logit (a compact head), or ``None`` when logit
            ``i`` is id ``i``.
        permitted: For full-vocabulary logits of a restricted-vocabulary model, a numpy
            boolean row of the ids it may sample; else ``None``.
    """

    def __init__(self, size: int, token_ids: Sequence[int] | None = None,
                 permitted: Any = None) -> None:
        import numpy

        self.size = size
        self.permitted = permitted
        ids = None if token_ids is None else numpy.asarray(token_ids, dtype=numpy.int64)
        self._words = None if ids is None else ids >> 5
        self._bits = None if ids is None else (ids & 31).astype(numpy.int32)

    def allowed(self, mask: Any) -> Any:
        """One boolean per logit (a numpy row) from an llguidance ``int32`` mask."""
        import numpy

        if self._words is not None:
            allowed = ((mask[self._words] >> self._bits) & 1).astype(bool)
        else:
            bits = numpy.unpackbits(mask.view(numpy.uint8), bitorder="little")[: self.size]
            if len(bits) < self.size:
                bits = numpy.concatenate([bits, numpy.zeros(self.size - len(bits), numpy.uint8)])
            allowed = bits.view(bool)
        return allowed if self.permitted is None else allowed & self.permitted


class TokenGuide:
    """One generation's place in its constraint's grammar.

    Use :meth:`fill` for the next token's mask, then :meth:`restrict` and :meth:`accept`.
    Build it with :func:`new_guide`.

    Args:
        matcher: A fresh ``llguidance.LLMatcher`` of the generation's grammar.
    """

    def __init__(self, matcher: Any) -> None:
        import numpy

        self._matcher = matcher
        self._mask = numpy.zeros(MASK_WORDS, dtype=numpy.int32)
        self._allowed: Any = None
        self._failure: Exception | None = None
        self.tokens = 0
        """Tokens accepted so far."""

    def fill(self, layout: MaskLayout) -> None:
        """Compute which of the model's logits the next token may take."""
        try:
            self._matcher.unsafe_compute_mask_ptr(self._mask.ctypes.data, self._mask.nbytes)
            self._allowed = layout.allowed(self._mask)
        except Exception as error:  # kept for this generation's draw
            self._failure = error

    def restrict(self, logits: Any) -> Any:
        """``logits`` (one row) with every token the grammar forbids at ``-inf``.

        Raises:
            ConstraintError: The matcher failed, or no token of the model is allowed.
        """
        import torch

        if self._failure is not None or self._matcher.is_error():
            detail = self._failure or self._matcher.get_error()
            raise ConstraintError(f"the decoding constraint failed after {self.tokens} "
                                  f"tokens: {detail}")
        if not self._allowed.any():
            raise ConstraintError(f"after {self.tokens} tokens the decoding constraint "
                                  "allows no token this model can produce")
        blocked = torch.from_numpy(~self._allowed).to(logits.device, non_blocking=True)
        return logits.masked_fill(blocked, float("-inf"))

    def accept(self, token: int) -> None:
        """Advance past the sampled ``token``.

        Raises:
            ConstraintError: The grammar does not allow ``token`` here.
        """
        if not self._matcher.consume_token(token):
            raise ConstraintError(f"token {token} breaks the decoding constraint after "
                                  f"{self.tokens} tokens: {self._matcher.get_error()}")
        self.tokens += 1


def new_guide(constraint: DecodingConstraint) -> TokenGuide:
    """A guide at the start of ``constraint``'s grammar.

    Blocking: the first call builds the tokenizer, each new grammar is compiled once.

    Raises:
        ConstraintError: The constraint's grammar is invalid.
    """
    return TokenGuide(_template(harmony_grammar(constraint)).deep_copy())

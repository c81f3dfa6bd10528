"""A KV cache whose layers grow in place, so appending a token does not copy the cache.

transformers' ``DynamicLayer`` appends with ``torch.cat``: every decode step copies the
layer's whole key and value history, which at thousands of positions costs more than the
attention itself. :class:`GrowableLayer` keeps keys and values in buffers with spare room
(capacity doubles when full, so a sequence of appends copies each position O(1) times on
average) and hands attention views of the filled part. Cropping (history rewritten) only
shortens the view; the buffer keeps its capacity, so a layer holds up to twice the memory
its positions need.

:func:`growable_cache` builds a cache of such layers. Like the config-less
``DynamicCache`` the backend used before, every layer keeps every position, sliding-window
layers included (the window is applied by the attention mask), so the cache can be cropped
back to any length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers.cache_utils import DynamicLayer as _DynamicLayer
else:
    _DynamicLayer = object

_MIN_CAPACITY = 256


def _regrown(buffer: Any, states: Any, length: int, needed: int) -> Any:
    """A buffer shaped like ``states`` with room for at least ``needed`` positions.

    The first ``length`` positions of ``buffer`` (``None`` before the first one) are
    copied over; capacity at least doubles, so appends copy each position O(1) times.
    """
    import torch

    old = buffer.shape[-2] if buffer is not None else 0
    capacity = max(needed, _MIN_CAPACITY, 2 * old)
    shape = (*states.shape[:-2], capacity, states.shape[-1])
    grown = torch.empty(shape, dtype=states.dtype, device=states.device)
    if length:
        grown[..., :length, :].copy_(buffer[..., :length, :])
    return grown


class _GrowableMethods(_DynamicLayer):
    """What ``GrowableLayer`` changes in transformers' ``DynamicLayer``.

    Mixed in before ``DynamicLayer`` by :func:`_layer_class`, so that this module imports
    transformers only when a cache is first built.
    """

    def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
        super().lazy_initialization(key_states, value_states)
        self._key_buffer: Any = None
        self._value_buffer: Any = None
        self._length = 0

    def _reserve(self, key_states: Any, value_states: Any, needed: int) -> None:
        if self._key_buffer is None or self._key_buffer.shape[-2] < needed:
            self._key_buffer = _regrown(self._key_buffer, key_states, self._length, needed)
            self._value_buffer = _regrown(self._value_buffer, value_states, self._length,
                                          needed)

    def update(self, key_states: Any, value_states: Any, *args: Any,
               **kwargs: Any) -> tuple[Any, Any]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        end = self._length + key_states.shape[-2]
        self._reserve(key_states, value_states, end)
        self._key_buffer[..., self._length : end, :].copy_(key_states)
        self._value_buffer[..., self._length : end, :].copy_(value_states)
        self._length = end
        self.keys = self._key_buffer[..., :end, :]
        self.values = self._value_buffer[..., :end, :]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self._length if self.is_initialized else 0

    def crop(self, tokens_to_remove: int) -> None:
        if tokens_to_remove > 0:
            raise ValueError("crop takes a negative count of tokens to remove")
        if tokens_to_remove == 0 or not self.is_initialized:
            return
        self._length = max(0, self._length + tokens_to_remove)
        self.keys = self._key_buffer[..., : self._length, :]
        self.values = self._value_buffer[..., : self._length, :]

    def reset(self) -> None:
        super().reset()
        self._key_buffer = self._value_buffer = None
        self._length = 0

    def reorder_cache(self, beam_idx: Any) -> None:
        raise NotImplementedError("GrowableLayer holds one sequence (no beam search)")

    def batch_repeat_interleave(self, repeats: int) -> None:
        raise NotImplementedError("GrowableLayer holds one sequence")

    def batch_select_indices(self, indices: Any) -> None:
        raise NotImplementedError("GrowableLayer holds one sequence")


def _layer_class() -> type:
    """The ``GrowableLayer`` class (built on first use: it subclasses transformers')."""
    from transformers.cache_utils import DynamicLayer

    class GrowableLayer(_GrowableMethods, DynamicLayer):
        """A ``DynamicLayer`` that appends into spare capacity instead of concatenating."""

    return GrowableLayer


_GROWABLE: type | None = None


def growable_cache() -> Any:
    """A fresh, empty cache whose layers are :class:`GrowableLayer` (one sequence)."""
    global _GROWABLE
    from transformers.cache_utils import Cache

    if _GROWABLE is None:
        _GROWABLE = _layer_class()
    return Cache(layer_class_to_replicate=_GROWABLE)

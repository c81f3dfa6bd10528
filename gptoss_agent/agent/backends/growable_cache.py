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

from typing import Any

_MIN_CAPACITY = 256


def _layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class GrowableLayer(DynamicLayer):
        """A ``DynamicLayer`` that appends into spare capacity instead of concatenating."""

        def lazy_initialization(self, key_states: Any, value_states: Any) -> None:
            super().lazy_initialization(key_states, value_states)
            self._key_buffer: Any = None
            self._value_buffer: Any = None
            self._length = 0

        def _reserve(self, key_states: Any, value_states: Any, needed: int) -> None:
            import torch

            buffer = self._key_buffer
            if buffer is not None and buffer.shape[-2] >= needed:
                return
            capacity = max(needed, _MIN_CAPACITY,
                           2 * (buffer.shape[-2] if buffer is not None else 0))
            shape_k = (*key_states.shape[:-2], capacity, key_states.shape[-1])
            shape_v = (*value_states.shape[:-2], capacity, value_states.shape[-1])
            new_keys = torch.empty(shape_k, dtype=key_states.dtype, device=key_states.device)
            new_values = torch.empty(shape_v, dtype=value_states.dtype,
                                     device=value_states.device)
            if self._length:
                new_keys[..., : self._length, :].copy_(self._key_buffer[..., : self._length, :])
                new_values[..., : self._length, :].copy_(
                    self._value_buffer[..., : self._length, :])
            self._key_buffer, self._value_buffer = new_keys, new_values

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

    return GrowableLayer


_GROWABLE: type | None = None


def growable_cache() -> Any:
    """A fresh, empty cache whose layers are :class:`GrowableLayer` (one sequence)."""
    global _GROWABLE
    from transformers.cache_utils import Cache

    if _GROWABLE is None:
        _GROWABLE = _layer_class()
    return Cache(layer_class_to_replicate=_GROWABLE)

"""Keeping transformers' progress bars off the terminal while a checkpoint loads or saves.

transformers draws tqdm bars on stderr ("Loading weights", "Writing model shards") from
``from_pretrained`` and ``save_pretrained``. Over a live terminal view (``gptoss-agent
run``) or a server's log they are noise, so the backend hides them unless asked to show
them. The switch is transformers' own and process-wide; :func:`progress_bars` restores
whatever state it found.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

_SWITCHING = threading.Lock()
_hidden = 0
"""Callers inside :func:`progress_bars` that hide the bars; the last one out restores."""
_restore = True
"""Whether the bars were enabled when the first hiding caller came in."""


@contextlib.contextmanager
def progress_bars(show: bool) -> Iterator[None]:
    """Hide transformers' progress bars for the duration unless ``show``.

    Nested and concurrent uses are counted: the bars come back (if they were on before)
    when the last hiding caller leaves.

    Args:
        show: Leave the bars as they are (on by default in transformers).
    """
    if show:
        yield
        return
    from transformers.utils import logging as hf_logging

    global _hidden, _restore
    with _SWITCHING:
        if _hidden == 0:
            _restore = hf_logging.is_progress_bar_enabled()
        _hidden += 1
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        with _SWITCHING:
            _hidden -= 1
            if _hidden == 0 and _restore:
                hf_logging.enable_progress_bar()

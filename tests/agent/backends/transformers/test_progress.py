"""transformers' progress bars stay off the terminal while the backend loads a checkpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.backends.conftest import need_torch
from tests.agent.backends.transformers.helpers import load

BAR = "Loading weights"


@pytest.fixture
def bars_enabled() -> Iterator[None]:
    """transformers' progress bars switched on (as they are by default), restored after."""
    need_torch()
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()
    yield
    if not was:
        hf_logging.disable_progress_bar()


def test_loading_draws_no_progress_bar_by_default(
    tiny_model_dir: Path, bars_enabled: None, capfd: pytest.CaptureFixture[str]
) -> None:
    from transformers.utils import logging as hf_logging

    capfd.readouterr()
    asyncio.run(load(tiny_model_dir).aclose())
    quiet = capfd.readouterr().err
    assert BAR not in quiet and "it/s]" not in quiet, quiet[-500:]
    assert hf_logging.is_progress_bar_enabled()  # the switch is put back as it was

    asyncio.run(load(tiny_model_dir, show_progress=True).aclose())
    assert BAR in capfd.readouterr().err  # the capture does see a bar when there is one


def test_hiding_nests_and_restores_a_disabled_switch(bars_enabled: None) -> None:
    from transformers.utils import logging as hf_logging

    from gptoss_agent.agent.backends.transformers.progress import progress_bars

    with progress_bars(False):
        with progress_bars(False):
            assert not hf_logging.is_progress_bar_enabled()
        assert not hf_logging.is_progress_bar_enabled()  # the outer caller still hides
        with progress_bars(True):
            assert not hf_logging.is_progress_bar_enabled()  # showing forces nothing
    assert hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    with progress_bars(False):
        pass
    assert not hf_logging.is_progress_bar_enabled()  # off before, off after

"""The flags Chromium is launched with: quiet, popups blocked, the real binary."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gptoss_agent.tools.browser import config
from gptoss_agent.tools.browser.config import (
    DISABLED_FEATURES,
    IGNORED_DEFAULT_ARGS,
    BrowserConfig,
    find_chromium,
)


def _playwright_disabled_features() -> list[str]:
    """The ``--disable-features`` list of the installed Playwright driver."""
    import playwright

    bundle = Path(playwright.__file__).parent / "driver" / "package" / "lib" / "coreBundle.js"
    # A Playwright that moved its switches must fail here, not skip: this is the guard.
    assert bundle.exists(), f"{bundle} is gone: find where this Playwright keeps them"
    source = bundle.read_text(encoding="utf-8")
    block = re.search(r"disabledFeatures = \[(.*?)\]\.filter", source, re.S)
    assert block is not None, "Playwright's disabledFeatures list was not found"
    names = re.findall(r'^\s*"([A-Za-z0-9]+)"', block.group(1), re.M)
    return [name for name in names if not name.startswith("ms")]  # Edge-only ones


def test_our_disable_features_keeps_everything_playwright_disables() -> None:
    """Chromium keeps only the last ``--disable-features``: ours must include Playwright's."""
    missing = set(_playwright_disabled_features()) - set(DISABLED_FEATURES)
    assert missing <= {"TcpPortRandomizationWin"}, missing  # a Windows-only feature


def test_launch_flags_switch_off_what_phones_home() -> None:
    args = BrowserConfig().chromium_args()
    disabled = next(a for a in args if a.startswith("--disable-features="))
    features = disabled.split("=", 1)[1].split(",")
    for feature in ("AutofillServerCommunication", "Translate", "NetworkTimeServiceQuerying"):
        assert feature in features
    assert sum(a.startswith("--disable-features=") for a in args) == 1
    assert "--disable-background-networking" in args and "--no-pings" in args
    assert "--optimization-guide-manifest-override=/dev/null" in args  # no model manifest fetch
    assert "--disable-popup-blocking" in IGNORED_DEFAULT_ARGS


def test_a_shell_wrapper_is_skipped_for_the_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrapper = tmp_path / "chromium"
    wrapper.write_text("#!/bin/sh\nexec /usr/lib/chromium/chromium \"$@\"\n")
    wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(config.CHROMIUM_ENV, raising=False)
    found = find_chromium()
    real = Path("/usr/lib/chromium/chromium")
    assert found == (str(real) if real.exists() else str(wrapper))


def test_an_explicit_path_is_taken_as_given(tmp_path: Path) -> None:
    wrapper = tmp_path / "chromium"
    wrapper.write_text("#!/bin/sh\n")
    assert find_chromium(str(wrapper)) == str(wrapper)


def _wrappers(folder: Path, *names: str) -> None:
    for name in names:
        wrapper = folder / name
        wrapper.write_text(f"#!/bin/sh\nexec /usr/lib/chromium/{name} \"$@\"\n")
        wrapper.chmod(0o755)


@pytest.mark.parametrize("headless", [True, False])
def test_headless_runs_prefer_the_headless_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, headless: bool
) -> None:
    _wrappers(tmp_path, "chromium", "chromium-headless-shell")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(config.CHROMIUM_ENV, raising=False)
    name = "chromium-headless-shell" if headless else "chromium"
    real = Path("/usr/lib/chromium") / name
    found = find_chromium(headless=headless)
    assert found == (str(real) if real.exists() else str(tmp_path / name))


def test_a_window_is_never_given_the_headless_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _wrappers(tmp_path, "chromium-headless-shell")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(config.CHROMIUM_ENV, raising=False)
    found = find_chromium(headless=False)
    assert found is None or "headless-shell" not in found

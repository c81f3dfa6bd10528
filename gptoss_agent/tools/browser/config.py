"""Settings of the browser tool, in one frozen value."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from gptoss_agent.tools.browser.render import DEFAULT_LINE_WIDTH, DEFAULT_VIEW_TOKENS

CHROMIUM_ENV = "GPTOSS_CHROMIUM"
_CANDIDATES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "chrome",
)
_KNOWN_PATHS = ("/usr/bin/chromium", "/usr/lib/chromium/chromium", "/snap/bin/chromium")
_HEADLESS_CANDIDATES = ("chromium-headless-shell", "chrome-headless-shell")
_HEADLESS_PATHS = ("/usr/lib/chromium/chromium-headless-shell",)
"""Chromium's headless shell, preferred for headless runs: it starts in about 0.7 s where
the full browser takes 1.1 s, opens a warm page in 65 ms where the full one takes 105 ms
(bench/browser_latency.py, 2 cores), and has no profile services, so it makes no request
of its own (the full browser's sign-in check asks accounts.google.com whatever the flags)."""
_WRAPPED = {
    "chromium": "/usr/lib/chromium/chromium",
    "chromium-headless-shell": "/usr/lib/chromium/chromium-headless-shell",
}
"""The binaries behind Debian's shell wrappers of the same name."""

DISABLED_FEATURES = (
    # Playwright's own list (a second --disable-features replaces the first, not adds).
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    # Requests Chromium would make of its own for a page (seen in its NetLog).
    "AutofillServerCommunication",
    "Translate",
    "OptimizationGuideModelDownloading",
    "CertificateTransparencyComponentUpdater",
    "InterestFeedContentSuggestions",
)
"""Chromium features switched off: Playwright's, plus those that phone home."""

BASE_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--no-pings",
    "--block-new-web-contents",
    # Composite on the renderer's main thread: nothing here scrolls or animates on
    # screen, and the compositor thread's handoffs cost about a third of a renderer's
    # CPU per page load (bench/browser_latency.py; docs/browser.md, "Cost per page").
    "--disable-threaded-compositing",
    # The on-device AI models' manifest is read from here, not fetched: without it,
    # Chromium asks update.googleapis.com for it at start-up despite the flags above.
    f"--optimization-guide-manifest-override={os.devnull}",
    "--disable-features=" + ",".join(DISABLED_FEATURES),
)
"""Chromium flags of every launch (Playwright's own defaults come first)."""

RESOLVE_MODES = ("system", "map")
"""The values of :attr:`BrowserConfig.resolve`."""

IGNORED_DEFAULT_ARGS = ("--disable-popup-blocking",)
"""Playwright defaults dropped: Chromium's popup blocker stays on."""


def find_chromium(explicit: str | None = None, *, headless: bool = True) -> str | None:
    """Locate a Chromium executable.

    Order: ``explicit``, the ``GPTOSS_CHROMIUM`` environment variable, then (``headless``
    only) Chromium's headless shell, then ``chromium`` and friends on ``PATH``, then
    well-known install paths. ``None`` when nothing is found (Playwright then tries its
    own downloaded browser, if any).
    """
    for path in (explicit, os.environ.get(CHROMIUM_ENV)):
        if path:
            return path
    names = (*_HEADLESS_CANDIDATES, *_CANDIDATES) if headless else _CANDIDATES
    paths = (*_HEADLESS_PATHS, *_KNOWN_PATHS) if headless else _KNOWN_PATHS
    for name in names:
        found = shutil.which(name)
        if found:
            return _unwrapped(found, name)
    for path in paths:
        if os.access(path, os.X_OK):
            return path
    return None


def _unwrapped(path: str, name: str) -> str:
    """The real binary behind a Debian shell wrapper (``chromium``, its headless shell).

    The ``chromium`` wrapper adds the flags of ``/etc/chromium.d`` (remote extensions
    among them), which would undo the launch flags that keep Chromium quiet.
    """
    binary = _WRAPPED.get(name)
    if binary is None:
        return path
    try:
        with open(path, "rb") as handle:
            is_script = handle.read(2) == b"#!"
    except OSError:
        return path
    return binary if is_script and os.access(binary, os.X_OK) else path


@dataclass(frozen=True)
class BrowserConfig:
    """How the browser tool behaves.

    Attributes:
        executable_path: Chromium to drive; ``None`` auto-detects (:func:`find_chromium`).
        headless: Run without a window (always, on servers).
        allowlist: Host names (``intranet.example``, ``*.corp.example``) and networks
            (``10.1.0.0/16``) the browser may reach although they are private; an
            entry with ``:port`` (``localhost:8080``, ``[::1]:8080``) admits that port
            only. Names are compared normalised (case, a trailing dot).
        host_map: Static ``host -> address`` overrides honoured by the policy and by
            Chromium; tests map their host names to 127.0.0.1 with it.
        resolve: How the policy turns other names into addresses: ``"system"`` (the
            default) asks the operating system's resolver for names outside
            ``host_map``; ``"map"`` answers from ``host_map`` alone (a
            :class:`~.policy.MappedResolver`), so nothing else resolves and the system
            resolver is never asked -- what the tests use.
        load_timeout_s: Limit on a navigation until its document arrives.
        settle_timeout_s: After the document, how long to wait for scripts and
            requests to finish before reading the page.
        quiet_ms: The network must be idle this long for the page to count as settled.
        max_response_bytes: Cap on the bytes of any single response (cut off beyond).
        max_html_chars: Cap on the serialised DOM converted to text.
        max_pdf_pages: PDF pages extracted at most.
        block_images: Do not load images (faster; the text does not need them).
        view_tokens: Approximate tokens in a window when ``num_lines`` is not given.
        line_width: Display lines are wrapped at this many characters.
        default_topn: Results of a search when ``topn`` is not given.
        max_topn: Upper bound on ``topn``.
        user_agent: Overrides Chromium's user agent.
        extra_args: More Chromium command-line flags (a ``--disable-features`` here
            replaces :data:`DISABLED_FEATURES`, it does not add to it).
        launch_timeout_s: Limit on starting Chromium.
        operation_timeout_s: Limit on every other browser operation (reading the
            page, its title, its headers, opening or closing a tab); a page that does
            not answer in time has its tab closed and replaced.
        hang_probe_s: While a navigation is pending, the tab is probed this often; it
            counts as hung (its tab closed and replaced) when one probe stays
            unanswered for two such periods while a reference tab of the same browser
            answered in each (so a loaded machine alone never makes a tab "hung").
        max_dialogs: Dialogs (alert, confirm, prompt) one load may open; all are
            dismissed, and past this many the tab is closed and replaced.
        nice: Chromium runs this many steps nicer (lower CPU priority) than the agent,
            unable to raise itself back (:mod:`~.niceness`), so a page's scripts never
            outrank the agent process and the sandboxes on a busy machine; ``None``
            runs it as Playwright starts it (also when ``executable_path`` is not found).
    """

    executable_path: str | None = None
    headless: bool = True
    allowlist: tuple[str, ...] = ()
    host_map: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    resolve: Literal["system", "map"] = "system"
    load_timeout_s: float = 15.0
    settle_timeout_s: float = 3.0
    quiet_ms: int = 50
    max_response_bytes: int = 20 * 1024 * 1024
    max_html_chars: int = 4_000_000
    max_pdf_pages: int = 500
    block_images: bool = True
    view_tokens: int = DEFAULT_VIEW_TOKENS
    line_width: int = DEFAULT_LINE_WIDTH
    default_topn: int = 10
    max_topn: int = 50
    user_agent: str | None = None
    extra_args: tuple[str, ...] = ()
    launch_timeout_s: float = 30.0
    operation_timeout_s: float = 10.0
    hang_probe_s: float = 2.0
    max_dialogs: int = 10
    nice: int | None = 10

    def __post_init__(self) -> None:
        """Refuse an unknown ``resolve`` mode and a niceness outside 0..19."""
        if self.resolve not in RESOLVE_MODES:
            modes = " or ".join(repr(mode) for mode in RESOLVE_MODES)
            raise ValueError(f"resolve must be {modes}, not {self.resolve!r}")
        if self.nice is not None and not 0 <= self.nice <= 19:
            raise ValueError(f"nice must be between 0 and 19, not {self.nice!r}")

    def chromium_args(self) -> list[str]:
        """The command-line flags Chromium is launched with.

        Chromium never resolves names itself: every request goes through the egress
        proxy, which resolves and checks. ``MAP * ~NOTFOUND`` makes anything that would
        bypass the proxy fail to resolve (the proxy's own address, 127.0.0.1, is
        excluded).
        """
        rules = [f"MAP {host} {address}" for host, address in sorted(self.host_map.items())]
        rules += ["MAP * ~NOTFOUND", "EXCLUDE 127.0.0.1"]
        args = [*BASE_ARGS, f"--host-resolver-rules={', '.join(rules)}"]
        if self.block_images:
            args.append("--blink-settings=imagesEnabled=false")
        args.extend(self.extra_args)
        return args

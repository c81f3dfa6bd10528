"""A small JSON-over-HTTP GET for the web search backends (stdlib only, run in a thread)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

from gptoss_agent.tools.browser.errors import SearchBackendError

USER_AGENT = "gptoss-agent-browser/0.1"


async def get_json(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 15.0,
    service: str = "search backend",
) -> Any:
    """GET ``url`` and decode its JSON body.

    Raises:
        SearchBackendError: With a model-readable message on HTTP errors, network errors,
            timeouts and bodies that are not JSON. HTTP status codes are kept in the text.
    """

    def fetch() -> Any:
        request = urllib.request.Request(
            url, headers={"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        )
        # No proxies from the environment: the backend URL is the operator's choice.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=timeout_s) as response:
                raw = response.read(8 * 1024 * 1024)
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace").strip()
            raise SearchBackendError(
                f"The {service} answered HTTP {exc.code} {exc.reason}"
                + (f": {detail[:200]}" if detail else "")
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SearchBackendError(f"The {service} could not be reached: {reason}") from exc
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise SearchBackendError(f"The {service} returned a response that is not JSON") from exc

    try:
        return await asyncio.wait_for(asyncio.to_thread(fetch), timeout_s + 1)
    except TimeoutError as exc:
        raise SearchBackendError(f"The {service} did not answer within {timeout_s:g}s") from exc

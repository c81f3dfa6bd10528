"""The Brave Search API: a keyed web-search API with a free tier.

The key is read from the ``api_key`` field or an environment variable
(``BRAVE_SEARCH_API_KEY`` unless ``api_key_env`` names another) and sent as
``X-Subscription-Token``. Snippets arrive with ``<strong>`` tags around matched words;
they are reduced to plain text.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from gptoss_agent.tools.browser.errors import SearchBackendError
from gptoss_agent.tools.browser.search._http import get_json
from gptoss_agent.tools.browser.search.base import SearchHit

DEFAULT_ENDPOINT = "https://api.search.brave.com/res/v1/web/search"
_TAG_RE = re.compile(r"<[^>]+>")


def _plain(text: object) -> str:
    return html.unescape(_TAG_RE.sub("", str(text or "")))


@dataclass(frozen=True)
class BraveSearchBackend:
    """Search through the Brave Search API.

    Attributes:
        api_key: The subscription token; ``None`` reads the ``api_key_env`` variable.
        endpoint: The web-search endpoint (overridable for tests and proxies).
        country: Two-letter country code, or ``None``.
        safesearch: ``off``, ``moderate`` or ``strict``.
        timeout_s: Per-request timeout.
        api_key_env: The environment variable holding the key when ``api_key`` is unset.
    """

    api_key: str | None = None
    endpoint: str = DEFAULT_ENDPOINT
    country: str | None = None
    safesearch: str = "moderate"
    timeout_s: float = 15.0
    api_key_env: str = "BRAVE_SEARCH_API_KEY"

    @property
    def name(self) -> str:
        """``brave``."""
        return "brave"

    async def search(self, query: str, topn: int) -> Sequence[SearchHit]:
        """Query the API (at most 20 results per request, the API's limit)."""
        key = self.api_key or os.environ.get(self.api_key_env)
        if not key:
            raise SearchBackendError(
                "Web search is not configured: no Brave Search API key was given "
                f"(set {self.api_key_env})."
            )
        params = {
            "q": query[:400],
            "count": str(max(1, min(topn, 20))),
            "safesearch": self.safesearch,
        }
        if self.country:
            params["country"] = self.country
        try:
            data = await get_json(
                f"{self.endpoint}?{urlencode(params)}",
                headers={"X-Subscription-Token": key},
                timeout_s=self.timeout_s,
                service="Brave Search API",
            )
        except SearchBackendError as exc:
            text = str(exc)
            if "HTTP 401" in text or "HTTP 403" in text:
                raise SearchBackendError(
                    "The Brave Search API rejected the API key; search is unavailable."
                ) from exc
            if "HTTP 429" in text:
                raise SearchBackendError(
                    "The Brave Search API rate limit was reached; wait before searching again."
                ) from exc
            raise
        web = data.get("web") if isinstance(data, dict) else None
        results = web.get("results") if isinstance(web, dict) else None
        if results is None and isinstance(data, dict) and "web" not in data:
            return []
        if not isinstance(results, list):
            raise SearchBackendError("The Brave Search API returned JSON without web results")
        hits: list[SearchHit] = []
        for item in results:
            if not isinstance(item, dict) or not isinstance(item.get("url"), str):
                continue
            hits.append(
                SearchHit(
                    title=_plain(item.get("title")) or item["url"],
                    url=item["url"],
                    snippet=_plain(item.get("description")),
                )
            )
        return hits[:topn]

    async def aclose(self) -> None:
        """Nothing to release (one connection per request)."""

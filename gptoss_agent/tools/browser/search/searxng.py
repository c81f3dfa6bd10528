"""SearXNG: a self-hostable metasearch engine, asked through its JSON API.

The instance must allow the JSON format (``search: formats: [html, json]`` in its
``settings.yml``); otherwise it answers 403, which is reported to the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from gptoss_agent.tools.browser.errors import SearchBackendError
from gptoss_agent.tools.browser.search._http import get_json
from gptoss_agent.tools.browser.search.base import SearchHit


@dataclass(frozen=True)
class SearxngBackend:
    """Search through a SearXNG instance.

    Attributes:
        base_url: The instance root, e.g. ``http://127.0.0.1:8888``.
        language: SearXNG language code (``en``, ``all``), or ``None`` for its default.
        categories: Comma-separated categories (``general``).
        safesearch: 0, 1 or 2.
        timeout_s: Per-request timeout.
    """

    base_url: str
    language: str | None = None
    categories: str = "general"
    safesearch: int = 1
    timeout_s: float = 15.0

    @property
    def name(self) -> str:
        """``searxng``."""
        return "searxng"

    async def search(self, query: str, topn: int) -> Sequence[SearchHit]:
        """Query ``/search?format=json`` and return up to ``topn`` hits."""
        params = {
            "q": query,
            "format": "json",
            "categories": self.categories,
            "safesearch": str(self.safesearch),
            "pageno": "1",
        }
        if self.language:
            params["language"] = self.language
        url = f"{self.base_url.rstrip('/')}/search?{urlencode(params)}"
        try:
            data = await get_json(url, timeout_s=self.timeout_s, service="SearXNG instance")
        except SearchBackendError as exc:
            if "HTTP 403" in str(exc):
                raise SearchBackendError(
                    "The SearXNG instance refused the JSON API (HTTP 403); its settings.yml "
                    "must list json under search.formats."
                ) from exc
            raise
        results = data.get("results") if isinstance(data, dict) else None
        if not isinstance(results, list):
            raise SearchBackendError("The SearXNG instance returned JSON without a results list")
        hits: list[SearchHit] = []
        for item in results:
            if not isinstance(item, dict) or not isinstance(item.get("url"), str):
                continue
            hits.append(
                SearchHit(
                    title=str(item.get("title") or item["url"]),
                    url=item["url"],
                    snippet=str(item.get("content") or ""),
                )
            )
            if len(hits) >= topn:
                break
        return hits

    async def aclose(self) -> None:
        """Nothing to release (one connection per request)."""

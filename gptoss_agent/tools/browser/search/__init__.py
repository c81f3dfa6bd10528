"""Search backends for ``browser.search``: the protocol and the shipped implementations."""

from gptoss_agent.tools.browser.search.base import (
    DocumentSource,
    SearchBackend,
    SearchHit,
)
from gptoss_agent.tools.browser.search.brave import BraveSearchBackend
from gptoss_agent.tools.browser.search.local import LocalCorpusBackend
from gptoss_agent.tools.browser.search.searxng import SearxngBackend

__all__ = [
    "BraveSearchBackend",
    "DocumentSource",
    "LocalCorpusBackend",
    "SearchBackend",
    "SearchHit",
    "SearxngBackend",
]

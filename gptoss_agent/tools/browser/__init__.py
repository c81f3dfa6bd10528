"""gpt-oss's built-in ``browser`` tool on a real headless Chromium.

Modules, one job each:

- :mod:`.tool` -- :class:`BrowserTool`, the tool the loop calls (results, sessions, review);
- :mod:`.functions` -- ``search``, ``open`` and ``find`` over a session's page stack;
- :mod:`.arguments` -- the model's arguments, parsed leniently;
- :mod:`.spec` -- the namespace and function descriptions gpt-oss was trained with;
- :mod:`.page` -- pages, links, views and the per-session page stack;
- :mod:`.listings` -- the search-results and find-results pages;
- :mod:`.render` -- sanitising, wrapping, token windows and the display format;
- :mod:`.documents` -- what a navigation produced, and the page made of it;
- :mod:`.html_text` / :mod:`.pdf_text` -- documents to lines with link markers;
- :mod:`.chromium` -- the browser and one context per session; :mod:`.tab` -- a
  session's context and tab; :mod:`.navigation` -- loading one URL; :mod:`.guards` --
  deadlines, hang watching, dialogs and popups; :mod:`.driver` -- the only Playwright
  importer;
- :mod:`.egress` / :mod:`.policy` / :mod:`.allowlist` -- the safety proxy (and the sink
  for Chromium's own requests), the URL/address policy, and the allowlist;
- :mod:`.search` -- the ``SearchBackend`` protocol and SearXNG, Brave, local backends;
- :mod:`.citations` -- resolving and checking ``【cursor†Lx-Ly】`` citations;
- :mod:`.config` / :mod:`.errors` -- the settings and the errors (under ``BrowserError``).
"""

from gptoss_agent.tools.browser.citations import Citation, CitationReport, check_citations
from gptoss_agent.tools.browser.config import BrowserConfig, find_chromium
from gptoss_agent.tools.browser.documents import LoadedDocument
from gptoss_agent.tools.browser.errors import (
    BadArgumentsError,
    BlockedURLError,
    BrowserCrashedError,
    BrowserError,
    PageLoadError,
    PageUnresponsiveError,
    SearchBackendError,
    TargetNotFoundError,
)
from gptoss_agent.tools.browser.page import Link, Page, PageStack, View
from gptoss_agent.tools.browser.policy import Allowlist, MappedResolver, UrlPolicy
from gptoss_agent.tools.browser.search import (
    BraveSearchBackend,
    DocumentSource,
    LocalCorpusBackend,
    SearchBackend,
    SearchHit,
    SearxngBackend,
)
from gptoss_agent.tools.browser.spec import BROWSER_SPEC
from gptoss_agent.tools.browser.tool import BrowserTool

__all__ = [
    "BROWSER_SPEC",
    "Allowlist",
    "BadArgumentsError",
    "BlockedURLError",
    "BraveSearchBackend",
    "BrowserConfig",
    "BrowserCrashedError",
    "BrowserError",
    "BrowserTool",
    "Citation",
    "CitationReport",
    "DocumentSource",
    "Link",
    "LoadedDocument",
    "LocalCorpusBackend",
    "MappedResolver",
    "Page",
    "PageLoadError",
    "PageStack",
    "PageUnresponsiveError",
    "SearchBackend",
    "SearchBackendError",
    "SearchHit",
    "SearxngBackend",
    "TargetNotFoundError",
    "UrlPolicy",
    "View",
    "check_citations",
    "find_chromium",
]

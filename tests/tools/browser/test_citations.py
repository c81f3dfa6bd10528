"""Resolving and checking citations against the page stack."""

from __future__ import annotations

from gptoss_agent.tools.browser.citations import check_citations
from gptoss_agent.tools.browser.page import Link, Page, PageStack


def _stack() -> PageStack:
    stack = PageStack()
    web = stack.add_page(
        Page(url="https://a.example/", title="A", lines=tuple(f"line {i}" for i in range(50)))
    )
    stack.push(web, 0, 9)  # cursor 0 showed L0-L9
    stack.push(web, 30, 34)  # cursor 1: a scroll of the same page
    search = stack.add_page(
        Page(
            url="web-search://?q=x",
            title="Search results",
            kind="search",
            lines=(
                "* 【0†One†one.example】",
                "snippet one",
                "",
                "* 【1†Two†two.example】",
                "snippet two",
            ),
            links=(Link("https://one.example/", "One"), Link("https://two.example/", "Two")),
        )
    )
    stack.push(search, 0, 4)  # cursor 2
    return stack


def test_citation_statuses_and_urls() -> None:
    report = check_citations(
        "A【0†L2-L4】 B【1†L31】 C【0†L32】 D【0†L8-L12】 E【0†L60】 F【9†L1】 G【2†L4】"
        " H【0†L5-L3】",
        _stack(),
    )
    got = [(c.marker, c.status, c.url) for c in report.citations]
    assert got == [
        ("【0†L2-L4】", "ok", "https://a.example/"),
        ("【1†L31】", "ok", "https://a.example/"),
        # Lines shown under another cursor of the same page count as shown.
        ("【0†L32】", "ok", "https://a.example/"),
        ("【0†L8-L12】", "not_shown", "https://a.example/"),
        ("【0†L60】", "out_of_range", "https://a.example/"),
        ("【9†L1】", "unknown_cursor", None),
        ("【2†L4】", "ok", "https://two.example/"),  # a snippet line resolves to its result
        ("【0†L5-L3】", "out_of_range", "https://a.example/"),
    ]
    assert report.citations[3].problem == "line(s) L10-L12 of cursor 0 were never shown"
    assert report.urls == ("https://a.example/", "https://two.example/")
    assert not report.ok and len(report.problems) == 4
    assert report.to_json()["citations"][0]["status"] == "ok"


def test_no_citations_and_no_browsing() -> None:
    assert check_citations("plain answer", _stack()).ok
    report = check_citations("claim【0†L1】", None)
    assert report.citations[0].status == "unknown_cursor"


def test_page_stack_snapshot_round_trips() -> None:
    stack = _stack()
    restored = PageStack.restore(stack.snapshot())
    assert restored.pages == stack.pages and restored.views == stack.views
    assert check_citations("【2†L1】", restored).citations[0].url == "https://one.example/"

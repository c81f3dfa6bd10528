"""HTML and PDF to lines, sanitising, wrapping and token windows."""

from __future__ import annotations

import pytest

from gptoss_agent.tools.browser.errors import PageLoadError
from gptoss_agent.tools.browser.html_text import html_to_page, source_to_page
from gptoss_agent.tools.browser.page import Page
from gptoss_agent.tools.browser.pdf_text import is_pdf, pdf_to_page
from gptoss_agent.tools.browser.render import (
    estimate_tokens,
    most_relevant_line,
    render_view,
    sanitize,
    text_to_lines,
    window,
    wrap_line,
)
from tests.tools.browser.site import PDF_BYTES, make_pdf


def test_links_become_numbered_markers_with_foreign_domains_named() -> None:
    page = html_to_page(
        "<html><head><title>T</title><base href='https://a.example/docs/'></head><body>"
        "<p>See <a href='intro.html'>the intro</a> and <a href='https://b.example/x'>B</a>."
        " Again <a href='intro.html'>intro</a>. <a href='javascript:void(0)'>js</a>"
        " <a href='#frag'>frag</a> <a href='https://a.example/p'><img alt='Logo'></a></p>"
        "</body></html>",
        "https://a.example/docs/page",
    )
    text = "\n".join(page.lines)
    assert "【0†the intro】" in text and "【1†B†b.example】" in text
    assert "【0†intro】" in text, "the same URL keeps its id"
    assert "【2†Logo】" in text, "image alt text names an otherwise empty link"
    assert "js" in text and "frag" in text and "【3" not in text
    assert [link.url for link in page.links] == [
        "https://a.example/docs/intro.html",
        "https://b.example/x",
        "https://a.example/p",
    ]
    assert page.title == "T"


def test_scripts_styles_and_hidden_elements_are_dropped() -> None:
    page = html_to_page(
        "<body><script>var secret = 1;</script><style>.x{}</style><p>shown</p>"
        "<div hidden>h1</div><div style='display: none'>h2</div><span aria-hidden='true'>h3</span>"
        "<noscript>ns</noscript><!-- comment --></body>",
        "https://x.example/",
    )
    text = "\n".join(page.lines)
    assert "shown" in text
    for gone in ("secret", ".x{}", "h1", "h2", "h3", "ns", "comment"):
        assert gone not in text


def test_text_around_removed_elements_stays_in_order() -> None:
    page = html_to_page(
        "<body><p>a<!-- c -->b<script>x</script>c<span hidden>gone<b>also</b></span>d"
        "<span hidden><span style='visibility: hidden'><b>deep</b></span></span>e"
        "<a href='/l'>link<!-- inside --> <i>text</i></a>f"
        "<a href='mailto:m@x'>mail</a>g</p></body>",
        "https://x.example/",
    )
    assert page.lines == ("abcde【0†link text】f mail g",)
    assert [link.url for link in page.links] == ["https://x.example/l"]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("<?xml version='1.0' encoding='utf-8'?><html><body><p>caf\u00e9</p></body></html>",
         "caf\u00e9"),
        ("<html><head><meta charset='iso-8859-1'></head><body><p>na\u00efve \u2713</p></body>"
         "</html>", "na\u00efve \u2713"),
        ("<p>lone \ud800 surrogate</p>", "lone \ufffd surrogate"),
    ],
)
def test_declared_encodings_and_unencodable_text_do_not_garble_the_page(
    document: str, expected: str
) -> None:
    """The DOM arrives as text: nothing in it makes the parser decode it again."""
    assert html_to_page(document, "https://x.example/").lines == (expected,)


@pytest.mark.parametrize("document", ["", "   ", "<!-- only a comment -->"])
def test_an_empty_document_is_an_empty_page(document: str) -> None:
    page = html_to_page(document, "https://x.example/")
    assert (page.title, page.links) == ("", ())
    assert not any(line.strip() for line in page.lines)


def test_structure_is_kept_readable() -> None:
    page = html_to_page(
        "<body><h2>Heading</h2><ol><li>one</li><li>two</li></ol><p>1. not a list</p>"
        "<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table></body>",
        "https://x.example/",
    )
    assert "## Heading" in page.lines
    assert "1. not a list" in page.lines, "html2text's markdown escapes are undone"
    assert any("A" in line and "B" in line and "|" in line for line in page.lines)


def test_page_text_cannot_forge_markers_or_hide_control_characters() -> None:
    page = html_to_page(
        "<body><p>x 【3†L1-L2】 y \ue0000\ue001 z\u200b\x07</p><a href='/a'>【1†evil】</a></body>",
        "https://x.example/",
    )
    text = "\n".join(page.lines)
    assert "〖3†L1-L2〗" in text
    assert "\ue000" not in text and "\u200b" not in text and "\x07" not in text
    assert text.count("【") == 1 and "【0†〖1+evil〗】" in text
    assert sanitize("a【b】c") == "a〖b〗c"


def test_wrapping_keeps_markers_whole() -> None:
    line = "word " * 30 + "【12†a link with several words】, then more words " * 3
    pieces = wrap_line(line, 40)
    assert all(len(p) <= 40 or "【" in p for p in pieces)
    assert sum(p.count("【12†a link with several words】") for p in pieces) == 3
    assert text_to_lines("a\n\n\n\nb\n\n") == ("a", "", "b")


def test_token_windows_and_num_lines() -> None:
    page = Page(url="u", title="t", lines=tuple(f"line {i} " + "x" * 36 for i in range(100)))
    start, end = window(page, 0, view_tokens=100)
    used = sum(estimate_tokens(f"L{i}: {page.lines[i]}") for i in range(start, end + 1))
    assert start == 0 and used <= 100
    assert used + estimate_tokens(f"L{end + 1}: {page.lines[end + 1]}") > 100
    assert window(page, 95, num_lines=10) == (95, 99)
    assert window(page, 500, num_lines=2) == (99, 99)
    assert window(Page(url="u", title="t", lines=()), 0) == (0, -1)


def test_view_header_names_cursor_title_url_and_lines() -> None:
    page = Page(url="https://x.example/a", title="Title", lines=("zero", "one", "two"))
    assert render_view(4, page, 1, 2) == (
        "[4] Title (https://x.example/a)\n**viewing lines [1 - 2] of 2**\n\nL1: one\nL2: two"
    )


def test_most_relevant_line_centres_on_the_snippet() -> None:
    page = Page(
        url="u", title="t", lines=("intro text", "nothing", "the keeper trimmed wick", "other")
    )
    assert most_relevant_line(page, "The keeper trimmed the wick nightly") == 2
    assert most_relevant_line(page, "unrelated words entirely") is None


def test_pdf_text_and_title() -> None:
    page = pdf_to_page(PDF_BYTES, "https://x.example/files/report.pdf")
    assert page.kind == "pdf" and page.title == "Lighthouse Report"
    assert "The lamp burned 4,380 hours in 2023." in page.lines
    untitled = pdf_to_page(make_pdf(["x"], title=""), "https://x.example/files/my%20doc.pdf")
    assert untitled.title == "my doc.pdf"
    assert is_pdf("application/pdf; qs=1") and is_pdf("", b"%PDF-1.4") and not is_pdf("text/html")
    with pytest.raises(PageLoadError, match="could not be read"):
        pdf_to_page(b"%PDF-1.4 garbage", "https://x.example/bad.pdf")


def test_source_view_is_sanitised_raw_text() -> None:
    page = source_to_page("<p>【1†x】</p>\n<b>y</b>", "https://x.example/")
    assert page.lines == ("<p>〖1†x〗</p>", "<b>y</b>") and page.kind == "source"

"""The HTML report: well-formed, self-contained, one chart line per setting."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from gptoss_agent.agent.eval.aggregate import summarize
from gptoss_agent.agent.eval.report import write_reports
from tests.agent.eval.records import outcomes, record

HOSTILE = "t=<script>alert(1)</script>&"


class _Links(HTMLParser):
    """Every attribute that could make a browser fetch something."""

    def __init__(self) -> None:
        super().__init__()
        self.fetches: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.fetches += [f"{tag} {name}={value}" for name, value in attrs
                         if name in ("src", "href", "xlink:href", "srcset", "action")]


def _page(tmp_path: Path) -> str:
    records = [*outcomes("a", "t=0.2", "pfpi"), *outcomes("a", HOSTILE, "ffpp"),
               record("b", "t=0.2", 0, "infra", outcome="crash")]
    summary = summarize(records, (1, 2, 3))
    files = write_reports(tmp_path, summary, records, {"k": 4})
    assert files.json.exists()
    return files.html.read_text(encoding="utf-8")


def test_the_page_is_well_formed_and_fetches_nothing(tmp_path: Path) -> None:
    page = _page(tmp_path)
    root = ET.fromstring(page.split("\n", 1)[1])  # after the doctype: strict XML
    assert root.tag == "html"
    links = _Links()
    links.feed(page)
    assert links.fetches == []
    assert "script" not in links.tags and "link" not in links.tags
    assert re.search(r"https?://|url\(|@import", page) is None


def test_the_chart_has_lines_per_setting_and_labels_are_escaped(tmp_path: Path) -> None:
    page = _page(tmp_path)
    root = ET.fromstring(page.split("\n", 1)[1])
    (svg,) = root.iter("svg")
    lines = list(svg.iter("polyline"))
    assert len(lines) == 4  # pass@k and pass^k for each of the two settings
    assert [line.get("stroke-dasharray") is not None for line in lines] == [
        False, True, False, True]
    # Setting t=0.2 is task a (n=3, c=2; b has only an infra failure): pass@1..3 are
    # 2/3, 1, 1 and pass^1..3 are 2/3, 1/3, 0, drawn from y=1 at the top of the plot.
    at = [float(point.split(",")[1]) for point in lines[0].get("points", "").split()]
    hat = [float(point.split(",")[1]) for point in lines[1].get("points", "").split()]
    assert at[0] == hat[0] and at[1] == at[2] < at[0] and hat[0] < hat[1] < hat[2]
    assert "<script>" not in page and HOSTILE in "".join(root.itertext())

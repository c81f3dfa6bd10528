"""The eval's HTML report: one self-contained page, its chart an inline SVG.

Nothing is fetched when the page opens (no scripts, fonts, images or style sheets from
elsewhere), and the markup is well-formed XML as well as HTML, so it can be checked with
any XML parser. The chart draws pass@k (solid) and pass^k (dashed) against k, one
colour per setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from gptoss_agent.agent.eval.aggregate import EvalSummary, GroupSummary
from gptoss_agent.agent.eval.attempt import TOKEN_KINDS, VALIDITY_KINDS, AttemptRecord

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
            "#17becf", "#7f7f7f", "#bcbd22")
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0 2em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th, td:first-child, td.text { text-align: left; }
th { background: #f3f3f3; }
.pass { color: #1a7f37; } .fail { color: #cf222e; } .infra { color: #9a6700; }
svg text { font-size: 12px; }
"""
_WIDTH, _HEIGHT, _MARGIN = 560, 320, 48


def _cell(value: object, css: str = "") -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<td{attribute}>{escape(str(value))}</td>"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _table(headers: Sequence[str], rows: Sequence[str]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _score_rows(groups: Sequence[GroupSummary], ks: Sequence[int]) -> str:
    headers = ["task", "setting", "n", "passed", "infra",
               *(f"pass@{k}" for k in ks), *(f"pass^{k}" for k in ks),
               "generations", *(f"{kind} tokens" for kind in TOKEN_KINDS[:3]),
               "repair rate", "seconds"]
    rows = []
    for g in groups:
        cells = [_cell(g.task), _cell(g.setting, "text"), _cell(g.n), _cell(g.passed),
                 _cell(g.infra), *(_cell(_rate(g.pass_at[k])) for k in ks),
                 *(_cell(_rate(g.pass_hat[k])) for k in ks),
                 _cell(f"{g.mean_generations:.2f}"),
                 *(_cell(f"{g.mean_tokens[kind]:.1f}") for kind in TOKEN_KINDS[:3]),
                 _cell(f"{g.repair_rate:.3f}"), _cell(f"{g.mean_seconds:.2f}")]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return _table(headers, rows)


def _validity_rows(groups: Sequence[GroupSummary]) -> str:
    headers = ["setting", "tool calls", *VALIDITY_KINDS, "output retries", "parser repairs",
               "stop reasons"]
    rows = []
    for g in groups:
        reasons = ", ".join(f"{name} {count}" for name, count in g.stop_reasons.items())
        cells = [_cell(g.setting), _cell(round(g.mean_tool_calls * g.n)),
                 *(_cell(g.validity[kind]) for kind in VALIDITY_KINDS),
                 _cell(g.output_retries), _cell(g.repairs), _cell(reasons, "text")]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return _table(headers, rows)


def _attempt_rows(records: Sequence[AttemptRecord]) -> str:
    headers = ["task", "setting", "attempt", "seed", "status", "outcome", "generations",
               "seconds", "detail"]
    rows = []
    for r in records:
        detail = r.error or r.check or ""
        cells = [_cell(r.task), _cell(r.setting, "text"), _cell(r.attempt), _cell(r.seed),
                 _cell(r.status, r.status), _cell(r.outcome, "text"), _cell(r.generations),
                 _cell(f"{r.seconds:.2f}"), _cell(detail[:300], "text")]
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return _table(headers, rows)


def chart(settings: Sequence[GroupSummary], ks: Sequence[int]) -> str:
    """An inline SVG of pass@k (solid) and pass^k (dashed) against k, a colour per setting."""
    inner_w, inner_h = _WIDTH - 2 * _MARGIN, _HEIGHT - 2 * _MARGIN
    span = max(1, max(ks) - min(ks))

    def x(k: int) -> float:
        return _MARGIN + (k - min(ks)) / span * inner_w if len(ks) > 1 else _MARGIN + inner_w / 2

    def y(value: float) -> float:
        return _MARGIN + (1.0 - value) * inner_h

    parts = [f'<svg width="{_WIDTH}" '
             f'height="{_HEIGHT + 20 * len(settings)}" role="img">',
             '<title>pass@k against k</title>']
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{_MARGIN}" x2="{_WIDTH - _MARGIN}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}" stroke="#e5e5e5"/>'
                     f'<text x="{_MARGIN - 8}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                     f'{tick:g}</text>')
    for k in ks:
        parts.append(f'<text x="{x(k):.1f}" y="{_HEIGHT - _MARGIN + 18}" '
                     f'text-anchor="middle">{k}</text>')
    parts.append(f'<text x="{_WIDTH / 2:.0f}" y="{_HEIGHT - 8}" text-anchor="middle">k'
                 '</text>')
    parts.append(f'<text x="14" y="{_HEIGHT / 2:.0f}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {_HEIGHT / 2:.0f})">pass@k, pass^k</text>')
    for index, row in enumerate(settings):
        colour = _COLOURS[index % len(_COLOURS)]
        for values, dash in ((row.pass_at, ""), (row.pass_hat, ' stroke-dasharray="5,4"')):
            points = [(x(k), y(v)) for k in ks if (v := values[k]) is not None]
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} '
                         f'points="{path}"/>')
            parts.extend(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>'
                         for px, py in points)
        legend_y = _HEIGHT + 20 * index + 4
        parts.append(f'<rect x="{_MARGIN}" y="{legend_y - 10}" width="12" height="12" '
                     f'fill="{colour}"/><text x="{_MARGIN + 18}" y="{legend_y}">'
                     f'{escape(row.setting)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def render_page(summary: EvalSummary, records: Sequence[AttemptRecord], title: str) -> str:
    """The whole report page."""
    ks = summary.ks
    shown = sorted({ks[0], ks[-1]})
    overall = summary.overall
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f"<p>{overall.attempts} attempts, {overall.n} counted, {overall.passed} passed, "
        f"{overall.infra} infrastructure failures (left out of pass@k).</p>"
        f"<h2>pass@k (solid) and pass^k (dashed) against k</h2>"
        f"{chart(summary.settings, ks)}"
        f"<h2>By setting</h2>{_score_rows([*summary.settings, overall], ks)}"
        f"<h2>By task and setting</h2>{_score_rows(summary.groups, shown)}"
        f"<h2>Tool-call validity and stop reasons</h2>"
        f"{_validity_rows([*summary.settings, overall])}"
        f"<h2>Attempts</h2>{_attempt_rows(records)}"
        "</body></html>\n")

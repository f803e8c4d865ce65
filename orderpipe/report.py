"""`orderpipe report`: one static HTML page with every named query as a table and a bar chart."""

from __future__ import annotations

import html
from datetime import UTC, datetime

from orderpipe.render import plain
from orderpipe.targets.base import QueryResult

_STYLE = """
body{font:14px system-ui,sans-serif;margin:2rem auto;max-width:980px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.1rem;margin-top:2.2rem}p.help{color:#666;margin:.2rem 0 .8rem}
table{border-collapse:collapse;font-size:13px}
td,th{padding:.25rem .6rem;border-bottom:1px solid #eee}
th{text-align:left;background:#fafafa}td.n{text-align:right;font-variant-numeric:tabular-nums}
svg text{font-size:11px;fill:#333}
"""


def _numeric_column(result: QueryResult) -> int | None:
    if not result.rows:
        return None
    numeric = [i for i, v in enumerate(result.rows[0]) if isinstance(plain(v), int | float)]
    return numeric[-1] if numeric else None


def bar_svg(result: QueryResult, width: int = 640, bar: int = 18) -> str:
    """Horizontal bars of the last numeric column, labelled by the first column."""
    at = _numeric_column(result)
    if at is None:
        return ""
    rows = result.rows[:25]
    values = [float(plain(r[at]) or 0) for r in rows]
    top = max(values) or 1.0
    label_w, value_w = 170, 90
    span = width - label_w - value_w
    parts = [f'<svg width="{width}" height="{len(rows) * (bar + 4) + 4}" role="img">']
    for i, (row, value) in enumerate(zip(rows, values, strict=True)):
        y = i * (bar + 4) + 2
        w = max(1.0, span * value / top) if value > 0 else 0
        label = html.escape(str(row[0]))[:28]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end">{label}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" fill="#3b82c4"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + bar - 5}">{value:,.2f}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(result: QueryResult) -> str:
    head = "".join(f"<th>{html.escape(c.lower())}</th>" for c in result.columns)
    body = []
    for row in result.rows:
        cells = []
        for v in row:
            v = plain(v)
            number = isinstance(v, int | float) and not isinstance(v, bool)
            text = "" if v is None else (f"{v:,.2f}" if isinstance(v, float) else f"{v}")
            cells.append(f'<td class="{"n" if number else ""}">{html.escape(text)}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def html_report(title: str, sections: list[tuple[str, str, QueryResult]]) -> str:
    """sections: (name, help, result) for each query, in order."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    blocks = [
        f"<h2>{html.escape(name)}</h2><p class='help'>{html.escape(text)}</p>"
        f"{bar_svg(result)}{_table(result)}"
        for name, text, result in sections
    ]
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
        f"<p class='help'>Generated {stamp}</p>{''.join(blocks)}</body></html>\n"
    )

"""`orderpipe report`: one self-contained HTML dashboard.

Every figure on the page is a named query of templates/queries.sql (so `orderpipe query NAME`
prints the same numbers); the charts are drawn by Chart.js, inlined from templates/report/ (MIT,
~210 KB: canvas charts with hover tooltips, no network, no fonts; plotly.min.js would be 4.6 MB).
Data travels as one JSON block that the page's script reads, and text from the data is escaped
wherever it lands. To update Chart.js: `npm pack chart.js@VERSION`, copy its
dist/chart.umd.min.js without the last (source map) line, and its LICENSE.md.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from orderpipe import queries
from orderpipe.paths import TEMPLATES
from orderpipe.render import byte_size, plain, records
from orderpipe.results import Lag
from orderpipe.targets.base import QueryResult

ASSETS = TEMPLATES / "report"


@dataclass(frozen=True)
class Chart:
    """One chart: a named query, the column that labels each bar and the one it measures."""

    query: str
    title: str
    label: str
    value: str
    kind: str = "bar"  # bar | line | doughnut
    horizontal: bool = False
    money: bool = True


KPIS = "kpis"
TOP_ORDERS = "top-orders"
CHARTS = (
    Chart("daily-revenue", "Revenue by day", "orderdate", "revenueusd", kind="line"),
    Chart("regional-revenue", "Revenue by region", "region", "revenueusd", kind="doughnut"),
    Chart("country-performance", "Top countries by revenue", "country", "revenueusd",
          horizontal=True),
    Chart("peak-hours", "Invoices by hour of day", "hour", "invoices", money=False),
    Chart("missing-data", "Quarantined records by reason", "reason", "records", horizontal=True,
          money=False),
)  # fmt: skip
QUERIES = (KPIS, *(c.query for c in CHARTS), TOP_ORDERS)


@dataclass
class ReportData:
    title: str
    results: dict[str, QueryResult]
    lag: Lag | None = None  # Target.lag(); None: unknown
    generated: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def bytes_scanned(self) -> int | None:
        scanned = [r.bytes_scanned for r in self.results.values() if r.bytes_scanned is not None]
        return sum(scanned) if scanned else None

    @property
    def cost_usd(self) -> float | None:
        costs = [r.cost_usd for r in self.results.values() if r.cost_usd is not None]
        return sum(costs) if costs else None

    @property
    def scan_summary(self) -> str:
        """E.g. `Athena scanned 1.2 MB ($0.0000)`; "" where no query reports a scan."""
        if self.bytes_scanned is None:
            return ""
        return f"Athena scanned {byte_size(self.bytes_scanned)} (${self.cost_usd or 0:.4f})"


def run_queries(query: Callable[[str, list[Any]], QueryResult]) -> dict[str, QueryResult]:
    """The report's named queries, each with its default parameters."""
    named = queries.load()
    results = {}
    for name in QUERIES:
        sql, values = queries.resolve(named[name], {})
        results[name] = query(sql, values)
    return results


# rendering --------------------------------------------------------------------------------
def _money(value: Any) -> str:
    return "—" if value is None else f"${float(value):,.2f}"


def _count(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def _pct(value: Any) -> str:
    return "—" if value is None else f"{float(value):.2f}%"


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "—"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:,.1f} {unit}"
    return f"{seconds:.0f} s"


def _kpi_cards(kpis: dict[str, Any], lag: Lag | None) -> str:
    seconds, as_of = (lag.lag_seconds, lag.newest_queryable_at) if lag else (None, None)
    cards = [
        ("revenueusd", "Revenue", _money(kpis.get("revenueusd")), "USD, transformed lines"),
        ("invoices", "Invoices", _count(kpis.get("invoices")),
         f"{_count(kpis.get('lines'))} order lines"),
        ("customers", "Customers", _count(kpis.get("customers")), "distinct customer ids"),
        ("avginvoiceusd", "Average invoice", _money(kpis.get("avginvoiceusd")), "USD"),
        ("highpct", "High lines", _pct(kpis.get("highpct")), "lines over the threshold"),
        ("quarantinepct", "Quarantine rate", _pct(kpis.get("quarantinepct")),
         f"{_count(kpis.get('quarantined'))} records set aside"),
        ("lag", "Lag", _duration(seconds),
         f"queryable as of {as_of}" if as_of else "new orders → queryable"),
    ]  # fmt: skip
    return "".join(
        f'<div class="kpi" data-kpi="{key}"><div class="label">{label}</div>'
        f'<div class="value">{html.escape(value)}</div><div class="note">{html.escape(note)}</div>'
        "</div>"
        for key, label, value, note in cards
    )


def _chart_payload(chart: Chart, result: QueryResult) -> dict[str, Any]:
    rows = records(result)
    kind = chart.kind
    if kind == "line" and len(rows) <= 31:
        kind = "bar"  # a few days read better as bars
    return {
        "id": f"chart-{chart.query}",
        "kind": kind,
        "horizontal": chart.horizontal,
        "money": chart.money,
        "series": chart.value,
        "labels": [str(r[chart.label]) for r in rows],
        "values": [r[chart.value] for r in rows],
    }


def _chart_figure(chart: Chart, result: QueryResult, help_text: str) -> str:
    body = (
        f'<div class="box" style="height:{_height(chart, len(result.rows))}px">'
        f'<canvas id="chart-{chart.query}" role="img" aria-label="{html.escape(chart.title)}">'
        "</canvas></div>"
        if result.rows
        else '<p class="empty">No rows yet.</p>'
    )
    return (
        f'<figure class="card{" wide" if chart.kind == "line" else ""}">'
        f"<h2>{html.escape(chart.title)}</h2>"
        f'<p class="help">{html.escape(help_text)} <code>orderpipe query {chart.query}</code></p>'
        f"{body}</figure>"
    )


def _height(chart: Chart, rows: int) -> int:
    return max(220, min(520, 26 * rows + 40)) if chart.horizontal else 280


def _cell(value: Any) -> tuple[str, bool]:
    """A table cell's text, and whether it is a number (right-aligned)."""
    v = plain(value)
    if isinstance(v, bool) or not isinstance(v, int | float):
        return ("" if v is None else str(v)), False
    return (f"{v:,.2f}" if isinstance(v, float) else f"{v:,}"), True


def _table(result: QueryResult) -> str:
    head = "".join(f"<th>{html.escape(c.lower())}</th>" for c in result.columns)
    body = []
    for row in result.rows:
        cells = [_cell(v) for v in row]
        body.append(
            "<tr>"
            + "".join(f"<td{' class=n' if n else ''}>{html.escape(t)}</td>" for t, n in cells)
            + "</tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _script_json(value: Any) -> str:
    """JSON that is safe inside <script>: no `</script>`, no `<!--`, whatever the data holds."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def render(data: ReportData) -> str:
    named = queries.load()
    kpis = (records(data.results[KPIS]) or [{}])[0]
    charts = [c for c in CHARTS if data.results[c.query].rows]
    payload = [_chart_payload(c, data.results[c.query]) for c in charts]
    figures = "".join(_chart_figure(c, data.results[c.query], named[c.query].help) for c in CHARTS)
    span = ""
    if kpis.get("firstday"):
        span = f" · orders {kpis['firstday']} to {kpis['lastday']}"
    scanned = f" · {data.scan_summary}" if data.scan_summary else ""
    stamp = data.generated.strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{html.escape(data.title)}</title><style>{_STYLE}</style></head><body>"
        f"<header><h1>{html.escape(data.title)}</h1>"
        f'<p class="help">Generated {stamp}{html.escape(span + scanned)}</p></header>'
        f'<section class="kpis">{_kpi_cards(kpis, data.lag)}</section>'
        f'<section class="grid">{figures}</section>'
        f'<section class="card wide"><h2>Top orders</h2><p class="help">'
        f"{html.escape(named[TOP_ORDERS].help)} <code>orderpipe query {TOP_ORDERS}</code></p>"
        f"{_table(data.results[TOP_ORDERS])}</section>"
        f'<script type="application/json" id="report-data">{_script_json(payload)}</script>'
        f"<script>{(ASSETS / 'chart.umd.min.js').read_text(encoding='utf-8')}</script>"
        f"<script>{_DRAW}</script></body></html>\n"
    )


_STYLE = """
:root{--ink:#1f2933;--muted:#6b7785;--line:#e6e9ee;--bg:#f5f7fa;--card:#fff;--accent:#2563eb}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
  background:var(--bg);color:var(--ink);padding:1.5rem clamp(1rem,3vw,2.5rem) 3rem}
header h1{font-size:1.45rem;margin:0 0 .2rem}
.help{color:var(--muted);margin:.1rem 0 .8rem;font-size:12.5px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#eef1f5;padding:1px 4px;
  border-radius:4px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:.8rem;
  margin:1.2rem 0}
.kpi{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:.8rem 1rem}
.kpi .label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.kpi .value{font-size:1.45rem;font-weight:650;margin:.15rem 0;font-variant-numeric:tabular-nums}
.kpi .note{color:var(--muted);font-size:12px}
.kpi[data-kpi=revenueusd] .value{color:var(--accent)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem 1.2rem;
  margin:0}
.card.wide{grid-column:1/-1}
section.card{margin-top:1rem}
.card h2{font-size:1.02rem;margin:0 0 .1rem}
.box{position:relative;width:100%}
.empty{color:var(--muted);font-style:italic}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:.35rem .6rem;border-bottom:1px solid var(--line);text-align:left}
th{color:var(--muted);font-weight:600;font-size:12px;text-transform:uppercase}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:hover{background:#f8fafc}
"""

# Draws each chart from the JSON block; hovering shows the exact value.
_DRAW = """
(function () {
  var charts = JSON.parse(document.getElementById("report-data").textContent);
  var palette = ["#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2",
                 "#db2777", "#65a30d", "#ea580c", "#475569"];
  var usd = new Intl.NumberFormat("en-US", {style: "currency", currency: "USD"});
  var num = new Intl.NumberFormat("en-US");
  Chart.defaults.animation = false;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#4b5563";
  charts.forEach(function (c) {
    var fmt = function (v) { return (c.money ? usd : num).format(v); };
    var round = c.kind === "doughnut";
    var valueAxis = c.horizontal ? "x" : "y";
    var scales = {};
    if (!round) {
      scales[valueAxis] = {beginAtZero: true, ticks: {callback: function (v) { return fmt(v); }},
                           grid: {color: "#eef1f5"}};
      scales[c.horizontal ? "y" : "x"] = {grid: {display: false}};
    }
    new Chart(document.getElementById(c.id), {
      type: c.kind,
      data: {labels: c.labels, datasets: [{
        label: c.series, data: c.values,
        backgroundColor: round ? palette : (c.kind === "line" ? "rgba(37,99,235,.12)" : "#2563eb"),
        borderColor: round ? "#fff" : "#2563eb", borderWidth: round ? 2 : 1.5,
        fill: c.kind === "line", pointRadius: c.kind === "line" ? 0 : undefined, tension: 0.25,
        borderRadius: round ? 0 : 4, maxBarThickness: 28
      }]},
      options: {
        indexAxis: c.horizontal ? "y" : "x", responsive: true, maintainAspectRatio: false,
        interaction: {mode: round ? "nearest" : "index", intersect: round},
        plugins: {
          legend: {display: round, position: "right"},
          tooltip: {callbacks: {label: function (ctx) {
            var v = round ? ctx.parsed : ctx.parsed[valueAxis];
            return " " + c.series + ": " + fmt(v);
          }}}
        },
        scales: scales
      }
    });
  });
})();
"""

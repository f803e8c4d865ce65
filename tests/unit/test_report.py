"""The report page from query results (no engine): data is escaped, freshness reads status, and
the local target's `dashboard` points at `report`."""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpers import cli

from orderpipe import report
from orderpipe.results import Lag
from orderpipe.targets.base import QueryResult

EVIL = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"


def result(columns: list[str], *rows: tuple) -> QueryResult:
    return QueryResult(columns=columns, types=["varchar"] * len(columns), rows=list(rows))


def sample_results() -> dict[str, QueryResult]:
    return {
        "kpis": result(["revenueusd", "invoices", "customers", "avginvoiceusd", "lines", "highpct",
                        "quarantined", "quarantinepct", "firstday", "lastday"],
                       (1234.5, 3, 2, 411.5, 9, 11.11, 1, 10.0, "2010-12-01", "2010-12-02")),
        "daily-revenue": result(["orderdate", "invoices", "customers", "revenueusd"],
                                ("2010-12-01", 2, 2, 1000.0), ("2010-12-02", 1, 1, 234.5)),
        "regional-revenue": result(["region", "revenueusd"], ("Europe", 1234.5)),
        "country-performance": result(["country", "revenueusd", "highpct"],
                                      (EVIL, 1000.0, 0.0), ("France", 234.5, 0.0)),
        "peak-hours": result(["hour", "invoices"], (9, 2), (14, 1)),
        "missing-data": result(["reason", "records", "example"], ("cancelled", 1, "C536379")),
        "top-orders": result(["invoiceno", "customerid", "country", "totalusd"],
                             ("536365", "17850", EVIL, 1000.0)),
    }  # fmt: skip


def test_data_is_escaped_in_the_table_and_the_chart_data() -> None:
    page = report.render(report.ReportData("shop", sample_results()))
    assert "<img src=x" not in page and "<script>alert" not in page
    assert page.count("</script>") == 3  # the data block, Chart.js and the drawing script
    block = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page)
    assert block is not None
    charts = {c["id"]: c for c in json.loads(block.group(1))}
    assert charts["chart-country-performance"]["labels"] == [EVIL, "France"]
    assert charts["chart-country-performance"]["values"] == [1000.0, 234.5]  # revenue, not highpct
    assert "$1,234.50" in page and "10.00%" in page


def test_empty_results_say_so_instead_of_an_empty_chart() -> None:
    results = sample_results()
    results["missing-data"] = result(["reason", "records", "example"])
    page = report.render(report.ReportData("shop", results))
    assert page.count("<canvas") == 4 and "No rows yet." in page


def test_the_lag_card_shows_the_targets_lag() -> None:
    lag = Lag(90.0, raw_objects_waiting=1, newest_queryable_at="2026-01-01 12:00:00 UTC")
    page = report.render(report.ReportData("shop", sample_results(), lag=lag))
    card = page[page.index('data-kpi="lag"') :]
    assert card.index("1.5 min") < card.index("queryable as of 2026-01-01 12:00:00 UTC")
    blank = report.render(report.ReportData("shop", sample_results()))
    assert '<div class="label">Lag</div><div class="value">—</div>' in blank


def test_dashboard_on_the_local_target_points_to_report(tmp_path: Path) -> None:
    assert "orderpipe report" in cli(tmp_path, "dashboard", "up", code=2).stderr

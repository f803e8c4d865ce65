"""`orderpipe report` on a replayed slice of the real head sample, opened in headless Chromium:
every chart drawn, no request leaves the file, and the page shows the named queries' numbers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import cli

EVERY = 13  # every 13th line of the 2010-12 head sample: ~3,000 lines over all its days
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def query(home: Path, name: str) -> list[dict[str, Any]]:
    return cli(home, "query", name, "--format", "json").json()


@pytest.fixture(scope="module")
def lake(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose lake holds a slice of the real head sample, replayed and transformed."""
    head = shared_data / "online_retail_2010-12_head.csv"
    root = tmp_path_factory.mktemp("report")
    sample = root / "head.csv"
    lines = head.read_bytes().splitlines(keepends=True)
    sample.write_bytes(lines[0] + b"".join(lines[1::EVERY]))
    home = root / "home"
    cli(home, "generate", "--replay", str(sample))
    cli(home, "transform", "run")
    return home


@pytest.fixture(scope="module")
def page_file(lake: Path) -> Path:
    out = lake.parent / "report.html"
    result = cli(lake, "report", "--out", str(out))
    assert "7 queries" in result.output
    return out


def test_each_figure_on_the_page_is_its_named_query(lake: Path, page_file: Path) -> None:
    page = page_file.read_text(encoding="utf-8")
    kpis = query(lake, "kpis")[0]
    assert f'data-kpi="revenueusd"><div class="label">Revenue</div><div class="value">' \
           f"${kpis['revenueusd']:,.2f}<" in page  # fmt: skip
    assert f">{kpis['invoices']:,}<" in page and f">{kpis['quarantinepct']:.2f}%<" in page
    top = query(lake, "top-orders")
    table = page[page.index("<table>") :]
    positions = [table.index(f"<td>{row['invoiceno']}</td>") for row in top]
    assert positions == sorted(positions) and len(top) == 10
    assert "<link" not in page and " src=" not in page and "@font-face" not in page  # all inline


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


DRAWN = """() => [...document.querySelectorAll('canvas')].map(c => {
  const chart = Chart.getChart(c);
  const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  return {id: c.id, width: c.width, height: c.height, chart: !!chart,
          painted: pixels.some((v, i) => i % 4 === 3 && v > 0),
          values: chart ? chart.data.datasets[0].data : null};
})"""

HOVER_FIRST = """id => {
  const chart = Chart.getChart(document.getElementById(id));
  const point = chart.getDatasetMeta(0).data[0];
  const box = chart.canvas.getBoundingClientRect();
  return {x: box.left + point.x, y: box.top + point.y};
}"""

TOOLTIP = """id => {
  const tip = Chart.getChart(document.getElementById(id)).tooltip;
  return tip.getActiveElements().length ? tip.body.map(b => b.lines.join(' ')).join(' ') : '';
}"""


def test_the_report_in_headless_chromium(lake: Path, page_file: Path, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    url = page_file.resolve().as_uri()
    page.goto(url, wait_until="load")

    drawn = page.evaluate(DRAWN)
    assert [c["id"] for c in drawn] == [
        "chart-daily-revenue", "chart-regional-revenue", "chart-country-performance",
        "chart-peak-hours", "chart-missing-data",
    ]  # the report's five charts, in page order  # fmt: skip
    for canvas in drawn:
        assert canvas["chart"] and canvas["painted"], canvas["id"]
        assert canvas["width"] > 200 and canvas["height"] > 150, canvas
    countries = {c["id"]: c["values"] for c in drawn}["chart-country-performance"]
    assert countries == [r["revenueusd"] for r in query(lake, "country-performance")]

    kpis = query(lake, "kpis")[0]
    shown = page.inner_text('[data-kpi="revenueusd"] .value')
    assert float(shown.lstrip("$").replace(",", "")) == kpis["revenueusd"]

    page.locator("#chart-peak-hours").scroll_into_view_if_needed()
    spot = page.evaluate(HOVER_FIRST, "chart-peak-hours")
    page.mouse.move(spot["x"], spot["y"])
    first_hour = query(lake, "peak-hours")[0]
    assert f"invoices: {first_hour['invoices']:,}" in page.evaluate(TOOLTIP, "chart-peak-hours")

    shot = page_file.with_suffix(".png")
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert not errors, errors
    assert requests == [url], requests  # nothing but the file itself
    page.close()

"""The CLI contracts of design.md §3.1 that a user scripts against, on one small local pipeline:
generate --no-ship then ship --log-dir, transform run's job parameters, query output formats,
--chart, the columns of every named query, and exit code 1 when a query or the job fails."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest
from helpers import ENV, cli, orderpipe_until, query_json

from orderpipe import queries

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ORDERS = 400


def raw_files(home: Path) -> list[Path]:
    return [p for p in (home / "buckets" / "orderpipe-raw").rglob("*") if p.is_file()]


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Orders written with --no-ship, delivered by `ship --log-dir`, transformed with fx 2.0 and
    a High threshold of 50."""
    home = tmp_path_factory.mktemp("contracts") / "home"
    wrote = cli(home, "generate", "--count", str(ORDERS), "--seed", "5", "--no-ship")
    assert f"wrote {ORDERS} orders" in wrote.stderr and "shipped" not in wrote.stderr
    assert raw_files(home) == []
    shipped = cli(home, "ship", "--log-dir", str(home / "logs"))
    assert f"shipped {ORDERS} lines" in shipped.stderr and raw_files(home)
    cli(home, "transform", "run", "--fx-rate", "2", "--high-value-threshold", "50")
    return home


PRICED = (
    "SELECT count(*) AS n,"
    " count(*) FILTER (WHERE totalamountusd <> round(quantity * unitprice * {fx}, 2)) AS off,"
    " count(*) FILTER (WHERE (ordertag = 'High') <> (totalamountusd > {high})) AS mistagged"
    " FROM transformed_orders"
)


def test_job_parameters_and_full_refresh(lake: Path) -> None:
    first = query_json(lake, PRICED.format(fx=2, high=50))[0]
    assert first["n"] > 300 and first["off"] == 0 and first["mistagged"] == 0

    cli(lake, "transform", "run", "--fx-rate", "3")  # nothing new: the lake stays as it is
    assert query_json(lake, PRICED.format(fx=2, high=50))[0] == first

    cli(lake, "transform", "run", "--fx-rate", "3", "--high-value-threshold", "500",
        "--full-refresh")  # fmt: skip
    assert query_json(lake, PRICED.format(fx=3, high=500))[0] == first  # every row recomputed


def test_query_csv_is_a_header_and_rows_on_stdout(lake: Path) -> None:
    sql = "SELECT country, count(*) AS lines FROM transformed_orders GROUP BY 1 ORDER BY 2 DESC"
    result = cli(lake, "query", "sql", sql, "--format", "csv")
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["country", "lines"]
    assert rows[1:] == [[r["country"], str(r["lines"])] for r in query_json(lake, sql)]


def test_chart_draws_one_bar_per_row(lake: Path) -> None:
    plain = cli(lake, "query", "peak-hours").stdout
    charted = cli(lake, "query", "peak-hours", "--chart").stdout
    hours = query_json(lake, "SELECT count(DISTINCT invoicehour) AS n FROM transformed_orders")
    assert "█" not in plain
    assert sum("█" in line for line in charted.splitlines()) == hours[0]["n"]


@pytest.mark.parametrize("name", sorted(queries.load()))
def test_each_named_query_returns_on_duckdb_the_columns_it_names_for_athena(
    lake: Path, name: str
) -> None:
    import sqlglot

    from orderpipe.settings import load_settings
    from orderpipe.targets import get_target

    sql, values = queries.resolve(queries.load()[name], {})
    result = get_target(load_settings(home=str(lake))).query(sql, values)
    named = sqlglot.parse_one(sql, read="athena").named_selects
    assert [c.lower() for c in result.columns] == [c.lower() for c in named]


def test_report_names_the_file_it_wrote_as_given(lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "[b]page.html"  # a name Rich would read as markup
    said = cli(lake, "report", "--out", out).said
    assert out.is_file() and f"→ {out}" in said


def test_a_failed_query_exits_1_with_one_sentence(lake: Path) -> None:
    result = cli(lake, "query", "sql", "SELECT no_such_column FROM transformed_orders", code=1)
    assert result.stdout == "" and result.stderr.startswith("Error:")
    assert "no_such_column" in result.stderr


def test_ship_follow_delivers_what_arrives_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    home, logs = tmp_path / "home", tmp_path / "elsewhere"
    logs.mkdir()
    cli(home, "up")
    checkpoints = home / "state" / "agent" / "checkpoints.json"
    order = FIXTURES / "orders.ndjson"
    threading.Timer(1, shutil.copy, (order, logs / "orders-1.ndjson")).start()  # arrives later
    agent = orderpipe_until("--home", home, "ship", "--follow", "--log-dir", logs,
                            ready=lambda: "orders-1" in _read(checkpoints), signal=signal.SIGINT,
                            env={**os.environ, **ENV})  # fmt: skip
    lines = order.read_text().count("\n")
    assert f"shipped {lines} lines" in agent.stderr


def _read(path: Path) -> str:
    return path.read_text() if path.is_file() else ""


def logged(home: Path) -> str:
    return "".join(p.read_text(encoding="utf-8") for p in sorted((home / "logs").glob("*")))


def test_generate_encoding_is_the_one_given(home: Path) -> None:
    latin1, utf8 = FIXTURES / "latin1_crlf.csv", FIXTURES / "quoted_utf8.csv"
    wrong = cli(home, "generate", "--replay", str(latin1), "--encoding", "utf-8", code=2)
    assert "latin1_crlf.csv line 2 is not valid utf-8" in " ".join(wrong.stderr.split())
    assert "--encoding" in wrong.stderr
    cli(home, "generate", "--replay", str(latin1), "--encoding", "cp1252", "--no-ship")
    assert "CRÈME BRÛLÉE SET" in logged(home)
    text = utf8.read_text(encoding="utf-8")
    cli(home, "generate", "--replay", str(utf8), "--encoding", "latin-1", "--no-ship")
    accented = next(c for c in text if ord(c) > 127)  # read as asked: UTF-8 bytes as Latin-1
    assert accented.encode().decode("latin-1") in logged(home)


def test_generate_rate_paces_the_writes(home: Path) -> None:
    started = time.monotonic()
    cli(home, "generate", "--count", "40", "--rate", "80", "--no-ship")
    assert time.monotonic() - started >= 0.45  # 40 lines at 80/s: half a second at least
    assert logged(home).count("\n") == 40


def test_a_failed_job_exits_1_and_is_recorded_as_failed(home: Path) -> None:
    cli(home, "generate", "--count", "50", "--seed", "9")
    cli(home, "transform", "run")
    for data in (home / "buckets" / "orderpipe-lake" / "transformed_orders").rglob("*.parquet"):
        data.write_bytes(b"not parquet")  # the lake damaged behind the job's back
    cli(home, "generate", "--count", "50", "--seed", "9")
    failed = cli(home, "transform", "run", code=1)
    assert failed.stdout == "" and failed.stderr.count("Error:") == 1
    assert "Error: the transform job failed: a lake file is unreadable" in failed.stderr
    assert "--full-refresh" in failed.stderr
    # The job wrote the failed run's summary; both commands read it from there.
    written = [json.loads(p.read_text()) for p in (home / "buckets").glob("*/_runs/*.json")]
    (summary,) = [s for s in written if s["state"] == "FAILED"]
    assert summary["error"].startswith("a lake file is unreadable")
    assert summary["transformed"] is None
    for args in (["transform", "status"], ["status"]):
        runs = " ".join(cli(home, *args).stdout.split())
        assert f"{summary['run_id']} " in runs and "SUCCEEDED" in runs
        assert "FAILED: a lake file is unreadable" in runs

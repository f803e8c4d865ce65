"""The local target end to end through the CLI: real files, real DuckDB (and real Spark for
`--engine spark`)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from helpers import cli, query_json

pytestmark = pytest.mark.slow  # the whole pipeline through the CLI, on real samples
HEAD, TAIL = "online_retail_2010-12_head.csv", "online_retail_2011-12_tail.csv"
TAIL_FORMATS = ["--date-format", "%m/%d/%y %H:%M", "--date-format", "%m-%d-%y %H:%M"]


def table_counts(home: Path) -> tuple[int, int]:
    row = query_json(
        home,
        "SELECT (SELECT count(*) FROM transformed_orders) AS t,"
        " (SELECT count(*) FROM quarantined_orders) AS q",
    )[0]
    return row["t"], row["q"]


def distinct_csv_records(path: Path, encoding: str) -> int:
    with path.open(encoding=encoding, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return len({tuple(r) for r in rows if r})


def test_transform_before_any_data_says_what_to_do(home: Path) -> None:
    cli(home, "up")
    result = cli(home, "transform", "run", code=1)
    assert "no raw data" in result.stderr and result.stdout == ""


def test_synthetic_orders_end_to_end_and_reruns_change_nothing(home: Path) -> None:
    cli(home, "generate", "--count", "3000", "--seed", "7")
    run = cli(home, "transform", "run")
    assert "transformed" in run.output
    transformed, quarantined = table_counts(home)
    assert transformed + quarantined == 3000  # synthetic records are all distinct
    assert transformed > 2500 and quarantined > 0

    top = cli(home, "query", "top-orders", "--format", "json").json()
    assert len(top) == 10
    first = top[0]
    assert set(first) == {"invoiceno", "customerid", "country", "invoicedate", "lines", "items",
                          "totalusd"}  # fmt: skip
    assert isinstance(first["totalusd"], float) and isinstance(first["lines"], int)
    assert len(first["invoicedate"]) == 10 and first["invoicedate"][4] == "-"
    assert [r["totalusd"] for r in top] == sorted((r["totalusd"] for r in top), reverse=True)

    # The agent loses its checkpoints (as the Kinesis Agent does when a reboot wipes /var/run)
    # and sends every line again; then a second job run: nothing doubles.
    (home / "state" / "agent" / "checkpoints.json").unlink()
    cli(home, "ship")
    cli(home, "transform", "run")
    cli(home, "transform", "run")
    assert table_counts(home) == (transformed, quarantined)

    csv_out = cli(home, "query", "top-orders", "--format", "csv", "--param", "limit=3").stdout
    lines = csv_out.strip().splitlines()
    assert lines[0] == "invoiceno,customerid,country,invoicedate,lines,items,totalusd"
    assert len(lines) == 4

    report = home.parent / "report.html"
    cli(home, "report", "--out", str(report))
    page = report.read_text()
    assert page.count("<canvas") == 5 and "orderpipe query top-orders" in page

    status = cli(home, "status", "--format", "json").json()
    assert status["freshness"]["transformed_rows"] == transformed
    runs = cli(home, "transform", "status").stdout
    assert "SUCCEEDED" in runs


def sample(path: Path, every: int, folder: Path) -> Path:
    """The CSV's header and every `every`th line after it (the file itself when `every` is 1)."""
    if every == 1:
        return path
    lines = path.read_bytes().splitlines(keepends=True)
    (folder / path.name).write_bytes(lines[0] + b"".join(lines[1::every]))
    return folder / path.name


@pytest.mark.parametrize(
    ("engine", "every"), [("duckdb", 1), pytest.param("spark", 200, marks=pytest.mark.spark)]
)
def test_real_samples_replay_and_add_up_exactly(
    home: Path, shared_data: Path, tmp_path: Path, engine: str, every: int,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    """Spark through the CLI on every 200th line: its tables equal DuckDB's on the whole samples
    in test_engine_equality, where the engines meet without the CLI."""
    if engine == "spark":
        request.getfixturevalue("spark")  # the test session's SparkSession, reused by the run
    head, tail = (sample(shared_data / name, every, tmp_path) for name in (HEAD, TAIL))
    cli(home, "generate", "--replay", head)
    cli(home, "generate", "--replay", tail, *TAIL_FORMATS)
    run = cli(home, "transform", "run", "--engine", engine).stdout
    assert re.search(rf"│ engine +│ +{engine} +│", run), run
    expected = distinct_csv_records(head, "latin-1") + distinct_csv_records(tail, "latin-1")
    transformed, quarantined = table_counts(home)
    assert transformed + quarantined == expected

    missing = cli(home, "query", "missing-data", "--format", "json").json()
    reasons = {r["reason"]: r["records"] for r in missing}
    assert reasons["cancelled"] > 0 and reasons["missing_customer"] > 0
    assert sum(reasons.values()) == quarantined
    dates = query_json(home, "SELECT min(invoicedateonly) AS lo, max(invoicedateonly) AS hi "
                             "FROM transformed_orders")[0]  # fmt: skip
    assert dates["lo"] == "2010-12-01" and dates["hi"] == "2011-12-09"

    cli(home, "generate", "--replay", head)  # replaying again doubles nothing
    cli(home, "transform", "run", "--engine", engine)
    assert table_counts(home) == (transformed, quarantined)


def test_empty_replay_file_is_one_clear_error(home: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = cli(home, "generate", "--replay", str(empty), code=2)
    assert "empty" in result.stderr.lower()

"""The DuckDB engine against damage, and the lake's versions. A raw object that cannot be fully
read never blocks the job: every line that can be read lands in the tables, the rest is
quarantined as `unreadable` with the object's name; invalid UTF-8 keeps two lines that differ in
one byte apart. A corrupt lake file is one sentence, and a full refresh rebuilds the lake from
raw. A partition's old version stays for the grace period, then goes."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from orderpipe.job import job_io
from orderpipe.job.duck_engine import DuckEngine
from orderpipe.job.run import run_job
from orderpipe.job.summary import RunSummary


def order(n: int) -> bytes:
    return json.dumps({"InvoiceNo": str(600000 + n), "StockCode": "A", "Description": "x",
                       "Quantity": 1, "InvoiceDate": "2011-12-09 12:00:00", "UnitPrice": 1.5,
                       "CustomerID": "1", "Country": "France"}).encode()  # fmt: skip


def quarantined(lake: Path) -> list[tuple]:
    import duckdb

    current = list(job_io.current_files(job_io.Files(), str(lake), "quarantined_orders"))
    sql = (
        "SELECT reason, raw_line, ingested_from, recordid "
        "FROM read_parquet(?, hive_partitioning = true) ORDER BY ALL"
    )
    return duckdb.sql(sql, params=[current]).fetchall()


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    folder = tmp_path / "raw" / "raw" / "year=2011" / "month=12" / "day=09" / "hour=12"
    folder.mkdir(parents=True)
    whole = gzip.compress(b"\n".join(order(n) for n in range(200)) + b"\n")
    (folder / "a-good.gz").write_bytes(gzip.compress(b"\n".join(order(n) for n in range(200, 210))))
    (folder / "b-truncated.gz").write_bytes(whole[: len(whole) // 2])
    (folder / "c-not-gzip.gz").write_bytes(b"this was never gzip\n" * 3)
    (folder / "d-bytes.ndjson").write_bytes(
        b"\n".join([order(300), b'{"bad": "\xff"}', b'{"bad": "\xfe"}'])
    )
    return tmp_path / "raw"


def run(raw: Path, lake: Path, **kwargs: Any) -> RunSummary:
    return run_job(DuckEngine(), raw_path=str(raw), lake_path=str(lake), database="orderpipe",
                   catalog_path=str(lake.parent / "catalog.json"),
                   bookmark_path=str(lake.parent / "bookmark.json"), **kwargs)  # fmt: skip


def test_readable_lines_land_and_the_rest_is_quarantined_unreadable(
    raw: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    summary = run(raw, lake)
    assert summary.state == "SUCCEEDED" and summary.objects_read == 4
    rows = quarantined(lake)
    unreadable = [r for r in rows if r[0] == "unreadable"]
    assert len(unreadable) == 4 == summary.quarantined["unreadable"]
    by_object = {Path(r[2]).name: r for r in unreadable if r[2].endswith(".gz")}
    assert set(by_object) == {"b-truncated.gz", "c-not-gzip.gz"}
    assert "cut short" in by_object["b-truncated.gz"][1]
    assert "not readable as gzip" in by_object["c-not-gzip.gz"][1]
    shown = sorted(r[1] for r in unreadable if r[2].endswith(".ndjson"))
    assert shown == ['{"bad": "\\xfe"}', '{"bad": "\\xff"}']  # two records, shown escaped
    kept = summary.transformed
    assert 10 + 1 < kept < 10 + 1 + 200  # the good objects, and the truncated one's first lines
    assert summary.distinct_records == kept + summary.quarantined_total

    again = run(raw, lake, full_refresh=True)
    assert (again.transformed, again.quarantined_total) == (
        kept,
        summary.quarantined_total,
    )
    assert quarantined(lake) == rows


def test_a_corrupt_lake_file_is_one_sentence_and_a_full_refresh_repairs_it(
    raw: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    run(raw, lake)
    victim = next(iter(job_io.current_files(job_io.Files(), str(lake), "transformed_orders")))
    Path(victim).write_bytes(b"not parquet")
    (raw / "raw" / "year=2011" / "month=12" / "day=09" / "hour=12" / "e-more.ndjson").write_bytes(
        order(999)
    )
    with pytest.raises(RuntimeError, match="full-refresh") as failure:
        run(raw, lake)
    assert victim in str(failure.value) and "\n" not in str(failure.value)
    assert run(raw, lake, full_refresh=True).state == "SUCCEEDED"


def test_old_versions_stay_for_the_grace_period_then_go(raw: Path, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    run(raw, lake)
    part = lake / "transformed_orders" / "country_partition=France" / "date_partition=2011-12-09"
    hour = raw / "raw" / "year=2011" / "month=12" / "day=09" / "hour=12"
    (hour / "e-more.ndjson").write_bytes(order(1000))
    run(raw, lake)  # default grace: the version a running query may read stays
    assert len([v for v in part.iterdir() if v.name.startswith("v")]) == 2
    (hour / "f-more.ndjson").write_bytes(order(1001))
    run(raw, lake, grace_seconds=0)
    (current,) = [v for v in part.iterdir()]
    catalog = json.loads((lake.parent / "catalog.json").read_text())
    table = catalog["databases"]["orderpipe"]["tables"]["transformed_orders"]
    assert table["locations"][str(part.relative_to(lake / "transformed_orders"))] == str(current)

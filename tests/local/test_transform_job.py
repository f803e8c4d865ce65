"""The whole job with each engine (DuckDB, local Spark), as the local target runs it: raw objects
in the Firehose layout, incremental runs with a bookmark, exactly-once merging, full refresh,
crash recovery, catalog.

One scenario, run once per engine (Spark runs are the slow part); each test checks one thing
a user would notice about it."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from orderpipe.job import job_io
from orderpipe.job.localcatalog import LocalCatalog
from orderpipe.job.run import run_job
from orderpipe.job.transform import REASONS

pytestmark = pytest.mark.spark

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
HOUR = "year=2011/month=12/day=09/hour=12"
EXTRA = [
    "not json at all",
    json.dumps({"InvoiceNo": "", "StockCode": "X", "Description": "", "Quantity": 1,
                "InvoiceDate": "2011-12-09 12:00:00", "UnitPrice": 1.0, "CustomerID": "1",
                "Country": "France"}),
    json.dumps({"InvoiceNo": "999001", "StockCode": "X", "Description": "", "Quantity": 0,
                "InvoiceDate": "2011-12-09 12:00:00", "UnitPrice": 1.0, "CustomerID": "1",
                "Country": "France"}),
    json.dumps({"InvoiceNo": "999002", "StockCode": "X", "Description": "é", "Quantity": 2,
                "InvoiceDate": "9.12.2011 12:00", "UnitPrice": 1.0, "CustomerID": "1",
                "Country": "France"}),
]  # fmt: skip


def real_lines() -> list[str]:
    return FIXTURES.joinpath("online_retail_rows.ndjson").read_text(encoding="utf-8").splitlines()


def expected_reason(raw: dict[str, Any]) -> str | None:
    """An independent, plain-Python statement of rule 5 for well-formed records."""
    date_ok = False
    for fmt in ("%Y-%m-%d %H:%M:%S", "%m/%d/%Y %H:%M"):
        try:
            datetime.strptime(raw["InvoiceDate"], fmt)
            date_ok = True
        except ValueError:
            pass
    checks = [
        ("missing_key", not raw["InvoiceNo"] or not raw["StockCode"]),
        ("cancelled", raw["InvoiceNo"].startswith("C")),
        ("non_positive_quantity", raw["Quantity"] <= 0),
        ("non_positive_price", raw["UnitPrice"] <= 0),
        ("missing_customer", not raw["CustomerID"]),
        ("bad_timestamp", not date_ok),
    ]
    return next((reason for reason, hit in checks if hit), None)


def rows(lake: Path, table: str) -> list[tuple]:
    """The table as a reader sees it: each partition's current version."""
    import duckdb

    current = list(job_io.current_files(job_io.Files(), str(lake), table))
    if not current:
        return []
    sql = "SELECT * EXCLUDE (quarantined_at) " if table == "quarantined_orders" else "SELECT * "
    found = duckdb.sql(sql + "FROM read_parquet(?, hive_partitioning = true)", params=[current])
    return sorted(found.fetchall(), key=repr)


def files(lake: Path) -> dict[str, list[str]]:
    """Current data files per partition (`table/k=v/...`)."""
    found: dict[str, list[str]] = {}
    for table in ("transformed_orders", "quarantined_orders"):
        for path, part in job_io.current_files(job_io.Files(), str(lake), table).items():
            found.setdefault(f"{table}/{part}", []).append(Path(path).name)
    return found


@pytest.fixture(scope="module", params=["duckdb", "spark"])
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    if request.param == "spark":
        from orderpipe.job.spark_engine import SparkEngine

        engine: Any = SparkEngine(request.getfixturevalue("spark"))
    else:
        from orderpipe.job.duck_engine import DuckEngine

        engine = DuckEngine()
    base = tmp_path_factory.mktemp("job")
    raw_dir = base / "buckets" / "orderpipe-raw" / "raw" / HOUR
    raw_dir.mkdir(parents=True)
    lake = base / "buckets" / "orderpipe-lake"
    kwargs = {
        "raw_path": str(base / "buckets" / "orderpipe-raw"),
        "lake_path": str(lake),
        "database": "orderpipe",
        "catalog_path": str(base / "catalog.json"),
        "bookmark_path": str(base / "state" / "bookmark.json"),
    }
    real = real_lines()
    # Object 1 (gzip, several lines per record batch, as Firehose writes): real rows + edge lines.
    first = real + EXTRA
    (raw_dir / "orders-1.gz").write_bytes(gzip.compress(("\n".join(first) + "\n").encode()))
    out: dict[str, Any] = {"base": base, "lake": lake, "first_lines": first}
    out["run1"] = run_job(engine, **kwargs, run_id="run-1")
    out["rows1"] = {t: rows(lake, t) for t in ("transformed_orders", "quarantined_orders")}
    out["files1"] = files(lake)

    out["run2"] = run_job(engine, **kwargs, run_id="run-2")  # nothing new
    out["rows2"] = {t: rows(lake, t) for t in ("transformed_orders", "quarantined_orders")}
    out["files2"] = files(lake)

    # Object 2 (plain NDJSON): half of object 1 redelivered (agent retry) + one new order line
    # in a partition that already holds rows + one new quarantined record.
    new_clean = json.loads(real[0]) | {"StockCode": "NEW-1", "Quantity": 7}
    new_bad = json.loads(real[0]) | {"StockCode": "NEW-2", "CustomerID": None}
    second = [*real[: len(real) // 2], json.dumps(new_clean), json.dumps(new_bad)]
    (raw_dir / "orders-2.ndjson").write_text("\n".join(second) + "\n", encoding="utf-8")
    out["second_lines"] = second

    # The first attempt crashes while publishing, after its commit point.
    real_rename, calls = job_io.Files.rename, Counter()

    def crashing_rename(self: Any, src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("simulated crash while publishing")
        real_rename(self, src, dst)

    job_io.Files.rename = crashing_rename  # type: ignore[method-assign]
    try:
        with pytest.raises(OSError, match="simulated crash"):
            run_job(engine, **kwargs, run_id="run-3-crashed")
    finally:
        job_io.Files.rename = real_rename  # type: ignore[method-assign]
    out["bookmark_after_crash"] = json.loads(Path(kwargs["bookmark_path"]).read_text())
    out["run3"] = run_job(engine, **kwargs, run_id="run-3")
    out["rows3"] = {t: rows(lake, t) for t in ("transformed_orders", "quarantined_orders")}
    out["files3"] = files(lake)

    out["run4"] = run_job(engine, **kwargs, full_refresh=True, run_id="run-4")
    out["rows4"] = {t: rows(lake, t) for t in ("transformed_orders", "quarantined_orders")}
    out["files4"] = files(lake)
    out["bookmark"] = json.loads(Path(kwargs["bookmark_path"]).read_text())
    out["catalog"] = LocalCatalog(Path(kwargs["catalog_path"])).tables("orderpipe")
    return out


def test_first_run_accounts_for_every_record(scenario: dict[str, Any]) -> None:
    s = scenario["run1"]
    lines = scenario["first_lines"]
    assert s.state == "SUCCEEDED" and s.objects_read == 1
    assert s.records_read == len(lines)
    assert s.distinct_records == len(set(lines))  # the fixture holds one exact duplicate
    assert s.duplicates_dropped == len(lines) - len(set(lines)) == 1
    assert s.distinct_records == s.transformed + s.quarantined_total
    in_lake = Counter(row[-1] for row in scenario["rows1"]["quarantined_orders"])  # reason
    assert in_lake == +Counter(s.quarantined)  # each count printed is what the table holds
    assert len(scenario["rows1"]["transformed_orders"]) == s.transformed
    assert len(scenario["rows1"]["quarantined_orders"]) == s.quarantined_total


def test_real_rows_land_where_the_rules_say(scenario: dict[str, Any]) -> None:
    expected = Counter(expected_reason(json.loads(x)) for x in set(real_lines()))
    got = scenario["run1"].quarantined
    extra = {"malformed": 1, "missing_key": 1, "non_positive_quantity": 1, "bad_timestamp": 1}
    for reason in REASONS:
        assert got[reason] == expected[reason] + extra.get(reason, 0), reason
    assert scenario["run1"].transformed == expected[None]
    assert expected["cancelled"] and expected["missing_customer"] and expected["non_positive_price"]


def test_one_file_per_partition_and_summary_file(scenario: dict[str, Any]) -> None:
    for snapshot in ("files1", "files3", "files4"):
        assert all(len(names) == 1 for names in scenario[snapshot].values()), snapshot
    assert len(scenario["files1"]) == scenario["run1"].partitions_written
    lake = scenario["lake"]
    assert json.loads((lake / "_runs" / "run-1.json").read_text()) == scenario["run1"].to_json()
    assert not (lake / "_staging").exists() or not any((lake / "_staging").iterdir())


def test_rerun_without_new_data_changes_nothing(scenario: dict[str, Any]) -> None:
    s = scenario["run2"]
    assert (s.state, s.objects_read, s.records_read, s.transformed) == (
        "SUCCEEDED", 0, 0, 0,
    )  # fmt: skip
    assert s.quarantined == dict.fromkeys(REASONS, 0)
    assert scenario["rows2"] == scenario["rows1"]
    assert scenario["files2"] == scenario["files1"]


def test_incremental_run_adds_only_new_records_after_a_crash(scenario: dict[str, Any]) -> None:
    # The crashed attempt never committed its bookmark, and left its own FAILED summary…
    assert scenario["bookmark_after_crash"]["objects"] == [f"raw/{HOUR}/orders-1.gz"]
    crashed = json.loads((scenario["lake"] / "_runs" / "run-3-crashed.json").read_text())
    assert (crashed["state"], crashed["error"]) == ("FAILED", "simulated crash while publishing")
    assert crashed["transformed"] is None
    s = scenario["run3"]
    second = scenario["second_lines"]
    assert s.objects_read == 1 and s.records_read == len(second)
    before = {t: set(r) for t, r in scenario["rows1"].items()}
    after = {t: set(r) for t, r in scenario["rows3"].items()}
    # …and the retry finished its publication: exactly the two new records were added, once.
    assert len(after["transformed_orders"] - before["transformed_orders"]) == 1
    assert len(after["quarantined_orders"] - before["quarantined_orders"]) == 1
    assert before["transformed_orders"] <= after["transformed_orders"]
    assert before["quarantined_orders"] <= after["quarantined_orders"]
    for table, table_rows in scenario["rows3"].items():
        ids = [r[14] if table == "transformed_orders" else r[9] for r in table_rows]
        assert len(ids) == len(set(ids)), table


def test_full_refresh_rebuilds_the_same_tables(scenario: dict[str, Any]) -> None:
    s = scenario["run4"]
    assert s.full_refresh is True and s.objects_read == 2
    assert s.already_present == 0
    assert scenario["rows4"] == scenario["rows3"]
    assert s.transformed == len(scenario["rows3"]["transformed_orders"])
    assert scenario["bookmark"]["objects"] == [
        f"raw/{HOUR}/orders-1.gz",
        f"raw/{HOUR}/orders-2.ndjson",
    ]


def test_tables_and_partitions_are_in_the_catalog(scenario: dict[str, Any]) -> None:
    catalog = scenario["catalog"]
    assert set(catalog) == {"transformed_orders", "quarantined_orders"}
    transformed = catalog["transformed_orders"]
    assert [k["Name"] for k in transformed["partition_keys"]] == [
        "country_partition",
        "date_partition",
    ]
    assert set(transformed["partitions"]) == {
        p.removeprefix("transformed_orders/") for p in scenario["files4"] if p.startswith("t")
    }
    assert "reason=malformed" in catalog["quarantined_orders"]["partitions"]

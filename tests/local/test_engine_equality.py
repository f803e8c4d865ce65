"""The two engines write the same tables: DuckDB (the local default) and Spark (the Glue job) on
the same raw objects — both real samples replayed, the generator's output for a fixed seed, every
fixture, and crafted edge cases — compared row by row, column by column, by recordid; after a
first run, an incremental run with redelivered and new lines, and a full refresh."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from orderpipe.generator import synthetic_orders
from orderpipe.job import job_io
from orderpipe.job.duck_engine import DuckEngine
from orderpipe.job.run import run_job
from orderpipe.job.summary import RunSummary
from orderpipe.replay import ReplayError, replay_orders

pytestmark = pytest.mark.spark

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TABLES = ("transformed_orders", "quarantined_orders")
BASE = {"InvoiceNo": "581001", "StockCode": "85123A", "Description": "HEART",
        "Quantity": 6, "InvoiceDate": "2011-12-09 12:50:00", "UnitPrice": 2.55,
        "CustomerID": "17850", "Country": "United Kingdom"}  # fmt: skip
VARIANTS: list[dict[str, Any]] = [
    # unicode
    {"Description": "Crème brûlée 🦆 日本 \u2028 e\u0301", "Country": "Côte d'Ivoire"},
    {"StockCode": "ß/é:%#?", "Country": "a/b=c%d"},  # partition folder escaping
    {"Country": "  France  ", "InvoiceNo": " C581002"},
    # numbers: huge, tiny, as strings, wrong types
    {"Quantity": 2147483647},
    {"Quantity": 2147483648},
    {"Quantity": 99999999999999999999},
    {"Quantity": -0},
    {"Quantity": 6.0},
    {"Quantity": 1e3},
    {"Quantity": "6"},
    {"Quantity": "06"},
    {"Quantity": " 6"},
    {"Quantity": True},
    {"Quantity": [6]},
    {"Quantity": {"n": 6}},
    {"UnitPrice": 1e-7},
    {"UnitPrice": 5e-11},
    {"UnitPrice": 1.5e-11},
    {"UnitPrice": 1e27},
    {"UnitPrice": 1e28},
    {"UnitPrice": 1.7976931348623157e308},
    {"UnitPrice": 0.0},
    {"UnitPrice": -0.0},
    {"UnitPrice": 1e-4},
    {"UnitPrice": 12345678.9},
    {"UnitPrice": 0.00049999},
    {"UnitPrice": "2.55"},
    {"UnitPrice": "2.550"},
    {"UnitPrice": " 2.55"},
    {"UnitPrice": "1e2"},
    {"UnitPrice": "abc"},
    {"UnitPrice": 3},
    {"UnitPrice": 123456789012345678901234567890},
    {"UnitPrice": 8333.333333333334, "Quantity": 1},  # total exactly at the 100 threshold
    {"InvoiceNo": 536365},
    {"StockCode": 85123},
    {"CustomerID": 17850.0},
    {"Country": ["UK"]},
    {"Description": {"a": [1, 2.5, "x"]}},
    # nulls and absent fields
    *({k: None} for k in BASE),
    *({"_drop": k} for k in BASE),
    {"InvoiceNo": ""},
    {"StockCode": "  "},
    {"CustomerID": ""},
    {"Country": " "},
    # both date shapes, and near misses
    {"InvoiceDate": "12/9/2011 12:50"},
    {"InvoiceDate": "1/1/2011 8:05"},
    {"InvoiceDate": " 2011-12-09 12:50:00 "},
    {"InvoiceDate": "2011-12-9 12:50:00"},
    {"InvoiceDate": "2011-02-30 10:00:00"},
    {"InvoiceDate": "13/1/2011 10:00"},
    {"InvoiceDate": "2011-12-09T12:50:00"},
    {"InvoiceDate": "12/09/2011 12:50:00"},
    {"InvoiceDate": "2011-12-09 24:00:00"},
    {"InvoiceDate": 20111209},
]
# .005 rounding edges: totals of qty × price × 0.012 landing on (or a hair off) half a cent.
ROUNDING = [
    *({"Quantity": q, "UnitPrice": round(i * 0.01 + 0.005, 3) / 0.012 * 0.01}
      for q in (1, 3, 7) for i in range(40)),
    *({"Quantity": q, "UnitPrice": p} for q in (1, 2, 5, 9)
      for p in (1.005, 2.675, 0.125, 0.375, 4.1666666666666667, 0.4375)),
]  # fmt: skip
NON_OBJECTS = ["[1, 2]", "42", "null", '"text"', "not json at all", '{"InvoiceNo": "1"',
               "true", "\t", "   {}   ", "{}", "\u00e9\u00e8 raw text  \t"]  # fmt: skip


# Lines that are not UTF-8: each a record of its own (ids from the exact bytes), shown escaped.
NOT_UTF8 = [b'{"bad": "\xff"}', b'{"bad": "\xfe"}', b'{"bad": "\xfe"}  \t',
            b"caf\xc3\xa9 \xe2\x82A \xed\xa0\x80 \xf0\x9f\xa6\x86 \xc0\xaf \xf4\x90\x80\x80 \t",
            b"\xe9t\xe9 latin-1", b"[\xff]"]  # fmt: skip


def variant(change: dict[str, Any], n: int) -> str:
    record = BASE | {"InvoiceNo": str(581100 + n)} | change
    record.pop(change.get("_drop", "_none"), None)
    record.pop("_drop", None)
    return json.dumps(record, ensure_ascii=n % 2 == 0)


def edge_lines() -> list[str]:
    lines = [variant(c, i) for i, c in enumerate([*VARIANTS, *ROUNDING])]
    lines += [*NON_OBJECTS, "", "   ", lines[0], lines[0] + "   "]
    # The same record with other spacing and key order: one record, one row.
    lines.append(json.dumps(dict(reversed(list(json.loads(lines[1]).items()))), indent=None))
    return lines


def replayed(path: Path) -> list[str]:
    """The raw lines replay ships for a file (day-first where the file does not decide)."""
    for formats in ([], ["%d/%m/%Y %H:%M"]):
        try:
            return [line.decode().rstrip("\n") for line in replay_orders(path, formats)]
        except ReplayError:
            continue
    return []  # empty or header-only: nothing to ship


def write(folder: Path, name: str, lines: list[str], newline: str = "\n") -> None:
    data = (newline.join(lines) + newline).encode()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(gzip.compress(data) if name.endswith(".gz") else data)


def table(lake: Path, name: str) -> list[tuple]:
    """Every row of a table's current partitions, by recordid."""
    import duckdb

    current = list(job_io.current_files(job_io.Files(), str(lake), name))
    if not current:
        return []
    cols = "* EXCLUDE (quarantined_at)" if name == "quarantined_orders" else "*"
    sql = f"SELECT {cols} FROM read_parquet(?, hive_partitioning = true) ORDER BY recordid"
    return duckdb.sql(sql, params=[current]).fetchall()


def same_numbers(summary: RunSummary) -> dict[str, Any]:
    drop = {"run_id", "started_at", "finished_at", "seconds", "engine"}
    return {k: v for k, v in summary.to_json().items() if k not in drop}


@pytest.fixture(scope="module")
def runs(spark: Any, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    from orderpipe.job.spark_engine import SparkEngine

    base = tmp_path_factory.mktemp("equality")
    raw = base / "raw"
    hour = raw / "raw" / "year=2011" / "month=12" / "day=09" / "hour=12"
    write(hour, "a-samples.gz", [line for f in sorted(shared_data.glob("*.csv"))
                                 for line in replayed(f)])  # fmt: skip
    start = datetime(2011, 12, 1, tzinfo=UTC)
    generated = [b.decode().rstrip("\n") for b in synthetic_orders(3000, seed=7, start=start)]
    write(hour, "b-generated.gz", generated)
    fixtures = [line for f in sorted(FIXTURES.glob("*.csv")) for line in replayed(f)]
    fixtures += [
        line for f in sorted(FIXTURES.glob("*.ndjson")) for line in f.read_text().splitlines()
    ]
    write(hour, "c-fixtures.ndjson", fixtures, newline="\r\n")
    write(hour, "d-edges.gz", edge_lines())
    # Damaged objects: every line before the damage is read, the rest quarantined `unreadable`.
    whole = gzip.compress("\n".join(generated[:400]).encode())
    (hour / "f-truncated.gz").write_bytes(whole[: len(whole) // 2])
    (hour / "g-not-gzip.gz").write_bytes(b"never gzip\n" * 3)
    (hour / "h-not-utf8.ndjson").write_bytes(b"\n".join([*NOT_UTF8, *NOT_UTF8[:2]]) + b"\n")

    engines = {"duckdb": DuckEngine(), "spark": SparkEngine(spark)}
    out: dict[str, Any] = {}

    def run(step: str, **kwargs: Any) -> None:
        for name, engine in engines.items():
            lake = base / name / "lake"
            summary = run_job(
                engine, raw_path=str(raw), lake_path=str(lake), database="orderpipe",
                catalog_path=str(base / name / "catalog.json"),
                bookmark_path=str(base / name / "bookmark.json"), run_id=f"{step}-{name}", **kwargs,
            )  # fmt: skip
            out[step, name] = (summary, {t: table(lake, t) for t in TABLES})

    run("first")
    # Redelivered lines across objects (agent retry) plus new ones, in existing partitions.
    again = edge_lines()[:20] + generated[:50] + [variant({"StockCode": "NEW"}, 999)]
    write(hour.parent / "hour=13", "e-again.gz", again)
    run("second")
    run("refresh", full_refresh=True)
    return out


@pytest.mark.parametrize("step", ["first", "second", "refresh"])
def test_both_engines_write_the_same_tables(runs: dict, step: str) -> None:
    (duck_summary, duck), (spark_summary, spark) = runs[step, "duckdb"], runs[step, "spark"]
    for name in TABLES:
        only_duck, only_spark = (
            set(duck[name]) - set(spark[name]),
            set(spark[name]) - set(duck[name]),
        )
        shown = "\n".join(f"duckdb {r!r}" for r in sorted(only_duck, key=repr)[:15])
        shown += "\n" + "\n".join(f"spark  {r!r}" for r in sorted(only_spark, key=repr)[:15])
        assert not only_duck and not only_spark, f"{name}:\n{shown}"
        assert duck[name] == spark[name], name
    assert same_numbers(duck_summary) == same_numbers(spark_summary)


def test_the_inputs_reach_every_rule(runs: dict) -> None:
    summary, tables = runs["first", "duckdb"]
    assert summary.transformed > 20_000 and summary.duplicates_dropped > 0
    parsed = {r: n for r, n in summary.quarantined.items() if r != "unreadable"}
    assert all(parsed.values()), parsed  # every rule a parsed line can meet, met
    # Two damaged objects, and each line that is not UTF-8 (ids from the exact bytes; the third
    # differs from the second only in trailing whitespace, so it is the same record).
    assert summary.quarantined["unreadable"] == 2 + len(NOT_UTF8) - 1
    assert {r[10] for r in tables["transformed_orders"]} >= {"Europe", "Other", "Asia"}
    assert {r[12] for r in tables["transformed_orders"]} == {"High", "Normal"}


def test_the_spark_35_utf8_check_agrees_with_spark_4s(spark: Any, tmp_path: Path) -> None:
    """Glue 5 runs Spark 3.5, which has no is_valid_utf8: its regex check must say the same."""
    from pyspark.sql import functions as F

    from orderpipe.job.transform import _valid_utf8

    valid = ["café 🦆 日本", "\u00e9", "\U0010ffff", "plain"]
    (tmp_path / "lines.txt").write_bytes(b"\n".join([*NOT_UTF8, *(v.encode() for v in valid)]))
    lines = spark.read.text(str(tmp_path / "lines.txt"))
    value = F.col("value")
    got = lines.select(_valid_utf8(value, "3.5.4"), _valid_utf8(value, spark.version)).collect()
    assert [tuple(r) for r in got] == [(False, False)] * len(NOT_UTF8) + [(True, True)] * 4

"""Benchmark of the ETL job (issue #3): rows/s on local[2], against (a) the same rules with the
seed's Python-UDF region lookup and (b) DuckDB SQL over the same raw files; 4M vs 1M scaling;
Parquet bytes vs raw JSON bytes.

    .venv/bin/python bench/transform.py [--rows 1000000] [--scale 4] [--workdir .bench/transform]

Goals: ≥ 3× faster than (a); within 3× of (b); 4M ≤ 4.4× the 1M time; Parquet ≤ 15 % of raw JSON.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import shutil
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from orderpipe.job import transform
from orderpipe.paths import load_glue_script
from orderpipe.job.transform import COUNTRY_REGION, OTHER_REGION, REASONS

LINES_PER_OBJECT = 250_000
START = datetime(2011, 11, 1, tzinfo=UTC)


def make_raw(folder: Path, rows: int, seed: int = 7) -> tuple[int, int]:
    """Synthetic orders as gzip NDJSON objects in the Firehose layout (reused if present).
    Returns (raw JSON bytes, gzip bytes)."""
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        hour = folder / "raw" / "year=2011" / "month=12" / "day=01" / "hour=00"
        hour.mkdir(parents=True)
        lines = _synthetic(rows, seed)
        for n in itertools.count():
            chunk = list(itertools.islice(lines, LINES_PER_OBJECT))
            if not chunk:
                break
            (hour / f"orders-{n:04d}.gz").write_bytes(gzip.compress(b"".join(chunk), 6))
        done.touch()
    objects = sorted(folder.rglob("*.gz"))
    raw = 0
    for obj in objects:
        with gzip.open(obj, "rb") as handle:
            while block := handle.read(1 << 24):
                raw += len(block)
    return raw, sum(o.stat().st_size for o in objects)


def _synthetic(rows: int, seed: int) -> Iterator[bytes]:
    try:
        from orderpipe.generator import synthetic_orders
    except ImportError:  # the generator is another module; keep the bench usable without it
        return (
            (
                f'{{"InvoiceNo":"{500000 + i // 5}","StockCode":"{10000 + i % 997}",'
                f'"Description":"ITEM {i % 997}","Quantity":{1 + i % 24},'
                f'"InvoiceDate":"2011-12-{1 + i % 28:02d} {i % 24:02d}:00:00",'
                f'"UnitPrice":{(i % 500) / 10 + 0.1:.2f},"CustomerID":"{12000 + i % 4000}",'
                f'"Country":"{list(COUNTRY_REGION)[i % len(COUNTRY_REGION)]}"}}\n'
            ).encode()
            for i in range(rows)
        )
    return synthetic_orders(rows, seed=seed, start=START)


load_job = load_glue_script


def udf_region(country: Any) -> Any:
    """The seed's way: a Python UDF over a dict (rows cross to a Python worker and back)."""
    from pyspark.sql import functions as F

    table = dict(COUNTRY_REGION)
    return F.udf(lambda c: table.get(c, OTHER_REGION), "string")(country)


def spark_run(spark: Any, raw: Path, lake: Path, region: Callable[[Any], Any] | None) -> dict:
    """One full job run (read, rules, dedupe, write Parquet) on a fresh lake."""
    shutil.rmtree(lake, ignore_errors=True)
    original = transform.region_expr
    if region is not None:
        transform.region_expr = region  # type: ignore[assignment]
    try:
        summary: dict = load_job().run_job(
            spark,
            raw_path=str(raw),
            lake_path=str(lake),
            database="bench",
            catalog_path=None,
            bookmark_path=None,
            full_refresh=True,
        )
    finally:
        transform.region_expr = original  # type: ignore[assignment]
    return summary


def duckdb_sql(raw: Path, out: Path, fx_rate: float = 0.012, threshold: float = 100.0) -> str:
    """The same rules in DuckDB SQL: lines → reasons → dedupe → two partitioned Parquet sets."""
    region = " ".join(f"WHEN '{c}' THEN '{r}'" for c, r in COUNTRY_REGION.items())
    files = f"{raw}/raw/**/*.gz"
    text = "value->>'$.{0}'"
    fields = ["InvoiceNo", "StockCode", "Description", "Quantity"]
    fields += ["InvoiceDate", "UnitPrice", "CustomerID", "Country"]
    raw_cols = ", ".join(f"{text.format(f)} AS {f.lower()}" for f in fields)
    canon = " || ".join(
        f"coalesce(length({f.lower()})::VARCHAR || ':' || {f.lower()}, '~')" for f in fields
    )
    return f"""
CREATE TEMP TABLE recs AS
WITH lines AS (
  SELECT value, filename AS ingested_from
  FROM read_csv('{files}', delim=chr(1), quote='', escape='', header=false,
                columns={{'value': 'VARCHAR'}}, filename=true)
  WHERE trim(value) <> ''
), parsed AS (
  SELECT *, coalesce(json_valid(value) AND json_type(value) = 'OBJECT', false) AS is_obj,
         {raw_cols}
  FROM lines
), typed AS (
  SELECT *,
    CASE WHEN regexp_full_match(quantity, '-?[0-9]+') THEN TRY_CAST(quantity AS INTEGER) END AS q,
    CASE WHEN regexp_full_match(unitprice, '-?[0-9]+(\\.[0-9]+)?([eE][+-]?[0-9]+)?')
         THEN TRY_CAST(unitprice AS DOUBLE) END AS p,
    coalesce(try_strptime(trim(invoicedate), '%Y-%m-%d %H:%M:%S'),
             try_strptime(trim(invoicedate), '%m/%d/%Y %H:%M')) AS ts,
    sha256(CASE WHEN is_obj THEN 'v1|' || {canon} ELSE 'v1|line:' || rtrim(value) END) AS recordid
  FROM parsed
), reasoned AS (
  SELECT *, CASE
    WHEN NOT is_obj OR q IS NULL OR p IS NULL OR coalesce(trim(country), '') = '' THEN 'malformed'
    WHEN coalesce(trim(invoiceno), '') = '' OR coalesce(trim(stockcode), '') = ''
      THEN 'missing_key'
    WHEN starts_with(trim(invoiceno), 'C') THEN 'cancelled'
    WHEN q <= 0 THEN 'non_positive_quantity'
    WHEN p <= 0 THEN 'non_positive_price'
    WHEN coalesce(trim(customerid), '') = '' THEN 'missing_customer'
    WHEN ts IS NULL THEN 'bad_timestamp'
  END AS reason
  FROM typed
)
SELECT * FROM reasoned QUALIFY row_number() OVER (PARTITION BY recordid ORDER BY ingested_from) = 1;

COPY (
  SELECT sha256(invoiceno || '-' || stockcode) AS orderid, invoiceno, stockcode, description,
    q AS quantity, ts::DATE AS invoicedateonly, hour(ts) AS invoicehour, p AS unitprice,
    customerid, country, CASE trim(country) {region} ELSE '{OTHER_REGION}' END AS region,
    round(q * p * {fx_rate}, 2) AS totalamountusd,
    CASE WHEN round(q * p * {fx_rate}, 2) > {threshold} THEN 'High' ELSE 'Normal' END AS ordertag,
    ts AS invoicetimestamp, recordid, trim(country) AS country_partition,
    strftime(ts, '%Y-%m-%d') AS date_partition
  FROM recs WHERE reason IS NULL
) TO '{out}/transformed_orders' (FORMAT parquet, PARTITION_BY (country_partition, date_partition));

COPY (
  SELECT invoiceno, stockcode, description, quantity, invoicedate, unitprice, customerid,
    country, CASE WHEN reason = 'malformed' THEN value END AS raw_line, recordid, ingested_from,
    now() AS quarantined_at, reason
  FROM recs WHERE reason IS NOT NULL
) TO '{out}/quarantined_orders' (FORMAT parquet, PARTITION_BY (reason));
"""


def duckdb_run(raw: Path, out: Path) -> float:
    import duckdb

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET threads = 2")
    start = time.perf_counter()
    con.execute(duckdb_sql(raw, out))
    seconds = time.perf_counter() - start
    con.close()
    return seconds


def parquet_bytes(lake: Path) -> int:
    return sum(f.stat().st_size for f in lake.glob("*_orders/**/*.parquet"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--scale", type=int, default=4, help="also run rows×scale (0: skip)")
    parser.add_argument("--workdir", type=Path, default=Path(".bench/transform"))
    ns = parser.parse_args()
    console = Console()
    from orderpipe.spark import get_spark

    work = ns.workdir.resolve()
    spark = get_spark(work / "spark", app_name="bench-transform", cores="2")
    spark.conf.set("spark.sql.shuffle.partitions", "8")
    raw1 = work / f"raw-{ns.rows}"
    raw_bytes, gz_bytes = make_raw(raw1, ns.rows)
    table = Table(title=f"transform_order_history on local[2] — {ns.rows:,} synthetic orders")
    for col in ("engine", "rows", "seconds", "rows/s", "vs ours", "note"):
        table.add_column(col, justify="left" if col in ("engine", "note") else "right")

    make_raw(work / "raw-warmup", 20_000)
    spark_run(spark, work / "raw-warmup", work / "lake-warmup", None)  # JVM warm-up, not timed
    ours = spark_run(spark, raw1, work / "lake-ours", None)
    t_ours = ours["seconds"]
    counts = f"{ours['transformed']:,} out, {ours['quarantined_total']:,} quarantined"
    table.add_row("Spark, built-ins (ours)", f"{ns.rows:,}", f"{t_ours:.1f}",
                  f"{ns.rows / t_ours:,.0f}", "1.00×", counts)  # fmt: skip
    seed = spark_run(spark, raw1, work / "lake-udf", udf_region)
    t_seed = seed["seconds"]
    table.add_row("(a) Spark + Python UDF region", f"{ns.rows:,}", f"{t_seed:.1f}",
                  f"{ns.rows / t_seed:,.0f}", f"{t_seed / t_ours:.2f}×",
                  "goal: ours ≥ 3× faster")  # fmt: skip
    t_duck = duckdb_run(raw1, work / "lake-duckdb")
    table.add_row("(b) DuckDB SQL, same rules", f"{ns.rows:,}", f"{t_duck:.1f}",
                  f"{ns.rows / t_duck:,.0f}", f"{t_duck / t_ours:.2f}×",
                  "goal: ours within 3×")  # fmt: skip
    if ns.scale > 1:
        big = ns.rows * ns.scale
        make_raw(work / f"raw-{big}", big)
        t_big = spark_run(spark, work / f"raw-{big}", work / "lake-big", None)["seconds"]
        table.add_row("Spark, built-ins (ours)", f"{big:,}", f"{t_big:.1f}",
                      f"{big / t_big:,.0f}", f"{t_big / t_ours:.2f}× time",
                      f"goal: ≤ {0.1 * 11 * ns.scale:.1f}× the {ns.rows:,} time")  # fmt: skip
    console.print(table)

    sizes = Table(title="bytes")
    for col in ("what", "bytes", "share of raw JSON"):
        sizes.add_column(col, justify="left" if col == "what" else "right")
    pq = parquet_bytes(work / "lake-ours")
    sizes.add_row("raw JSON (NDJSON, uncompressed)", f"{raw_bytes:,}", "100 %")
    sizes.add_row("raw objects (gzip, as Firehose stores them)", f"{gz_bytes:,}",
                  f"{100 * gz_bytes / raw_bytes:.1f} %")  # fmt: skip
    sizes.add_row("Parquet, both tables (goal ≤ 15 %)", f"{pq:,}", f"{100 * pq / raw_bytes:.1f} %")
    console.print(sizes)
    console.print(f"reasons seen: { {r: ours['quarantined'][r] for r in REASONS} }")


if __name__ == "__main__":
    main()

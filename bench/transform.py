"""Benchmark of `orderpipe transform run` (issue #14): the DuckDB engine (default), the Spark
engine (`--engine spark`, JVM start included) and the floor — bare DuckDB SQL of the same rules on
the same raw files (no merge, no quarantine, no bookmark) — at 200k, 1M and 4M synthetic orders.
Each runs in its own process, so its peak RSS is measured too.

    .venv/bin/python bench/transform.py [--sizes 200000,1000000,4000000] [--spark-max N]
                                        [--workdir .bench/transform]

Goals: default engine within 2× the floor at 1M; 4M / 1M ≤ 4.4; Spark no slower than before.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from orderpipe.job.transform import (
    DUCK_MACROS,
    duck_fields_sql,
    duck_java_numbers_sql,
    duck_parse_sql,
    duck_transformed_sql,
)

LINES_PER_OBJECT = 250_000
START = datetime(2011, 11, 1, tzinfo=UTC)
STACK = "bench"


def make_home(home: Path, rows: int, seed: int = 7) -> None:
    """A local home holding `rows` synthetic orders as gzip NDJSON objects in the Firehose
    layout, crawled once (reused if present)."""
    done = home / ".bench-complete"
    if done.exists():
        return
    from orderpipe.generator import synthetic_orders

    shutil.rmtree(home, ignore_errors=True)
    cli(home, "up")
    hour = home / "buckets" / f"{STACK}-raw" / "raw" / "year=2011/month=12/day=01/hour=00"
    hour.mkdir(parents=True)
    lines = synthetic_orders(rows, seed=seed, start=START)
    for n in itertools.count():
        chunk = list(itertools.islice(lines, LINES_PER_OBJECT))
        if not chunk:
            break
        (hour / f"orders-{n:04d}.gz").write_bytes(gzip.compress(b"".join(chunk), 6))
    cli(home, "crawl")
    done.touch()


def cli(home: Path, *args: str) -> None:
    orderpipe = Path(sys.executable).with_name("orderpipe")
    subprocess.run([orderpipe, "--home", str(home), "--stack", STACK, *args], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip


def measured(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB) of one process (its own RSS: the JVM of Spark is a child that
    wait4 does not cover, so Spark's figure is the Python driver's only)."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(command)} failed ({status})")
    return seconds, usage.ru_maxrss / 1024


def transform_run(home: Path, engine: str) -> list[str]:
    orderpipe = str(Path(sys.executable).with_name("orderpipe"))
    return [orderpipe, "--home", str(home), "--stack", STACK, "transform", "run",
            "--full-refresh", "--engine", engine]  # fmt: skip


def floor(raw: Path, out: Path) -> None:
    """Bare DuckDB: the same rules on the same lines, clean rows to partitioned Parquet."""
    import duckdb

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(DUCK_MACROS)
    files = str(raw / "**" / "*.gz")
    lines = (
        f"(SELECT value, filename AS ingested_from FROM read_csv('{files}', delim = chr(1), "
        "quote = '', escape = '', header = false, columns = {'value': 'VARCHAR'}, "
        "filename = true))"
    )
    con.execute(f"CREATE TEMP TABLE fields AS {duck_fields_sql(lines)}")
    con.execute(duck_java_numbers_sql("fields"))
    con.execute(f"CREATE TEMP TABLE recs AS {duck_parse_sql('fields')}")
    rules = duck_transformed_sql("recs", fx_rate=0.012, high_value_threshold=100.0)
    con.execute(
        f"COPY ({rules}) TO '{out}' (FORMAT parquet, COMPRESSION zstd, "
        "PARTITION_BY (country_partition, date_partition))"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="200000,1000000,4000000")
    parser.add_argument(
        "--spark-max",
        type=int,
        default=4_000_000,
        help="run --engine spark only up to this many orders (0: never)",
    )
    parser.add_argument("--workdir", type=Path, default=Path(".bench/transform"))
    parser.add_argument("--floor", nargs=2, type=Path, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.floor:
        floor(*ns.floor)
        return
    work = ns.workdir.resolve()
    sizes = [int(s) for s in ns.sizes.split(",")]
    table = Table(title="transform run, end to end (2 cores; load average shown per row)")
    for col in ("orders", "engine", "seconds", "orders/s", "× floor", "peak RSS MiB", "load"):
        table.add_column(col, justify="left" if col == "engine" else "right")
    seconds: dict[tuple[str, int], float] = {}
    for rows in sizes:
        home = work / f"home-{rows}"
        make_home(home, rows)
        raw = home / "buckets" / f"{STACK}-raw" / "raw"
        runs = {
            "floor (bare DuckDB SQL)": [sys.executable, __file__, "--floor", str(raw),
                                        str(work / "floor-out")],
            "duckdb (default)": transform_run(home, "duckdb"),
        }  # fmt: skip
        if rows <= ns.spark_max:
            runs["spark (--engine spark)"] = transform_run(home, "spark")
        for engine, command in runs.items():
            took, rss = measured(command)
            seconds[engine, rows] = took
            ratio = took / seconds["floor (bare DuckDB SQL)", rows]
            table.add_row(f"{rows:,}", engine, f"{took:.1f}", f"{rows / took:,.0f}",
                          f"{ratio:.2f}", f"{rss:,.0f}", f"{os.getloadavg()[0]:.1f}")  # fmt: skip
    Console().print(table)
    if 1_000_000 in sizes and 4_000_000 in sizes:
        for engine in ("duckdb (default)", "floor (bare DuckDB SQL)"):
            ratio = seconds[engine, 4_000_000] / seconds[engine, 1_000_000]
            print(f"{engine}: 4M / 1M = {ratio:.2f} (goal ≤ 4.4)")


if __name__ == "__main__":
    main()

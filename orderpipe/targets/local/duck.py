"""DuckDB over the lake's Parquet: the local stand-in for Athena."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orderpipe.errors import QueryFailed
from orderpipe.models import TABLE_MODELS, columns
from orderpipe.targets.base import QueryResult

_DUCK_TYPES = {"string": "VARCHAR", "integer": "INTEGER", "double": "DOUBLE", "date": "DATE",
               "timestamp": "TIMESTAMP", "boolean": "BOOLEAN"}  # fmt: skip


def _neutral_type(duck_type: str) -> str:
    """DuckDB's type name → the engine-neutral names Athena also reports."""
    base = re.sub(r"\(.*", "", duck_type).lower()
    return {"varchar": "varchar", "hugeint": "bigint", "ubigint": "bigint", "float": "double",
            "real": "double", "timestamp with time zone": "timestamp"}.get(base, base)  # fmt: skip


def connect(lake: Path) -> Any:
    """An in-memory DuckDB with one view per lake table (an empty table when no data yet)."""
    import duckdb

    con = duckdb.connect(":memory:")
    for table, model in TABLE_MODELS.items():
        cols = columns(model)
        files = lake / table
        if any(files.rglob("*.parquet")):
            hive_types = {c["name"]: _DUCK_TYPES[c["spark"]] for c in cols if c["partition"]}
            glob = str(files / "**" / "*.parquet").replace("'", "''")  # our path, not user input
            con.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{glob}', "
                f"hive_partitioning = true, hive_types = {hive_types!r}, union_by_name = true)"
            )
        else:
            body = ", ".join(f'"{c["name"]}" {_DUCK_TYPES[c["spark"]]}' for c in cols)
            con.execute(f"CREATE TABLE {table} ({body})")
    return con


def run(lake: Path, sql: str, params: Sequence[Any] = ()) -> QueryResult:
    import duckdb

    started = time.perf_counter()
    con = connect(lake)
    try:
        cursor = con.execute(sql, list(params))
        rows = cursor.fetchall()
        description = cursor.description or []
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        raise QueryFailed(f"the query failed: {message}") from None
    finally:
        con.close()
    return QueryResult(
        columns=[d[0] for d in description],
        types=[_neutral_type(str(d[1])) for d in description],
        rows=[tuple(r) for r in rows],
        seconds=time.perf_counter() - started,
    )


def newest_raw_order(raw_root: Path) -> Any:
    """The newest InvoiceDate delivered to raw (either accepted shape), for freshness."""
    import duckdb

    sql = (
        "SELECT max(coalesce(try_strptime(InvoiceDate, '%Y-%m-%d %H:%M:%S'),"
        " try_strptime(InvoiceDate, '%m/%d/%Y %H:%M'))) FROM read_json(?,"
        " format = 'newline_delimited', columns = {'InvoiceDate': 'VARCHAR'},"
        " ignore_errors = true)"
    )
    with duckdb.connect(":memory:") as con:
        return con.execute(sql, [str(raw_root / "**" / "*.gz")]).fetchone()[0]  # type: ignore[index]

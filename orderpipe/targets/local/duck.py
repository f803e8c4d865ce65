"""DuckDB over the lake's Parquet: the local stand-in for Athena."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orderpipe.errors import QueryFailed
from orderpipe.models import TABLE_MODELS, columns
from orderpipe.sqlgate import QueryRefused
from orderpipe.targets.base import QueryResult

if TYPE_CHECKING:
    from orderpipe.job.localcatalog import LocalCatalog
    from orderpipe.settings import StackNames

_DUCK_TYPES = {"string": "VARCHAR", "integer": "INTEGER", "double": "DOUBLE", "date": "DATE",
               "timestamp": "TIMESTAMP", "boolean": "BOOLEAN"}  # fmt: skip


def _neutral_type(duck_type: str) -> str:
    """DuckDB's type name → the engine-neutral names Athena also reports."""
    base = re.sub(r"\(.*", "", duck_type).lower()
    return {"varchar": "varchar", "hugeint": "bigint", "ubigint": "bigint", "float": "double",
            "real": "double", "timestamp with time zone": "timestamp"}.get(base, base)  # fmt: skip


def connect(lake: Path, files: dict[str, list[str]] | None = None) -> Any:
    """An in-memory DuckDB with one view per lake table (an empty table when no data yet).
    `files`: each table's current data files, as the catalog points at them; for a table it
    does not list, every Parquet file under the table's folder."""
    import duckdb

    con = duckdb.connect(":memory:")
    for table, model in TABLE_MODELS.items():
        cols = columns(model)
        if files is not None and table in files:
            paths = files[table]
        elif any((lake / table).rglob("*.parquet")):  # a lake written without a catalog
            paths = [str(lake / table / "**" / "*.parquet")]
        else:
            paths = []
        if paths:
            hive_types = {c["name"]: _DUCK_TYPES[c["spark"]] for c in cols if c["partition"]}
            listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)  # our paths
            con.execute(
                f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}], "
                f"hive_partitioning = true, hive_types = {hive_types!r}, union_by_name = true)"
            )
        else:
            body = ", ".join(f'"{c["name"]}" {_DUCK_TYPES[c["spark"]]}' for c in cols)
            con.execute(f"CREATE TABLE {table} ({body})")
    return con


def lake_files(lake: Path, catalog: LocalCatalog, names: StackNames) -> dict[str, list[str]]:
    """Each lake table's current data files, as the catalog points at them (a reader that
    follows the catalog sees each partition's old or new version, never both). Locations
    are taken relative to this home's lake, so a moved or copied home still reads."""
    from orderpipe.job.job_io import DATA_FILE, Files

    found: dict[str, list[str]] = {}
    for table, entry in catalog.tables(names.database).items():
        if table == names.raw_table:
            continue
        locations = entry.get("locations", {})
        found[table] = []
        for part in entry.get("partitions", []):
            folder = lake / table / part
            if part in locations:
                version = locations[part].rstrip("/").rsplit("/", 1)[-1]
                found[table].append(str(folder / version / DATA_FILE))
            else:  # registered before versions: the files in the partition folder
                files = Files().children(str(folder), dirs=False)
                found[table] += [str(folder / n) for n in files if n.endswith(".parquet")]
    return found


def confine(con: Any, lake: Path) -> None:
    """Fence a connection in: files only under the lake (read — the gate refuses writes), no
    extension installs or loads, and settings locked so no statement can undo this."""
    folders = sorted({f"{str(p).rstrip('/')}/" for p in (lake.absolute(), lake.resolve())})
    con.execute("SET allowed_directories = ?", [folders])
    for setting in ("enable_external_access", "autoinstall_known_extensions",
                    "autoload_known_extensions", "allow_community_extensions"):  # fmt: skip
        con.execute(f"SET {setting} = false")
    con.execute("SET lock_configuration = true")


def _one_read(con: Any, sql: str) -> None:
    """DuckDB's own parser agrees: one statement, and a read (sqlgate has checked the rest)."""
    statements = con.extract_statements(sql)
    kinds = {s.type.name for s in statements}
    if len(statements) != 1 or not kinds <= {"SELECT", "EXPLAIN", "MULTI"}:
        raise QueryRefused(f"queries only read: DuckDB sees {', '.join(sorted(kinds))} here.")


def run(
    lake: Path, sql: str, params: Sequence[Any] = (), files: dict[str, list[str]] | None = None
) -> QueryResult:
    """Run one read statement over the lake's tables (callers pass it through sqlgate first)."""
    import duckdb

    started = time.perf_counter()
    con = connect(lake, files)
    try:
        confine(con, lake)
        _one_read(con, sql)
        cursor = con.execute(sql, list(params))
        rows = cursor.fetchall()
        description = cursor.description or []
    except duckdb.PermissionException as exc:
        reason = re.sub(r"^Permission Error: | - file system.*$", "", str(exc).splitlines()[0])
        raise QueryRefused(
            f"queries read only the lake's tables and files under {lake} ({reason})."
        ) from None
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

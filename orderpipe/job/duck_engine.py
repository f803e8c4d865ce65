"""The DuckDB engine: the rules of `transform.py` (its DuckDB half) on this machine, in seconds.

Raw objects are read here in Python (gzip decoded, lines split exactly as Spark's text reader
splits them: on \\n, \\r\\n and \\r) and handed to DuckDB as Arrow batches, so every byte of a
line reaches the rules. Parsed rows land in a DuckDB table that spills to `temp_dir` under the
memory limit; the merge with the lake and the staged write happen in DuckDB too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from orderpipe.job import job_io
from orderpipe.job.damage import Unreadable, bad_line, damaged_object, gunzip
from orderpipe.job.run import TABLES, RunContext, counts
from orderpipe.job.transform import (
    DUCK_MACROS,
    QUARANTINE_TABLE,
    TRANSFORMED_TABLE,
    duck_dedupe_sql,
    duck_fields_sql,
    duck_java_numbers_sql,
    duck_parse_sql,
    duck_quarantined_sql,
    duck_str,
    duck_transformed_sql,
    output_columns,
    partition_columns,
)

BATCH_BYTES = 64 << 20  # decoded text handed to DuckDB at a time
_DUCK_TYPES = {"string": "VARCHAR", "integer": "INTEGER", "double": "DOUBLE", "date": "DATE",
               "timestamp": "TIMESTAMP", "boolean": "BOOLEAN"}  # fmt: skip
# (Timestamps are UTC wall-clock times, read back as a plain TIMESTAMP like Spark's INT96.)
# Kept as they are in a java.net.URI path: unreserved, punctuation, and non-ASCII "other" chars.
_URI_SAFE = frozenset("/-_.!~*'(),;:$&+=@")


def file_uri(path: str) -> str:
    """The `ingested_from` value Spark's `_metadata.file_path` gives a local file: `file:` and
    the absolute path, quoted as java.net.URI quotes it."""
    return "file:" + "".join(
        ch
        if (ch.isascii() and (ch.isalnum() or ch in _URI_SAFE))
        or (not ch.isascii() and ch.isprintable() and not ch.isspace())
        else "".join(f"%{b:02X}" for b in ch.encode())
        for ch in str(Path(path).absolute())
    )


def read_object(path: str, uri: str) -> tuple[list[str], list[Unreadable]]:
    """The lines of one raw object (its `file_uri` is `uri`) as Spark's text reader yields them,
    and what cannot be read (see `damage`)."""
    raw = Path(path).read_bytes()
    bad: list[Unreadable] = []
    data = raw
    if path.endswith(".gz"):
        chunks: list[bytes] = []
        problem = gunzip(raw, chunks.append)
        data = b"".join(chunks)
        if problem is not None:  # the cut-off last line goes with the damage
            cut = data.rfind(b"\n") + 1
            data, partial = data[:cut], data[cut:]
            bad.append(damaged_object(uri, raw, problem, partial))
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    try:
        lines = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        lines = []
        for line in data.split(b"\n"):
            try:
                lines.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                bad.append(bad_line(uri, line))
    if lines and lines[-1] == "":
        lines.pop()
    return lines, bad


def _batches(paths: list[str]) -> Iterator[tuple[Any, list[Unreadable]]]:
    """Arrow tables of (`value`, `ingested_from`), about BATCH_BYTES of text each, with the
    unreadable parts of their objects."""
    import pyarrow as pa

    values: list[str] = []
    sources: list[Any] = []
    bad: list[Unreadable] = []
    size = 0
    for path in paths:
        uri = file_uri(path)
        lines, unreadable = read_object(path, uri)
        values += lines
        bad += unreadable
        sources.append(pa.repeat(pa.scalar(uri, pa.string()), len(lines)))
        size += sum(map(len, lines))
        if size >= BATCH_BYTES:
            yield pa.table({"value": values, "ingested_from": pa.concat_arrays(sources)}), bad
            values, sources, bad, size = [], [], [], 0
    if values or bad:
        table = pa.table(
            {"value": pa.array(values, pa.string()),
             "ingested_from": pa.concat_arrays(sources) if sources else pa.array([], pa.string())}
        )  # fmt: skip
        yield table, bad


def connect(temp_dir: Path | None, memory_limit: str | None) -> Any:
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if temp_dir is not None:
        temp_dir.mkdir(parents=True, exist_ok=True)
        con.execute("SET temp_directory = ?", [str(temp_dir)])
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET preserve_insertion_order = false")
    con.execute(DUCK_MACROS)
    return con


def _typed(table: str) -> str:
    return ", ".join(
        f'CAST("{name}" AS {_DUCK_TYPES[kind]}) AS "{name}"' for name, kind in output_columns(table)
    )


class DuckEngine:
    name = "duckdb"

    def __init__(self, temp_dir: Path | None = None, memory_limit: str | None = None) -> None:
        self.temp_dir = temp_dir
        self.memory_limit = memory_limit

    def files_for(self, root: str) -> job_io.Files:
        return job_io.Files()

    def process(self, paths: list[str], ctx: RunContext) -> dict[str, Any]:
        con = connect(self.temp_dir, self.memory_limit)
        try:
            return self._process(con, paths, ctx)
        finally:
            con.close()

    def _process(self, con: Any, paths: list[str], ctx: RunContext) -> dict[str, Any]:
        empty = "(SELECT ''::VARCHAR AS value, ''::VARCHAR AS ingested_from WHERE false)"
        con.execute(f"CREATE TEMP TABLE fields AS {duck_fields_sql(empty)}")
        bad: dict[str, Unreadable] = {}  # one per recordid: the smallest (ingested_from, line)
        bad_read = 0
        for batch, unreadable in _batches(paths):
            con.register("batch", batch)
            con.execute(f"INSERT INTO fields {duck_fields_sql('batch')}")
            con.unregister("batch")
            for part in unreadable:
                kept = bad.setdefault(part.recordid, part)
                bad[part.recordid] = min(kept, part, key=lambda u: (u.ingested_from, u.raw_line))
            bad_read += len(unreadable)
        if con.execute("SELECT bool_or(_slow) FROM fields").fetchone()[0]:
            con.execute(duck_java_numbers_sql("fields"))
        parsed = f"({duck_parse_sql('fields')})"
        con.execute(f"CREATE TEMP TABLE records AS {duck_dedupe_sql(parsed)}")
        con.execute("DROP TABLE fields")
        records_read, distinct = con.execute(
            "SELECT coalesce(sum(copies), 0), count(*) FROM records"
        ).fetchone()
        records_read, distinct = records_read + bad_read, distinct + len(bad)
        quarantined_at = ctx.started.strftime("%Y-%m-%d %H:%M:%S.%f+00")
        outputs = {
            TRANSFORMED_TABLE: duck_transformed_sql(
                "records", fx_rate=ctx.fx_rate, high_value_threshold=ctx.high_value_threshold
            ),
            QUARANTINE_TABLE: duck_quarantined_sql("records", quarantined_at=quarantined_at),
        }
        new_rows: dict[str, dict[tuple[str, ...], int]] = {}
        for table in TABLES:
            con.execute(
                f"CREATE TEMP TABLE new_{table} AS SELECT {_typed(table)} FROM ({outputs[table]})"
            )
            if table == QUARANTINE_TABLE and bad:
                self._add_unreadable(con, list(bad.values()), quarantined_at)
            new_rows[table] = _rows_per_partition(con, table)

        old_files = {
            t: ({} if ctx.full_refresh else self._lake_files(ctx, t, new_rows[t])) for t in TABLES
        }
        known = [
            f"SELECT recordid FROM read_parquet({_list(list(f))})" for f in old_files.values() if f
        ]
        if known:
            reading_lake(con, f"CREATE TEMP TABLE known AS {' UNION ALL '.join(known)}")
            for table in TABLES:
                con.execute(
                    f"DELETE FROM new_{table} WHERE recordid IN (SELECT recordid FROM known)"
                )
                new_rows[table] = _rows_per_partition(con, table)

        for table in TABLES:
            if new_rows[table]:
                self._stage(
                    con,
                    ctx,
                    table,
                    {k: v for k, v in old_files[table].items() if v in new_rows[table]},
                )

        return counts(
            records_read=int(records_read),
            distinct=int(distinct),
            transformed=sum(new_rows[TRANSFORMED_TABLE].values()),
            quarantined={k[0]: n for k, n in new_rows[QUARANTINE_TABLE].items()},
        )

    def _add_unreadable(self, con: Any, parts: list[Unreadable], quarantined_at: str) -> None:
        import pyarrow as pa

        rows = pa.table(
            {
                "raw_line": [p.raw_line for p in parts],
                "recordid": [p.recordid for p in parts],
                "ingested_from": [p.ingested_from for p in parts],
            }
        )
        con.register("unreadable", rows)
        con.execute(
            f"INSERT INTO new_{QUARANTINE_TABLE} BY NAME SELECT *, "
            f"CAST({duck_str(quarantined_at)} AS TIMESTAMPTZ)::TIMESTAMP AS quarantined_at, "
            "'unreadable' AS reason FROM unreadable"
        )
        con.unregister("unreadable")

    def _lake_files(
        self, ctx: RunContext, table: str, partitions: dict[tuple[str, ...], int]
    ) -> dict[str, tuple[str, ...]]:
        """The lake's current data files of the given partitions → their partition values."""
        paths = {job_io.partition_path(table, values): values for values in partitions}
        found = job_io.current_files(ctx.files, ctx.lake_path, table, paths)
        return {path: paths[part] for path, part in found.items()}

    def _stage(
        self, con: Any, ctx: RunContext, table: str, old: dict[str, tuple[str, ...]]
    ) -> None:
        """Write the partitions that receive new rows (new rows + their old rows), one file per
        partition, under the run's staging folder with Spark's folder names."""
        cols = partition_columns(table)
        source = f"SELECT * FROM new_{table}"
        if old:
            values = ", ".join(
                "(" + ", ".join(duck_str(v) for v in (path, *vals)) + ")"
                for path, vals in old.items()
            )
            data_cols = [n for n, _ in output_columns(table) if n not in cols]
            source += (
                f" UNION ALL BY NAME SELECT {', '.join(f'o.{c}' for c in data_cols)}, "
                f"{', '.join(f'p.{c}' for c in cols)} FROM read_parquet({_list(list(old))}, "
                f"filename = true, hive_partitioning = false) o JOIN (VALUES {values}) "
                f"p(_file, {', '.join(cols)}) ON o.filename = p._file"
            )
        out = job_io.join(ctx.lake_path, job_io.STAGING, ctx.run_id, table)
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        reading_lake(
            con,
            f"COPY (SELECT {_typed(table)} FROM ({source})) TO {duck_str(out)} "
            f"(FORMAT parquet, COMPRESSION zstd, PARTITION_BY ({', '.join(cols)}), "
            "OVERWRITE_OR_IGNORE true)",
        )
        _respell_partitions(Path(out), len(cols))


def _rows_per_partition(con: Any, table: str) -> dict[tuple[str, ...], int]:
    """Row count per partition of a run's new rows of `table`."""
    cols = ", ".join(partition_columns(table))
    rows = con.execute(f"SELECT {cols}, count(*) FROM new_{table} GROUP BY ALL").fetchall()
    return {tuple(r[:-1]): int(r[-1]) for r in rows}


def reading_lake(con: Any, sql: str) -> None:
    """Run a statement that reads lake files; a damaged one is one sentence naming it."""
    import duckdb

    try:
        con.execute(sql)
    except duckdb.InvalidInputException as exc:
        reason = str(exc).splitlines()[0].removeprefix("Invalid Input Error: ")
        raise RuntimeError(
            f"a lake file is unreadable ({reason}); run `orderpipe transform run --full-refresh` "
            "to rebuild the lake from raw."
        ) from None


def _respell_partitions(root: Path, depth: int) -> None:
    """DuckDB percent-encodes partition values; rename its folders to Spark's spelling."""
    level = [root]
    for _ in range(depth):
        nxt = []
        for folder in level:
            for child in sorted(folder.iterdir()):
                if not child.is_dir() or "=" not in child.name:
                    continue
                key, value = child.name.split("=", 1)
                name = f"{key}={job_io.hive_escape(unquote(value))}"
                target = child.with_name(name)
                if target != child:
                    os.replace(child, target)
                nxt.append(target)
        level = nxt


def _list(paths: list[str]) -> str:
    return "[" + ", ".join(duck_str(p) for p in paths) + "]"

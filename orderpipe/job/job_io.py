"""The ETL job's I/O: raw objects in, bookmarks, staged-then-published partitions, catalog
registration, run summary. pyspark and boto3 only (no pydantic): this travels to Glue.

Writing is crash-safe. (1) The merged content of every partition a run touches is written
under `<lake>/_staging/<run_id>/<table>/…` (one file per partition). (2) A manifest
`_staging/<run_id>/_manifest.json` is written: from here on the run is committed. (3) Each
staged file is moved into its partition folder, then the partition's older files are deleted.
(4) The partitions are registered in the catalog. (5) The staging folder is deleted. A run that
finds a manifest left by a crashed run redoes 3–5 first (roll forward); staging without a
manifest is discarded. Nothing is ever read and overwritten in one Spark job.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from orderpipe.fsutil import atomic_write, not_ours, read_json
from orderpipe.job.localcatalog import LocalCatalog
from orderpipe.job.transform import output_columns, partition_columns, table_specs

STAGING = "_staging"
RUNS = "_runs"
MANIFEST = "_manifest.json"
RAW_SUFFIXES = (".gz", ".ndjson", ".json", ".jsonl")
GLUE_BATCH = 100


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def join(root: str, *parts: str) -> str:
    """Join path parts onto a local path or URI with `/`."""
    return posixpath.join(root.rstrip("/"), *parts)


def _local_path(root: str) -> str | None:
    """The filesystem path of a local location (plain path or file: URI), else None."""
    if root.startswith("file://"):
        return root[len("file://") :]
    if root.startswith("file:"):
        return root[len("file:") :]
    return None if "://" in root else root


class Files:
    """Small file operations on a local folder tree (plain os calls: fast, no .crc files).
    `open_files` gives `HadoopFiles` for s3:// and other remote locations."""

    def exists(self, path: str) -> bool:
        return Path(path).exists()

    def children(self, path: str, *, dirs: bool) -> list[str]:
        """Names of the visible sub-folders (dirs=True) or files directly under `path`."""
        if not Path(path).is_dir():
            return []
        return sorted(
            c.name for c in Path(path).iterdir() if c.is_dir() == dirs and not _hidden(c.name)
        )

    def files_under(self, path: str) -> list[str]:
        """Every visible file below `path`, recursively, as full paths (sorted)."""
        found = []
        for folder, subdirs, names in os.walk(path):
            subdirs[:] = [d for d in subdirs if not _hidden(d)]
            rel = os.path.relpath(folder, path)
            found += [
                join(path, n) if rel == "." else join(path, rel, n) for n in names if not _hidden(n)
            ]
        return sorted(found)

    def rename(self, src: str, dst: str) -> None:
        Path(dst).parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)

    def delete(self, path: str) -> None:
        target = Path(path)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)

    def read_text(self, path: str) -> str:
        return Path(path).read_text(encoding="utf-8")

    def write_text(self, path: str, text: str) -> None:
        """Whole-or-nothing: a temp file renamed into place."""
        atomic_write(Path(path), text.encode("utf-8"))


class HadoopFiles(Files):
    """The same operations through Hadoop's FileSystem (s3:// on Glue or spark-submit)."""

    def __init__(self, spark: Any, root: str) -> None:
        self._jvm = spark.sparkContext._jvm
        conf = spark.sparkContext._jsc.hadoopConfiguration()
        self._fs = self._p(root).getFileSystem(conf)

    def _p(self, path: str) -> Any:
        return self._jvm.org.apache.hadoop.fs.Path(path)

    def exists(self, path: str) -> bool:
        return bool(self._fs.exists(self._p(path)))

    def children(self, path: str, *, dirs: bool) -> list[str]:
        if not self.exists(path):
            return []
        return sorted(
            s.getPath().getName()
            for s in self._fs.listStatus(self._p(path))
            if bool(s.isDirectory()) == dirs and not _hidden(s.getPath().getName())
        )

    def files_under(self, path: str) -> list[str]:
        if not self.exists(path):
            return []
        found, it = [], self._fs.listFiles(self._p(path), True)
        root = str(self._fs.makeQualified(self._p(path)).toUri().getPath()).rstrip("/")
        while it.hasNext():
            rel = str(it.next().getPath().toUri().getPath())[len(root) + 1 :]
            if not any(_hidden(part) for part in rel.split("/")):
                found.append(join(path, rel))
        return sorted(found)

    def rename(self, src: str, dst: str) -> None:
        self._fs.mkdirs(self._p(posixpath.dirname(dst)))
        if not self._fs.rename(self._p(src), self._p(dst)):
            raise OSError(f"could not move {src} to {dst}")

    def delete(self, path: str) -> None:
        self._fs.delete(self._p(path), True)

    def read_text(self, path: str) -> str:
        stream = self._fs.open(self._p(path))
        try:
            reader = self._jvm.java.io.BufferedReader(
                self._jvm.java.io.InputStreamReader(stream, "UTF-8")
            )
            return "\n".join(iter(reader.readLine, None))
        finally:
            stream.close()

    def write_text(self, path: str, text: str) -> None:
        """One PUT: an S3 object appears whole or not at all."""
        out = self._fs.create(self._p(path), True)
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()


def open_files(spark: Any, root: str) -> Files:
    """File operations for `root`: plain os calls when local, Hadoop's FileSystem otherwise."""
    return Files() if _local_path(root) is not None else HadoopFiles(spark, root)


# raw input -------------------------------------------------------------------------------------
def raw_root(files: Files, raw_path: str) -> str:
    """The folder holding raw objects: `<raw bucket>/raw` when present (Firehose layout; keeps
    the `errors/` prefix out), else `raw_path` itself."""
    inner = join(raw_path, "raw")
    return inner if files.exists(inner) else raw_path


def list_raw_objects(files: Files, raw_path: str) -> list[str]:
    """Raw objects (gzip or plain NDJSON/JSON) under the raw location, as full paths."""
    return [p for p in files.files_under(raw_root(files, raw_path)) if p.endswith(RAW_SUFFIXES)]


def object_key(raw_path: str, path: str) -> str:
    """An object's key relative to the raw location (what the bookmark stores)."""
    return path[len(raw_path.rstrip("/")) + 1 :]


def read_raw_lines(spark: Any, paths: list[str]) -> Any:
    """Text lines of the given objects (gzip decoded by extension): `value`, `ingested_from`."""
    from pyspark.sql import functions as F

    return spark.read.text(paths).select(
        "value", F.col("_metadata.file_path").alias("ingested_from")
    )


# bookmarks -------------------------------------------------------------------------------------
def load_bookmark(path: str | None) -> set[str]:
    """Keys of raw objects already processed (empty when there is no bookmark yet)."""
    if path is None:
        return set()
    repair = "delete it to have the next run reprocess all raw data (duplicates are removed)."
    body = read_json(Path(path), "the job bookmark", repair)
    if body is None:
        return set()
    if not isinstance(body, dict) or not isinstance(body.get("objects"), list):
        raise not_ours(Path(path), "the job bookmark", repair)
    return set(body["objects"])


def save_bookmark(path: str, keys: Iterable[str]) -> None:
    """Commit the processed keys atomically (called only once output and catalog are written)."""
    body = {"version": 1, "objects": sorted(set(keys))}
    atomic_write(Path(path), json.dumps(body, indent=0).encode())


# lake: read, stage, publish --------------------------------------------------------------------
def spark_schema(table: str) -> Any:
    from pyspark.sql.types import StructType

    fields = [
        {"name": name, "type": kind, "nullable": True, "metadata": {}}
        for name, kind in output_columns(table)
    ]
    return StructType.fromJson({"type": "struct", "fields": fields})


def read_partitions(spark: Any, files: Files, lake: str, table: str, keys: list[tuple]) -> Any:
    """Existing rows of `table` in the partitions whose values are `keys` (None if none)."""
    from pyspark.sql import functions as F

    path = join(lake, table)
    if not keys or not files.children(path, dirs=True):
        return None
    cols = partition_columns(table)
    wanted = ["\u0000".join(k) for k in keys]
    df = spark.read.schema(spark_schema(table)).parquet(path)
    return df.where(F.concat_ws("\u0000", *cols).isin(wanted))


def stage(df: Any, lake: str, run_id: str, table: str, *, clustered: bool = False) -> None:
    """Write `df` as one Parquet file per partition under the run's staging folder.

    `clustered`: every partition's rows are already in one Spark partition (the caller
    hash-partitioned by them), so the shuffle is skipped."""
    cols = partition_columns(table)
    (
        (df if clustered else df.repartition(*cols))
        .sortWithinPartitions(*cols, "recordid")
        .write.mode("overwrite")
        # A fresh folder per run: static overwrite skips the per-partition staging moves that
        # the session's dynamic mode would do at commit.
        .option("partitionOverwriteMode", "static")
        .option("compression", "zstd")  # hex ids compress ~2× better than with snappy
        # Unique hex ids never fit a dictionary; trying first costs time and saves no bytes.
        .option("parquet.enable.dictionary#recordid", "false")
        .option("parquet.enable.dictionary#orderid", "false")
        .partitionBy(*cols)
        .parquet(join(lake, STAGING, run_id, table))
    )


def hive_unescape(part: str) -> str:
    return unquote(part)


def partition_dirs(files: Files, root: str, depth: int) -> list[str]:
    """Hive partition paths (`k=v/k2=v2`) `depth` levels below `root`."""
    level = [""]
    for _ in range(depth):
        level = [
            posixpath.join(p, child)
            for p in level
            for child in files.children(join(root, p) if p else root, dirs=True)
            if "=" in child
        ]
    return level


def write_manifest(
    files: Files, lake: str, run_id: str, tables: Iterable[str], *, full_refresh: bool
) -> dict[str, Any]:
    """Commit point: list what the run staged per table. Publishing can always finish from it
    (on a full refresh a table with nothing staged is emptied)."""
    staged = {
        t: partition_dirs(files, join(lake, STAGING, run_id, t), len(partition_columns(t)))
        for t in tables
    }
    listed = {t: parts for t, parts in staged.items() if parts or full_refresh}
    manifest = {"run_id": run_id, "full_refresh": full_refresh, "tables": listed}
    files.write_text(join(lake, STAGING, run_id, MANIFEST), json.dumps(manifest, indent=1))
    return manifest


def publish(files: Files, lake: str, manifest: dict[str, Any]) -> None:
    """Move each staged file into its partition folder, then drop the partition's older files;
    on a full refresh also drop partitions the run did not produce. Idempotent (roll forward)."""
    run_id = manifest["run_id"]
    final_name = f"part-{run_id}.zstd.parquet"  # stage() writes zstd
    for table, parts in manifest["tables"].items():
        for part in parts:
            target = join(lake, table, part)
            staged = [
                f
                for f in files.children(join(lake, STAGING, run_id, table, part), dirs=False)
                if f.endswith(".parquet")
            ]
            for name in staged:  # exactly one, by construction
                files.rename(
                    join(lake, STAGING, run_id, table, part, name), join(target, final_name)
                )
            for old in files.children(target, dirs=False):
                if old != final_name:
                    files.delete(join(target, old))
        if manifest["full_refresh"]:
            depth = len(partition_columns(table))
            for stale in set(partition_dirs(files, join(lake, table), depth)) - set(parts):
                files.delete(join(lake, table, stale))


def finish(files: Files, lake: str, run_id: str) -> None:
    """Drop a run's staging folder, once its partitions are published and registered."""
    files.delete(join(lake, STAGING, run_id))


def recover(files: Files, lake: str, register: Registrar | None) -> int:
    """Finish runs that crashed after their commit point (publish, register, clean up);
    discard ones that crashed before it. Returns how many runs were rolled forward."""
    rolled = 0
    for run_id in files.children(join(lake, STAGING), dirs=True):
        manifest_path = join(lake, STAGING, run_id, MANIFEST)
        if files.exists(manifest_path):
            manifest = json.loads(files.read_text(manifest_path))
            publish(files, lake, manifest)
            register_manifest(register, manifest)
            rolled += 1
        finish(files, lake, run_id)
    return rolled


# catalog ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Partition:
    path: str  # Hive path as written, e.g. "country_partition=France/date_partition=2011-12-09"

    @property
    def values(self) -> list[str]:
        return [hive_unescape(p.split("=", 1)[1]) for p in self.path.split("/")]


Registrar = Callable[[str, list[Partition]], None]


def _glue_columns(table: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    data: list[dict[str, str]] = []
    parts: list[dict[str, str]] = []
    for c in table_specs()[table]:
        entry = {"Name": c["name"], "Type": c["glue"]}
        (parts if c["partition"] else data).append(entry)
    return data, parts


def local_registrar(catalog_path: str, database: str, lake: str) -> Registrar:
    """Registers tables and new partitions in the local catalog file."""
    catalog = LocalCatalog(Path(catalog_path))

    def register(table: str, partitions: list[Partition]) -> None:
        data, parts = _glue_columns(table)
        location = join(lake, table)
        catalog.ensure_table(
            database, table, location=location, columns=data, partition_keys=parts, fmt="parquet"
        )
        catalog.add_partitions(database, table, [p.path for p in partitions])

    return register


_PARQUET_SD = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    },
}


def glue_registrar(database: str, lake: str, client: Any = None) -> Registrar:
    """Registers tables (if missing) and new partitions in the Glue Data Catalog with
    `batch_create_partition` in chunks of 100; AlreadyExists is the normal path. No MSCK."""
    if client is None:
        import boto3

        client = boto3.client("glue")

    def register(table: str, partitions: list[Partition]) -> None:
        data, parts = _glue_columns(table)
        location = join(lake, table) + "/"
        with contextlib.suppress(client.exceptions.AlreadyExistsException):
            client.create_table(
                DatabaseName=database,
                TableInput={
                    "Name": table,
                    "TableType": "EXTERNAL_TABLE",
                    "Parameters": {"classification": "parquet"},
                    "PartitionKeys": parts,
                    "StorageDescriptor": {"Columns": data, "Location": location, **_PARQUET_SD},
                },
            )
        inputs = [
            {
                "Values": p.values,
                "StorageDescriptor": {
                    "Columns": data,
                    "Location": join(location, p.path) + "/",
                    **_PARQUET_SD,
                },
            }
            for p in partitions
        ]
        for start in range(0, len(inputs), GLUE_BATCH):
            chunk = inputs[start : start + GLUE_BATCH]
            result = client.batch_create_partition(
                DatabaseName=database, TableName=table, PartitionInputList=chunk
            )
            failed = [
                e for e in result.get("Errors", [])
                if e["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException"
            ]  # fmt: skip
            if failed:
                raise RuntimeError(f"Glue refused partitions of {table}: {failed[:3]}")

    return register


def register_manifest(register: Registrar | None, manifest: dict[str, Any]) -> None:
    if register is None:
        return
    for table, parts in manifest["tables"].items():
        register(table, [Partition(p) for p in parts])


# run summary -----------------------------------------------------------------------------------
def write_summary(files: Files, lake: str, summary: dict[str, Any]) -> str:
    """`<lake>/_runs/<run_id>.json`, written whole or not at all."""
    path = join(lake, RUNS, f"{summary['run_id']}.json")
    files.write_text(path, json.dumps(summary, indent=1, sort_keys=True))
    return path


_SAFE_RUN_ID = re.compile(r"^[A-Za-z0-9._-]+$")


def check_run_id(run_id: str) -> str:
    if not _SAFE_RUN_ID.match(run_id):
        raise ValueError(f"run_id {run_id!r} may hold only letters, digits, '.', '_' and '-'")
    return run_id

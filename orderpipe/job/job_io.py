"""The ETL job's I/O: raw objects in, bookmarks, staged-then-published partitions, catalog
registration, run summary. No pydantic: this travels to Glue.

Writing is crash-safe and readers never see a partition twice. (1) The merged content of every
partition a run touches is written under `<lake>/_staging/<run_id>/<table>/…` (one file per
partition). (2) A manifest `_staging/<run_id>/_manifest.json` names the run's version
(`v<UTC time>`): from here on the run is committed. (3) Each staged file moves into a new version
folder of its partition, `<table>/<k=v>/…/<version>/part-00000.zstd.parquet`, beside the current
one. (4) The catalog points each partition at its new version (on a full refresh it also drops
the partitions the run did not write) — that switch is what readers see, old or new, never both.
(5) The staging folder is deleted; versions no longer current are deleted once older than a
grace period that covers running queries. A run that finds a manifest left by a crashed run
redoes 3–5 first (roll forward); staging without a manifest is discarded. One writer at a time
(`lake_lock`), so any staging found at the start belongs to a run that is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import re
import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from orderpipe.fsutil import LockBusy, atomic_write, hold_lock, not_ours, read_json
from orderpipe.job.localcatalog import LocalCatalog
from orderpipe.job.summary import RunSummary
from orderpipe.job.transform import output_columns, partition_columns, table_specs

LOCK = "_lock"
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

    def files_under(self, path: str, since: float | None = None) -> list[str]:
        """Every visible file below `path`, recursively, as full paths (sorted); with `since`
        (seconds since the epoch) only those modified at or after it."""
        return sorted(p for p, modified in self._walk(path) if since is None or modified >= since)

    def _walk(self, path: str) -> Iterator[tuple[str, float]]:
        """(full path, modification time) of every visible file below `path`."""
        for folder, subdirs, names in os.walk(path):
            subdirs[:] = [d for d in subdirs if not _hidden(d)]
            rel = os.path.relpath(folder, path)
            for name in names:
                if not _hidden(name):
                    full = join(path, name) if rel == "." else join(path, rel, name)
                    yield full, os.stat(full).st_mtime

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

    def _walk(self, path: str) -> Iterator[tuple[str, float]]:
        if not self.exists(path):
            return
        it = self._fs.listFiles(self._p(path), True)
        root = str(self._fs.makeQualified(self._p(path)).toUri().getPath()).rstrip("/")
        while it.hasNext():
            status = it.next()
            rel = str(status.getPath().toUri().getPath())[len(root) + 1 :]
            if not any(_hidden(part) for part in rel.split("/")):
                yield join(path, rel), status.getModificationTime() / 1000

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


def list_raw_objects(files: Files, raw_path: str, since: float | None = None) -> list[str]:
    """Raw objects (gzip or plain NDJSON/JSON) under the raw location, as full paths; with
    `since` (seconds since the epoch) only those modified at or after it, listing only the hour
    folders that can hold them when raw has Firehose's layout."""
    root = raw_root(files, raw_path)
    folders = [root] if since is None else _hour_folders(files, root, since)
    found = [path for folder in folders for path in files.files_under(folder, since)]
    return [p for p in found if p.endswith(RAW_SUFFIXES)]


def _hour_folders(files: Files, root: str, since: float) -> list[str]:
    """Firehose names each object's folder `year=/month=/day=/hour=` after the arrival of its
    oldest record and writes it within its buffer time (at most 15 minutes): an object modified
    since `since` is in an hour folder from an hour before `since` to now. [root] when raw is
    laid out otherwise."""
    years = files.children(root, dirs=True)
    if not years or not all(name.startswith("year=") for name in years):
        return [root]
    hour = datetime.fromtimestamp(since, UTC).replace(minute=0, second=0, microsecond=0)
    hour, folders = hour - timedelta(hours=1), []
    while hour <= datetime.now(UTC):
        folders.append(join(root, hour.strftime("year=%Y/month=%m/day=%d/hour=%H")))
        hour += timedelta(hours=1)
    return folders


def same_object(path: str) -> str:
    """One spelling of an object's location, whoever wrote it: `/x`, `file:/x`, `file:///x`
    and Spark's %-escaped form of each are the same file."""
    local = _local_path(path)
    return posixpath.normpath(unquote(local)) if local is not None else unquote(path)


def object_key(raw_path: str, path: str) -> str:
    """An object's key relative to the raw location (what the bookmark stores)."""
    return path[len(raw_path.rstrip("/")) + 1 :]


def read_raw_lines(spark: Any, paths: list[str]) -> Any:
    """Text lines of the given objects (gzip decoded by extension): `value`, `ingested_from`.
    A gzip object cut short or corrupt yields the lines before the damage (the engine finds and
    quarantines the rest); any other read error fails the read."""
    from pyspark.sql import functions as F

    frames = [
        spark.read.option("ignoreCorruptFiles", str(gz).lower())
        .text(group)
        .select("value", F.col("_metadata.file_path").alias("ingested_from"))
        for gz in (True, False)
        if (group := [p for p in paths if p.endswith(".gz") == gz])
    ]
    return frames[0] if len(frames) == 1 else frames[0].unionByName(frames[1])


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


def hive_unescape(part: str) -> str:
    return unquote(part)


# Characters Hive/Spark escape in a partition folder name (ExternalCatalogUtils.escapePathName).
_ESCAPED = {chr(c) for c in range(0x20)} | set("\"#%'*/:=?\\\x7f{[]^")


def hive_escape(value: str) -> str:
    """A partition value as Spark names its folder (`a/b` → `a%2Fb`; spaces and é kept)."""
    if value == "":
        return "__HIVE_DEFAULT_PARTITION__"
    return "".join(f"%{ord(ch):02X}" if ch in _ESCAPED else ch for ch in value)


def partition_path(table: str, values: Iterable[str]) -> str:
    cols = partition_columns(table)
    return "/".join(f"{c}={hive_escape(v)}" for c, v in zip(cols, values, strict=True))


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


# versions ---------------------------------------------------------------------------------------
DATA_FILE = "part-00000.zstd.parquet"
GRACE_SECONDS = 600.0
_VERSION = re.compile(r"^v(\d{8}T\d{12})$")


def new_version(now: datetime | None = None) -> str:
    return f"v{(now or datetime.now(UTC)):%Y%m%dT%H%M%S%f}"


def _version_time(version: str) -> datetime | None:
    match = _VERSION.match(version)
    return datetime.strptime(match[1], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC) if match else None


def versions(files: Files, folder: str) -> list[str]:
    """A partition folder's version folders, oldest first."""
    return sorted(v for v in files.children(folder, dirs=True) if _VERSION.match(v))


def current_location(files: Files, lake: str, table: str, part: str) -> str | None:
    """Where a partition's current content is: its newest version folder (or, for a lake
    written before versions, the partition folder itself), None when there is none."""
    folder = join(lake, table, part)
    found = versions(files, folder)
    if found:
        return join(folder, found[-1])
    legacy = [f for f in files.children(folder, dirs=False) if f.endswith(".parquet")]
    return folder if legacy else None


def current_files(
    files: Files, lake: str, table: str, parts: Iterable[str] | None = None
) -> dict[str, str]:
    """Data file → partition path, for the current version of the given partitions (all when
    None)."""
    if parts is None:
        parts = partition_dirs(files, join(lake, table), len(partition_columns(table)))
    found: dict[str, str] = {}
    for part in parts:
        location = current_location(files, lake, table, part)
        if location is None:
            continue
        for name in files.children(location, dirs=False):
            if name.endswith(".parquet"):
                found[join(location, name)] = part
    return found


def read_partitions(spark: Any, files: Files, lake: str, table: str, keys: list[tuple]) -> Any:
    """Existing rows of `table` in the partitions whose values are `keys` (None if none)."""
    found = current_files(files, lake, table, [partition_path(table, k) for k in keys])
    if not found:
        return None
    base = join(lake, table)
    return spark.read.option("basePath", base).schema(spark_schema(table)).parquet(*found)


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


def write_manifest(
    files: Files, lake: str, run_id: str, tables: Iterable[str], *, full_refresh: bool
) -> dict[str, Any]:
    """Commit point: list what the run staged per table and the version it becomes. Publishing
    can always finish from it (on a full refresh a table with nothing staged is emptied)."""
    staged = {
        t: partition_dirs(files, join(lake, STAGING, run_id, t), len(partition_columns(t)))
        for t in tables
    }
    listed = {t: parts for t, parts in staged.items() if parts or full_refresh}
    manifest = {
        "run_id": run_id,
        "version": new_version(),
        "full_refresh": full_refresh,
        "tables": listed,
    }
    files.write_text(join(lake, STAGING, run_id, MANIFEST), json.dumps(manifest, indent=1))
    return manifest


def publish(files: Files, lake: str, manifest: dict[str, Any]) -> None:
    """Move each staged file into a new version folder of its partition. Nothing a reader uses
    changes until the catalog points at it. Idempotent (roll forward)."""
    run_id, version = manifest["run_id"], manifest["version"]
    for table, parts in manifest["tables"].items():
        for part in parts:
            staged_dir = join(lake, STAGING, run_id, table, part)
            staged = [f for f in files.children(staged_dir, dirs=False) if f.endswith(".parquet")]
            if len(staged) > 1:
                raise RuntimeError(f"{len(staged)} files staged for {table}/{part}, expected 1")
            for name in staged:
                files.rename(join(staged_dir, name), join(lake, table, part, version, DATA_FILE))


def clean_old_versions(
    files: Files, lake: str, manifest: dict[str, Any], grace_seconds: float = GRACE_SECONDS
) -> None:
    """After the catalog switch: delete versions that are no longer current and older than the
    grace period (so queries that started before the switch can finish), and on a full refresh
    the partitions the run dropped, once their newest version is that old."""
    cutoff = datetime.now(UTC).timestamp() - grace_seconds

    def expired(version: str) -> bool:
        moment = _version_time(version)
        return moment is None or moment.timestamp() <= cutoff

    for table, parts in manifest["tables"].items():
        root = join(lake, table)
        every = partition_dirs(files, root, len(partition_columns(table)))
        for part in every if manifest["full_refresh"] else parts:
            folder = join(root, part)
            found = versions(files, folder)
            if part not in parts:  # dropped by a full refresh
                if not found or expired(found[-1]):
                    files.delete(folder)
                continue
            for old in found[:-1]:
                if expired(old):
                    files.delete(join(folder, old))
            if found:  # files of a lake written before versions
                for name in files.children(folder, dirs=False):
                    files.delete(join(folder, name))


def finish(files: Files, lake: str, run_id: str) -> None:
    """Drop a run's staging folder, once its partitions are published and registered."""
    files.delete(join(lake, STAGING, run_id))


def recover(files: Files, lake: str, register: Registrar | None) -> int:
    """Finish runs that crashed after their commit point (publish, register, clean up);
    discard ones that crashed before it. Returns how many runs were rolled forward. Call it
    holding the lake's lock: the staging it finds then belongs to runs that are gone."""
    rolled = 0
    for run_id in files.children(join(lake, STAGING), dirs=True):
        manifest_path = join(lake, STAGING, run_id, MANIFEST)
        if files.exists(manifest_path):
            manifest = json.loads(files.read_text(manifest_path))
            # A manifest without a version was staged by a run before versions: discarded
            # (its raw objects are not in the bookmark, so the next run redoes them).
            if "version" in manifest:
                publish(files, lake, manifest)
                register_manifest(register, lake, manifest)
                rolled += 1
        finish(files, lake, run_id)
    return rolled


# catalog ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Partition:
    path: str  # Hive path as written, e.g. "country_partition=France/date_partition=2011-12-09"
    location: str  # the folder holding its current version

    @property
    def values(self) -> list[str]:
        return [hive_unescape(p.split("=", 1)[1]) for p in self.path.split("/")]


# (table, partitions to point at their new location, replace_all: drop every other partition)
Registrar = Callable[[str, list[Partition], bool], None]


def _glue_columns(table: str) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    data: list[dict[str, str]] = []
    parts: list[dict[str, str]] = []
    for c in table_specs()[table]:
        entry = {"Name": c["name"], "Type": c["glue"]}
        (parts if c["partition"] else data).append(entry)
    return data, parts


def local_registrar(catalog_path: str, database: str, lake: str) -> Registrar:
    """Registers tables and points partitions at their locations in the local catalog file."""
    catalog = LocalCatalog(Path(catalog_path))

    def register(table: str, partitions: list[Partition], replace_all: bool) -> None:
        data, parts = _glue_columns(table)
        location = join(lake, table)
        catalog.ensure_table(
            database, table, location=location, columns=data, partition_keys=parts, fmt="parquet"
        )
        catalog.set_partitions(
            database, table, {p.path: p.location for p in partitions}, replace_all=replace_all
        )

    return register


PARQUET_STORAGE = {  # a Glue table's or partition's StorageDescriptor for Parquet (Hive SerDe)
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}


def glue_registrar(database: str, lake: str, client: Any = None) -> Registrar:
    """Registers tables (if missing) and points partitions at their new version folder in the
    Glue Data Catalog: `batch_create_partition` in chunks of 100, `batch_update_partition` for
    the ones that exist; on a full refresh the others are deleted. No MSCK."""
    if client is None:
        import boto3

        client = boto3.client("glue")

    def register(table: str, partitions: list[Partition], replace_all: bool) -> None:
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
                    "StorageDescriptor": {"Columns": data, "Location": location, **PARQUET_STORAGE},
                },
            )
        inputs = {
            tuple(p.values): {
                "Values": p.values,
                "StorageDescriptor": {
                    "Columns": data, "Location": p.location.rstrip("/") + "/", **PARQUET_STORAGE
                },
            }
            for p in partitions
        }  # fmt: skip
        listed = list(inputs.values())
        for start in range(0, len(listed), GLUE_BATCH):
            chunk = listed[start : start + GLUE_BATCH]
            result = client.batch_create_partition(
                DatabaseName=database, TableName=table, PartitionInputList=chunk
            )
            existing = []
            for error in result.get("Errors", []):
                if error["ErrorDetail"]["ErrorCode"] != "AlreadyExistsException":
                    raise RuntimeError(f"Glue refused partitions of {table}: {error}")
                existing.append(inputs[tuple(error["PartitionValues"])])
            if existing:
                client.batch_update_partition(
                    DatabaseName=database,
                    TableName=table,
                    Entries=[
                        {"PartitionValueList": e["Values"], "PartitionInput": e} for e in existing
                    ],
                )
        if replace_all:
            pages = client.get_paginator("get_partitions").paginate(
                DatabaseName=database, TableName=table
            )
            stale = [
                {"Values": p["Values"]}
                for page in pages
                for p in page["Partitions"]
                if tuple(p["Values"]) not in inputs
            ]
            for start in range(0, len(stale), 25):
                client.batch_delete_partition(
                    DatabaseName=database,
                    TableName=table,
                    PartitionsToDelete=stale[start : start + 25],
                )

    return register


def register_manifest(register: Registrar | None, lake: str, manifest: dict[str, Any]) -> None:
    """Point every partition the run wrote at its new version (the readers' switch)."""
    if register is None:
        return
    version = manifest["version"]
    for table, parts in manifest["tables"].items():
        partitions = [Partition(p, join(lake, table, p, version)) for p in parts]
        register(table, partitions, manifest["full_refresh"])


# one writer per lake ----------------------------------------------------------------------------
class LakeBusy(RuntimeError):
    """Another run holds the lake's lock (and the caller asked not to wait)."""


@contextlib.contextmanager
def lake_lock(
    lake: str, *, wait: bool = True, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold `<lake>/_lock` for one run: an flock the OS releases when the process dies, so a
    crashed run never blocks the next. Busy: wait (after telling `on_wait` the holder's pid), or
    with `wait=False` raise LakeBusy."""
    path = Path(lake) / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = hold_lock(path, wait=wait, on_wait=on_wait)
    except LockBusy as busy:
        raise LakeBusy(f"pid {busy.holder}") from None
    try:
        yield
    finally:
        os.close(fd)  # closing releases the lock


# run summary -----------------------------------------------------------------------------------
def write_summary(files: Files, lake: str, summary: RunSummary) -> str:
    """`<lake>/_runs/<run_id>.json`, written whole or not at all."""
    path = join(lake, RUNS, f"{summary.run_id}.json")
    files.write_text(path, json.dumps(summary.to_json(), indent=1, sort_keys=True))
    return path


_SAFE_RUN_ID = re.compile(r"^[A-Za-z0-9._-]+$")


def check_run_id(run_id: str) -> str:
    if not _SAFE_RUN_ID.match(run_id):
        raise ValueError(f"run_id {run_id!r} may hold only letters, digits, '.', '_' and '-'")
    return run_id

"""transform_order_history: raw order records in, `transformed_orders` and `quarantined_orders`
out — every distinct record exactly once, in exactly one of the two (design.md §3.2–3.3).

Runs three ways, unchanged:
* on AWS Glue (awsglue importable): job arguments via getResolvedOptions, the raw objects read
  through a GlueContext source with a transformation_ctx so job bookmarks make runs incremental,
  `Job.init`/`Job.commit` around the run, new partitions registered with batch_create_partition;
* under spark-submit / python (argparse), or
* called in-process by the local target as `run_job(spark, ...)`, with a JSON file bookmark.

The `orderpipe` modules it imports (transform, job_io, localcatalog) travel to Glue in the job
package zip (`--extra-py-files`); none of them needs pydantic.
"""

from __future__ import annotations

import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from orderpipe import job_io
from orderpipe.transform import (
    QUARANTINE_TABLE,
    REASONS,
    TRANSFORMED_TABLE,
    dedupe,
    output_partition,
    parse_lines,
    partition_columns,
    quarantined,
    transformed,
)

TABLES = (TRANSFORMED_TABLE, QUARANTINE_TABLE)


def new_run_id(now: datetime) -> str:
    return f"{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _summary(run_id: str, started: datetime, clock: float, **numbers: Any) -> dict[str, Any]:
    finished = datetime.now(UTC)
    quarantined_by = {r: int(numbers.get("quarantined", {}).get(r, 0)) for r in REASONS}
    return {
        "run_id": run_id,
        "started_at": _iso(started),
        "finished_at": _iso(finished),
        "seconds": round(time.monotonic() - clock, 3),
        "state": "SUCCEEDED",
        "objects_read": numbers.get("objects_read", 0),
        "records_read": numbers.get("records_read", 0),
        "distinct_records": numbers.get("distinct_records", 0),
        "already_present": numbers.get("already_present", 0),
        "duplicates_dropped": numbers.get("duplicates_dropped", 0),
        "transformed": numbers.get("transformed", 0),
        "quarantined": quarantined_by,
        "quarantined_total": sum(quarantined_by.values()),
        "partitions_written": numbers.get("partitions_written", 0),
        "fx_rate": numbers["fx_rate"],
        "high_value_threshold": numbers["high_value_threshold"],
        "full_refresh": numbers["full_refresh"],
    }


def _partition_key(table: str) -> Any:
    from pyspark.sql import functions as F

    return F.array(*[F.col(c) for c in partition_columns(table)])


def _rows_per_partition(outputs: dict[str, Any]) -> dict[str, dict[tuple[str, ...], int]]:
    """Row count per partition of each table, in one Spark job."""
    from pyspark.sql import functions as F

    tagged = [
        df.select(F.lit(table).alias("t"), _partition_key(table).alias("k"))
        for table, df in outputs.items()
    ]
    union = tagged[0].unionByName(tagged[1])
    result: dict[str, dict[tuple[str, ...], int]] = {table: {} for table in outputs}
    for row in union.groupBy("t", "k").count().collect():
        result[row["t"]][tuple(row["k"])] = int(row["count"])
    return result


def process_lines(
    spark: Any,
    lines: Any,
    *,
    files: job_io.Files,
    lake_path: str,
    run_id: str,
    started: datetime,
    fx_rate: float,
    high_value_threshold: float,
    full_refresh: bool,
    register: job_io.Registrar | None,
) -> dict[str, Any]:
    """Transform raw lines, drop what the tables already hold, stage the merged partitions,
    commit, publish and register. Returns the run's counts."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    # Cached frames are always released, even on a crash: Spark would otherwise serve a stale
    # cached read of the lake to a later run in this session (cache lookup is by plan).
    cached: list[Any] = []
    try:
        # Hash-partitioned by output partition before the dedupe: the one shuffle of the run
        # serves both the dedupe (copies of a record share a partition) and, when nothing has to
        # be merged, the one-file-per-partition write.
        parsed = parse_lines(lines).withColumn("_part", output_partition()).repartition("_part")
        records = dedupe(parsed, ("_part",)).persist(StorageLevel.MEMORY_AND_DISK)
        cached.append(records)
        outputs = {
            TRANSFORMED_TABLE: transformed(
                records, fx_rate=fx_rate, high_value_threshold=high_value_threshold
            ),
            QUARANTINE_TABLE: quarantined(records, quarantined_at=started),
        }
        per_partition = _rows_per_partition(outputs)
        records_read = int(records.agg(F.sum("copies")).first()[0] or 0)
        distinct = sum(sum(p.values()) for p in per_partition.values())

        # Drop records the tables already hold. A record's partition follows from its content,
        # so looking in the partitions this run touches, in both tables, is enough.
        existing = {
            table: None
            if full_refresh
            else job_io.read_partitions(spark, files, lake_path, table, list(per_partition[table]))
            for table in TABLES
        }
        known = [df.select("recordid") for df in existing.values() if df is not None]
        fresh = dict(outputs)
        if known:
            ids = known[0] if len(known) == 1 else known[0].unionByName(known[1])
            ids = ids.distinct().persist(StorageLevel.MEMORY_AND_DISK)
            cached.append(ids)
            fresh = {
                t: df.join(ids, "recordid", "left_anti").select(*df.columns)
                for t, df in outputs.items()
            }
            per_partition = _rows_per_partition(fresh)

        for table in TABLES:
            keys = list(per_partition[table])
            if not keys:
                continue
            merged = fresh[table]
            if existing[table] is not None:  # rewrite only partitions that receive new rows
                old = job_io.read_partitions(spark, files, lake_path, table, keys)
                merged = merged.unionByName(old) if old is not None else merged
            # Rows not joined with the lake are still clustered by output partition.
            job_io.stage(merged, lake_path, run_id, table, clustered=not known)
        manifest = job_io.write_manifest(
            files, lake_path, run_id, TABLES, full_refresh=full_refresh
        )
        job_io.publish(files, lake_path, manifest)
        job_io.register_manifest(register, manifest)
        job_io.finish(files, lake_path, run_id)
    finally:
        for df in cached:
            df.unpersist()

    transformed_n = sum(per_partition[TRANSFORMED_TABLE].values())
    quarantined_by = {k[0]: n for k, n in per_partition[QUARANTINE_TABLE].items()}
    new_rows = transformed_n + sum(quarantined_by.values())
    return {
        "records_read": records_read,
        "distinct_records": distinct,
        "already_present": distinct - new_rows,
        "duplicates_dropped": records_read - new_rows,
        "transformed": transformed_n,
        "quarantined": quarantined_by,
        "partitions_written": sum(len(p) for p in manifest["tables"].values()),
    }


def run_job(
    spark: Any,
    *,
    raw_path: str,
    lake_path: str,
    database: str,
    catalog_path: str | None,
    bookmark_path: str | None,
    fx_rate: float = 0.012,
    high_value_threshold: float = 100.0,
    full_refresh: bool = False,
    run_id: str | None = None,
) -> dict:
    """Run the job once on `spark` (never creating a session) and return the run summary, also
    written to `<lake_path>/_runs/<run_id>.json`.

    Incremental: only raw objects not in the bookmark file are read; the bookmark is committed
    after output and catalog are written. `full_refresh` reads all raw objects, rebuilds both
    tables and resets the bookmark. Partitions are registered in the local catalog file when
    `catalog_path` is given, else in the Glue Data Catalog when the lake is on s3://.
    """
    started, clock = datetime.now(UTC), time.monotonic()
    run_id = job_io.check_run_id(run_id or new_run_id(started))
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    files = job_io.open_files(spark, lake_path)
    register = _registrar(database, lake_path, catalog_path)
    job_io.recover(files, lake_path, register)

    raw_files = job_io.open_files(spark, raw_path)
    done = set() if full_refresh else job_io.load_bookmark(bookmark_path)
    objects = job_io.list_raw_objects(raw_files, raw_path)
    keys = {path: job_io.object_key(raw_path, path) for path in objects}
    todo = [path for path in objects if keys[path] not in done]
    params: dict[str, Any] = {
        "fx_rate": fx_rate,
        "high_value_threshold": high_value_threshold,
        "full_refresh": full_refresh,
    }
    numbers: dict[str, Any] = {}
    if todo:
        numbers = process_lines(
            spark,
            job_io.read_raw_lines(spark, todo),
            files=files,
            lake_path=lake_path,
            run_id=run_id,
            started=started,
            register=register,
            **params,
        )
        if bookmark_path is not None:
            job_io.save_bookmark(bookmark_path, done | {keys[p] for p in todo})
    summary = _summary(run_id, started, clock, objects_read=len(todo), **numbers, **params)
    job_io.write_summary(files, lake_path, summary)
    return summary


def _registrar(database: str, lake_path: str, catalog_path: str | None) -> Any:
    if catalog_path is not None:
        return job_io.local_registrar(catalog_path, database, lake_path)
    if lake_path.startswith("s3://"):
        return job_io.glue_registrar(database, lake_path)
    return None


# Glue ------------------------------------------------------------------------------------------
_CTRL_A = "\u0001"


def _glue_lines(glue_context: Any, raw_path: str) -> Any:
    """Raw lines through a bookmarked Glue source. Glue has no plain-text format that supports
    bookmarks, so CSV with a control-A separator and quoting off reads each line whole (a line
    that holds control-A is split and glued back together)."""
    from pyspark.sql import functions as F

    dyf = glue_context.create_dynamic_frame.from_options(
        connection_type="s3",
        connection_options={
            "paths": [raw_path],
            "recurse": True,
            "attachFilename": "ingested_from",
        },
        format="csv",
        format_options={"separator": _CTRL_A, "quoteChar": -1, "withHeader": False},
        transformation_ctx="raw_source",
    )
    # Every column as text before toDF(): a line of another shape must not make a column a
    # choice type, which toDF() turns into a struct.
    columns = [field.name for field in dyf.schema().fields]
    if columns:  # resolveChoice refuses an empty list (no raw objects yet)
        dyf = dyf.resolveChoice(specs=[(name, "cast:string") for name in columns])
    df = dyf.toDF()
    if "ingested_from" not in df.columns:
        df = df.withColumn("ingested_from", F.input_file_name())
    parts = [c for c in df.columns if c != "ingested_from"]
    if not parts:
        return None
    return df.select(
        F.concat_ws(_CTRL_A, *[F.col(c) for c in parts]).alias("value"), "ingested_from"
    )


def _glue_raw_path(args: dict[str, str], glue: Any) -> str:
    """The raw location: `--raw_path`, else the location of `--raw_database`.`--raw_table`."""
    if args.get("raw_path"):
        return args["raw_path"]
    table = glue.get_table(DatabaseName=args["raw_database"], Name=args["raw_table"])["Table"]
    return str(table["StorageDescriptor"]["Location"])


def glue_run_id(args: dict[str, str], started: datetime) -> str:
    """The run's id is the JOB_RUN_ID Glue passes: its summary is `_runs/<JobRunId>.json`,
    where `orderpipe transform status` looks for it."""
    return job_io.check_run_id(args.get("JOB_RUN_ID") or new_run_id(started))


def glue_main(argv: list[str]) -> dict:
    """The Glue job: bookmarks make it incremental. For --full-refresh the aws target starts the
    run with bookmarks disabled, so the source yields every object and the tables are rebuilt."""
    import boto3
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from awsglue.utils import getResolvedOptions
    from pyspark.context import SparkContext

    names = ["JOB_NAME", "lake_path", "database"]
    optional = ["raw_path", "raw_database", "raw_table", "fx_rate", "high_value_threshold"]
    optional += ["full_refresh", "JOB_RUN_ID", "aws_region"]
    args = getResolvedOptions(argv, names + [n for n in optional if f"--{n}" in argv])
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    started, clock = datetime.now(UTC), time.monotonic()
    run_id = glue_run_id(args, started)
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    lake_path = args["lake_path"]
    glue = boto3.client("glue", region_name=args.get("aws_region"))
    params: dict[str, Any] = {
        "fx_rate": float(args.get("fx_rate", 0.012)),
        "high_value_threshold": float(args.get("high_value_threshold", 100.0)),
        "full_refresh": args.get("full_refresh", "false").lower() in ("true", "1", "yes"),
    }
    files = job_io.open_files(spark, lake_path)
    register = job_io.glue_registrar(args["database"], lake_path, client=glue)
    job_io.recover(files, lake_path, register)
    lines = _glue_lines(glue_context, _glue_raw_path(args, glue))
    numbers: dict[str, Any] = {}
    objects = 0
    if lines is not None:
        objects = lines.select("ingested_from").distinct().count()
    if objects:
        numbers = process_lines(
            spark,
            lines,
            files=files,
            lake_path=lake_path,
            run_id=run_id,
            started=started,
            register=register,
            **params,
        )
    summary = _summary(run_id, started, clock, objects_read=objects, **numbers, **params)
    job_io.write_summary(files, lake_path, summary)
    job.commit()
    return summary


def main(argv: list[str]) -> dict:
    """spark-submit / python: the same job with argparse and a local or given SparkSession."""
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw_path", required=True)
    parser.add_argument("--lake_path", required=True)
    parser.add_argument("--database", default="orderpipe")
    parser.add_argument("--catalog_path")
    parser.add_argument("--bookmark_path")
    parser.add_argument("--fx_rate", type=float, default=0.012)
    parser.add_argument("--high_value_threshold", type=float, default=100.0)
    parser.add_argument("--full_refresh", action="store_true")
    parser.add_argument("--scratch_dir", default=".orderpipe/spark")
    ns = parser.parse_args(argv)
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        try:  # installed orderpipe: finds Java, keeps Spark's files in scratch_dir
            from orderpipe.spark import get_spark
        except ImportError:  # spark-submit with only the job package
            spark = SparkSession.builder.appName("transform_order_history").getOrCreate()
        else:
            spark = get_spark(Path(ns.scratch_dir), app_name="transform_order_history")
    summary = run_job(
        spark,
        raw_path=ns.raw_path,
        lake_path=ns.lake_path,
        database=ns.database,
        catalog_path=ns.catalog_path,
        bookmark_path=ns.bookmark_path,
        fx_rate=ns.fx_rate,
        high_value_threshold=ns.high_value_threshold,
        full_refresh=ns.full_refresh,
    )
    print(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    try:
        import awsglue  # noqa: F401
    except ImportError:
        main(sys.argv[1:])
    else:
        glue_main(sys.argv)

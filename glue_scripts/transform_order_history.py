"""transform_order_history: raw order records in, `transformed_orders` and `quarantined_orders`
out — every distinct record exactly once, in exactly one of the two (design.md §3.2–3.3).

A thin shim over the `orderpipe.job` package (which travels to Glue in the job zip,
`--extra-py-files`), run two ways:
* on AWS Glue (awsglue importable): job arguments via getResolvedOptions, the raw objects read
  through a GlueContext source with a transformation_ctx so job bookmarks make runs incremental
  (damaged gzip objects checked as locally, `_glue_batch`), the run itself `run.run_batch` as
  locally, `Job.init`/`Job.commit` around it, new partitions registered with
  batch_create_partition;
* under spark-submit / python (argparse), with a JSON file bookmark.

The local target does not run this file: it imports `orderpipe.job` directly.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from orderpipe.job import job_io
from orderpipe.job.run import Batch, RunContext, run_batch, run_job
from orderpipe.job.spark_engine import SparkEngine
from orderpipe.job.summary import RunSummary
from orderpipe.job.transform import FX_RATE, HIGH_VALUE_THRESHOLD

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


# How far back to look for raw objects Glue's bookmarked source may yield without a line (a
# `.gz` that is not gzip): the previous run's start less Glue's bookmark band (15 minutes) and
# the time a Firehose upload can take. Looking further back only re-checks objects already done.
_LOOKBACK_SECONDS = 3600.0
_WINDOW = "_state/glue_raw_window.json"


def _window_start(files: job_io.Files, lake_path: str) -> float | None:
    """Seconds since the epoch from which raw objects may be new (None: all of them)."""
    path = job_io.join(lake_path, _WINDOW)
    if not files.exists(path):
        return None
    try:
        return float(json.loads(files.read_text(path))["previous_run_started"]) - _LOOKBACK_SECONDS
    except (ValueError, TypeError, KeyError):  # not what a run wrote: check every object
        print(f"{path} is not a run's window; checking all raw objects this run.", file=sys.stderr)
        return None


def _glue_batch(
    engine: SparkEngine,
    lines: Any,
    raw_path: str,
    *,
    since: float | None,
    on_commit: Callable[[RunContext], None],
) -> Batch:
    """The run's input from Glue's bookmarked source, with the damaged objects among it.

    One pass names the objects the source yields (objects_read). A gzip object cut short or not
    gzip at all is read by Glue's reader up to the damage or not at all, or it fails the read;
    so the `.gz` objects checked for damage are those the source yields plus those modified
    since the previous run (which may have yielded no line), and if the read fails, the raw
    objects modified since the previous run are read with Spark's own reader (which stops at
    the damage) — the lake's dedupe makes reading an object twice harmless."""
    raw_files = engine.files_for(raw_path)
    recent = job_io.list_raw_objects(raw_files, raw_path, since)
    try:
        names = [] if lines is None else lines.select("ingested_from").distinct().collect()
        seen = [row[0] for row in names]
    except Exception as error:  # Glue's reader failed (a damaged object): read without it
        reason = " ".join(str(error).split())[:300]
        note = f"reading the {len(recent)} raw objects modified since the previous run instead"
        print(f"Glue's source could not be read ({reason}); {note}.", file=sys.stderr)
        lines = job_io.read_raw_lines(engine.spark, recent) if recent else None
        seen = recent
    candidates = {job_io.same_object(p): p for p in recent if p.endswith(".gz")}
    candidates.update((job_io.same_object(p), p) for p in seen if p.endswith(".gz"))
    damaged = engine.damaged_objects(list(candidates.values()))
    objects = {job_io.same_object(p) for p in seen} | {job_io.same_object(d[0]) for d in damaged}
    if lines is None:  # no line at all, yet damaged objects to record
        lines = engine.spark.createDataFrame([], "value string, ingested_from string")
    return Batch(
        len(objects), lambda ctx: engine.process_lines(lines, ctx, damaged=damaged), on_commit
    )


def glue_main(argv: list[str]) -> RunSummary:
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
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)

    engine = SparkEngine(glue_context.spark_session)
    lake_path = args["lake_path"]
    glue = boto3.client("glue", region_name=args.get("aws_region"))
    full_refresh = args.get("full_refresh", "false").lower() in ("true", "1", "yes")
    lake_files = engine.files_for(lake_path)

    def read() -> Batch:
        raw_path = _glue_raw_path(args, glue)
        lines = _glue_lines(glue_context, raw_path)
        since = None if full_refresh else _window_start(lake_files, lake_path)
        return _glue_batch(engine, lines, raw_path, since=since, on_commit=committed)

    def committed(ctx: RunContext) -> None:
        record = {"previous_run_started": ctx.started.timestamp()}
        lake_files.write_text(job_io.join(lake_path, _WINDOW), json.dumps(record))

    result = run_batch(
        engine,
        read,
        lake_path=lake_path,
        open_registrar=lambda: job_io.glue_registrar(args["database"], lake_path, client=glue),
        run_id=args.get("JOB_RUN_ID"),  # _runs/<JobRunId>.json: where `transform status` looks
        fx_rate=float(args.get("fx_rate", FX_RATE)),
        high_value_threshold=float(args.get("high_value_threshold", HIGH_VALUE_THRESHOLD)),
        full_refresh=full_refresh,
    )
    job.commit()
    return result


def main(argv: list[str]) -> RunSummary:
    """spark-submit / python: the same job with argparse and a local or given SparkSession."""
    import argparse
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw_path", required=True)
    parser.add_argument("--lake_path", required=True)
    parser.add_argument("--database", default="orderpipe")
    parser.add_argument("--catalog_path")
    parser.add_argument("--bookmark_path")
    parser.add_argument("--fx_rate", type=float, default=FX_RATE)
    parser.add_argument("--high_value_threshold", type=float, default=HIGH_VALUE_THRESHOLD)
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
    result = run_job(
        SparkEngine(spark),
        raw_path=ns.raw_path,
        lake_path=ns.lake_path,
        database=ns.database,
        catalog_path=ns.catalog_path,
        bookmark_path=ns.bookmark_path,
        fx_rate=ns.fx_rate,
        high_value_threshold=ns.high_value_threshold,
        full_refresh=ns.full_refresh,
    )
    print(json.dumps(result.to_json(), indent=1))
    return result


if __name__ == "__main__":
    try:
        import awsglue  # noqa: F401
    except ImportError:
        main(sys.argv[1:])
    else:
        glue_main(sys.argv)

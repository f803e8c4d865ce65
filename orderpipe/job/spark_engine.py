"""The Spark engine: the rules of `transform.py` on a SparkSession (Glue, spark-submit, or local
PySpark for `transform run --engine spark`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orderpipe.job import job_io
from orderpipe.job.damage import check_gzip
from orderpipe.job.run import TABLES, RunContext, counts
from orderpipe.job.transform import (
    QUARANTINE_TABLE,
    TRANSFORMED_TABLE,
    dedupe,
    output_partition,
    parse_lines,
    partition_columns,
    quarantined,
    transformed,
)


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


def _unreadable_rows(spark: Any, damaged: Sequence[tuple[str, str, str]], schema: Any) -> Any:
    """Damaged objects' records as parsed rows: reason `unreadable`, no fields."""
    from pyspark.sql import functions as F

    given = spark.createDataFrame(
        list(damaged), "ingested_from string, raw_line string, recordid string"
    )
    return given.select(
        *[
            F.lit("unreadable").alias(f.name)
            if f.name == "reason"
            else F.col(f.name)
            if f.name in given.columns
            else F.lit(None).cast(f.dataType).alias(f.name)
            for f in schema.fields
        ]
    )


class SparkEngine:
    name = "spark"

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        spark.conf.set("spark.sql.session.timeZone", "UTC")

    def files_for(self, root: str) -> job_io.Files:
        return job_io.open_files(self.spark, root)

    def process(self, paths: list[str], ctx: RunContext) -> dict[str, Any]:
        lines = job_io.read_raw_lines(self.spark, paths)
        return self.process_lines(lines, ctx, damaged=self.damaged_objects(paths))

    def damaged_objects(self, paths: list[str]) -> list[tuple[str, str, str]]:
        """(ingested_from, raw_line, recordid) of each gzip object that is cut short or corrupt.
        Spark's reader stops silently at the damage (ignoreCorruptFiles), so each gzip object is
        decoded once more where it is read (the executors), as a stream that keeps only the
        cut-off last line; only the damaged objects' records reach the driver."""
        from pyspark.sql import functions as F

        gz = [p for p in paths if p.endswith(".gz")]
        if not gz:
            return []
        objects = self.spark.read.format("binaryFile").load(gz)
        found = objects.select(F.col("_metadata.file_path").alias("uri"), "content").rdd.flatMap(
            lambda row: [
                (u.ingested_from, u.raw_line, u.recordid)
                for u in check_gzip(row.uri, bytes(row.content))
            ]
        )
        return list(found.collect())

    def process_lines(
        self, lines: Any, ctx: RunContext, damaged: Sequence[tuple[str, str, str]] = ()
    ) -> dict[str, Any]:
        """Transform raw lines (plus the `unreadable` records of damaged objects), drop what the
        tables already hold, stage the merged partitions. Returns the run's counts."""
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        spark, files, lake_path = self.spark, ctx.files, ctx.lake_path
        # Cached frames are always released, even on a crash: Spark would otherwise serve a
        # stale cached read of the lake to a later run in this session (lookup is by plan).
        cached: list[Any] = []
        try:
            # Hash-partitioned by output partition before the dedupe: the one shuffle of the
            # run serves both the dedupe (copies of a record share a partition) and, when
            # nothing has to be merged, the one-file-per-partition write.
            parsed = parse_lines(lines)
            if damaged:
                parsed = parsed.unionByName(_unreadable_rows(spark, damaged, parsed.schema))
            parsed = parsed.withColumn("_part", output_partition()).repartition("_part")
            records = dedupe(parsed, ("_part",)).persist(StorageLevel.MEMORY_AND_DISK)
            cached.append(records)
            outputs = {
                TRANSFORMED_TABLE: transformed(
                    records, fx_rate=ctx.fx_rate, high_value_threshold=ctx.high_value_threshold
                ),
                QUARANTINE_TABLE: quarantined(records, quarantined_at=ctx.started),
            }
            per_partition = _rows_per_partition(outputs)
            records_read = int(records.agg(F.sum("copies")).first()[0] or 0)
            distinct = sum(sum(p.values()) for p in per_partition.values())

            # Drop records the tables already hold. A record's partition follows from its
            # content, so looking in the partitions this run touches, in both tables, is enough.
            existing = {
                table: None
                if ctx.full_refresh
                else job_io.read_partitions(
                    spark, files, lake_path, table, list(per_partition[table])
                )
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
                job_io.stage(merged, lake_path, ctx.run_id, table, clustered=not known)
        finally:
            for df in cached:
                df.unpersist()

        return counts(
            records_read=records_read,
            distinct=distinct,
            transformed=sum(per_partition[TRANSFORMED_TABLE].values()),
            quarantined={k[0]: n for k, n in per_partition[QUARANTINE_TABLE].items()},
        )

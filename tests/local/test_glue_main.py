"""The Glue path of the job script (`glue_main`) run here: a stand-in `awsglue` (the three things
the script uses: getResolvedOptions, GlueContext's bookmarked S3 source, Job) over the test's
SparkSession, and moto's Glue Data Catalog, where the job registers its partitions."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
RUN_ID = "jr_0123abcd"


class FakeDynamicFrame:
    def __init__(self, df: Any) -> None:
        self.df = df

    def schema(self) -> Any:
        return self.df.schema

    def resolveChoice(self, specs: list[tuple[str, str]]) -> FakeDynamicFrame:
        from pyspark.sql import functions as F

        casts = {name: F.col(name).cast(spec.removeprefix("cast:")) for name, spec in specs}
        return FakeDynamicFrame(self.df.withColumns(casts))

    def toDF(self) -> Any:
        return self.df


def fake_awsglue(spark: Any, calls: list[tuple[str, Any]]) -> dict[str, types.ModuleType]:
    """awsglue.{utils,context,job} as the script calls them, reading files the way Glue's CSV
    source does with the options the script passes."""
    from pyspark.sql import functions as F

    def get_resolved_options(argv: list[str], names: list[str]) -> dict[str, str]:
        calls.append(("getResolvedOptions", names))
        return {name: argv[argv.index(f"--{name}") + 1] for name in names}

    class Source:
        def from_options(self, **options: Any) -> FakeDynamicFrame:
            calls.append(("from_options", options))
            fmt = options["format_options"]
            assert fmt["quoteChar"] == -1 and not fmt["withHeader"]
            df = (spark.read.option("sep", fmt["separator"]).option("quote", "")
                  .option("recursiveFileLookup", "true")
                  .csv(options["connection_options"]["paths"]))  # fmt: skip
            attach = options["connection_options"]["attachFilename"]
            return FakeDynamicFrame(df.withColumn(attach, F.input_file_name()))

    class GlueContext:
        def __init__(self, spark_context: Any) -> None:
            self.spark_session = spark
            self.create_dynamic_frame = Source()

    class Job:
        def __init__(self, context: GlueContext) -> None:
            pass

        def init(self, name: str, args: dict[str, str]) -> None:
            calls.append(("Job.init", name))

        def commit(self) -> None:
            calls.append(("Job.commit", None))

    modules = {name: types.ModuleType(name) for name in
               ("awsglue", "awsglue.utils", "awsglue.context", "awsglue.job")}  # fmt: skip
    modules["awsglue.utils"].getResolvedOptions = get_resolved_options  # type: ignore[attr-defined]
    modules["awsglue.context"].GlueContext = GlueContext  # type: ignore[attr-defined]
    modules["awsglue.job"].Job = Job  # type: ignore[attr-defined]
    return modules


def load_script() -> Any:
    path = ROOT / "glue_scripts" / "transform_order_history.py"
    spec = importlib.util.spec_from_file_location("transform_order_history_glue", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_glue_main_reads_the_raw_table_location_and_registers_partitions(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws_credentials: None
) -> None:
    raw, lake = tmp_path / "raw", tmp_path / "lake"
    (raw / "2026" / "01").mkdir(parents=True)
    with gzip.open(raw / "2026" / "01" / "orders-1.gz", "wb") as handle:
        handle.write((FIXTURES / "orders.ndjson").read_bytes())
    calls: list[tuple[str, Any]] = []
    for name, module in fake_awsglue(spark, calls).items():
        monkeypatch.setitem(sys.modules, name, module)

    with mock_aws():
        import boto3

        glue = boto3.client("glue")
        glue.create_database(DatabaseInput={"Name": "shop"})
        glue.create_table(DatabaseName="shop", TableInput={
            "Name": "raw", "StorageDescriptor": {"Location": str(raw)},
        })  # fmt: skip
        argv = ["transform_order_history.py", "--JOB_NAME", "shop-transform",
                "--lake_path", str(lake), "--database", "shop", "--raw_database", "shop",
                "--raw_table", "raw", "--fx_rate", "2", "--JOB_RUN_ID", RUN_ID]  # fmt: skip
        summary = load_script().glue_main(argv)
        partitions = {
            table: glue.get_partitions(DatabaseName="shop", TableName=table)["Partitions"]
            for table in ("transformed_orders", "quarantined_orders")
        }

    (source,) = [options for call, options in calls if call == "from_options"]
    assert source["connection_options"]["paths"] == [str(raw)]  # the raw table's location
    assert source["transformation_ctx"] == "raw_source"  # what makes Glue bookmark the source
    assert [call for call, _ in calls][-1] == "Job.commit"

    assert summary.run_id == RUN_ID and summary.fx_rate == 2.0
    lines = [line for line in (FIXTURES / "orders.ndjson").read_text().splitlines() if line]
    assert summary.records_read == len(lines) and summary.objects_read == 1
    assert summary.transformed + summary.quarantined_total == summary.distinct_records
    written = json.loads((lake / "_runs" / f"{RUN_ID}.json").read_text())
    assert written["transformed"] == summary.transformed > 0

    registered = partitions["transformed_orders"]
    assert len(registered) + len(partitions["quarantined_orders"]) == summary.partitions_written
    rows = spark.read.parquet(*(p["StorageDescriptor"]["Location"] for p in registered))
    assert rows.count() == summary.transformed
    assert rows.filter("totalamountusd <> round(quantity * unitprice * 2, 2)").count() == 0

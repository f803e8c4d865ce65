"""The Glue path of the job script (`glue_main`) run here: a stand-in `awsglue` (the three things
the script uses: getResolvedOptions, GlueContext's bookmarked S3 source, Job) over the test's
SparkSession, and moto's Glue Data Catalog, where the job registers its partitions. What Glue's
CSV source does with a damaged gzip object is not known here, so the stand-in does each of the
two things it could: stop at the damage, or fail the read."""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import sys
import time
import types
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from orderpipe.generator import synthetic_orders
from orderpipe.job import job_io

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
RUN_ID = "jr_0123abcd"
TABLES = ("transformed_orders", "quarantined_orders")


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


def fake_awsglue(
    spark: Any, calls: list[tuple[str, Any]], *, stops_at_damage: bool = True
) -> dict[str, types.ModuleType]:
    """awsglue.{utils,context,job} as the script calls them, reading files the way Glue's CSV
    source does with the options the script passes. A damaged gzip object yields the lines
    before the damage (`stops_at_damage`) or fails the read."""
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
                  .option("ignoreCorruptFiles", str(stops_at_damage).lower())
                  .csv(options["connection_options"]["paths"]))  # fmt: skip
            attach = options["connection_options"]["attachFilename"]
            # The object's URI as Spark's own reader names it (on S3 both say s3://bucket/key).
            return FakeDynamicFrame(df.withColumn(attach, F.col("_metadata.file_path")))

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


def lake_rows(spark: Any, lake: Path, table: str) -> list[tuple]:
    """Every row of a table's current partitions, by recordid (quarantined_at aside)."""
    current = list(job_io.current_files(job_io.Files(), str(lake), table))
    rows = spark.read.option("basePath", str(lake / table)).parquet(*current)
    return [tuple(r) for r in rows.drop("quarantined_at").orderBy("recordid").collect()]


def write_damaged_raw(raw: Path) -> None:
    """Good objects, a gzip cut short after some whole lines, and a `.gz` that is not gzip."""
    folder = raw / "2026" / "01"
    folder.mkdir(parents=True)
    for name in ("orders.ndjson", "online_retail_rows.ndjson"):
        (folder / f"{name}.gz").write_bytes(gzip.compress((FIXTURES / name).read_bytes()))
    start = datetime(2011, 12, 1, tzinfo=UTC)
    whole = gzip.compress(b"".join(synthetic_orders(300, seed=11, start=start)))
    (folder / "truncated.gz").write_bytes(whole[: len(whole) // 2])
    (folder / "not-gzip.gz").write_bytes(b"never gzip\n" * 3)


@pytest.fixture(scope="module")
def damaged_raw(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The raw folder, and what the local job (`run_job`, the same Spark engine) makes of it."""
    from orderpipe.job.run import run_job
    from orderpipe.job.spark_engine import SparkEngine

    base = tmp_path_factory.mktemp("glue_damage")
    write_damaged_raw(base / "raw")
    lake = base / "lake"
    summary = run_job(SparkEngine(spark), raw_path=str(base / "raw"), lake_path=str(lake),
                      database="shop", catalog_path=None, bookmark_path=None)  # fmt: skip
    return base / "raw", {"summary": summary, **{t: lake_rows(spark, lake, t) for t in TABLES}}


@pytest.mark.parametrize("stops_at_damage", [True, False], ids=["stops-at-damage", "read-fails"])
def test_glue_main_quarantines_damaged_objects_as_the_local_job_does(
    spark: Any,
    damaged_raw: tuple[Path, dict],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    aws_credentials: None,
    stops_at_damage: bool,
) -> None:
    raw, local = damaged_raw
    lake = tmp_path / "lake"
    modules = fake_awsglue(spark, [], stops_at_damage=stops_at_damage)
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    with mock_aws():
        import boto3

        boto3.client("glue").create_database(DatabaseInput={"Name": "shop"})
        argv = ["transform_order_history.py", "--JOB_NAME", "shop-transform",
                "--lake_path", str(lake), "--database", "shop", "--raw_path", str(raw)]  # fmt: skip
        summary = load_script().glue_main(argv)

    for table in TABLES:
        assert lake_rows(spark, lake, table) == local[table], table
    assert summary.objects_read == local["summary"].objects_read == 4
    numbers = ("records_read", "distinct_records", "transformed", "quarantined")
    same = {k: getattr(summary, k) for k in numbers}
    assert same == {k: getattr(local["summary"], k) for k in numbers}
    unreadable = [row for row in local["quarantined_orders"] if "unreadable" in row]
    named = sorted(str(value).rsplit("/", 1)[-1] for row in unreadable for value in row
                   if str(value).endswith(".gz"))  # fmt: skip
    assert named == ["not-gzip.gz", "truncated.gz"]


def test_the_raw_listing_window_keeps_objects_modified_since_the_previous_run(
    spark: Any, tmp_path: Path
) -> None:
    """What glue_main checks for damage beyond what Glue's source yields: raw objects modified
    since the previous run (the same through Hadoop's FileSystem, as on S3)."""
    folder = tmp_path / "raw" / "2026" / "01"
    folder.mkdir(parents=True)
    now = time.time()
    for name, age in (("old.gz", 7200), ("new.gz", 60), ("new.ndjson", 0), ("notes.txt", 0)):
        (folder / name).write_bytes(b"{}\n")
        os.utime(folder / name, (now - age, now - age))
    raw = str(tmp_path / "raw")
    for files, root in ((job_io.Files(), raw), (job_io.HadoopFiles(spark, raw), f"file://{raw}")):
        recent = job_io.list_raw_objects(files, root, now - 3600)
        assert [Path(p).name for p in recent] == ["new.gz", "new.ndjson"]
        assert len(job_io.list_raw_objects(files, root)) == 3
    same = {job_io.same_object(p) for p in ("/a/b c.gz", "file:/a/b%20c.gz", "file:///a/b c.gz")}
    assert same == {"/a/b c.gz"}


def test_the_raw_listing_window_lists_only_recent_firehose_hour_folders(tmp_path: Path) -> None:
    """On Firehose's layout only the hour folders that can hold a recent object are listed: a
    year of raw objects is not listed on every run."""
    now = datetime.now(UTC)
    folders = [tmp_path / "raw" / t.strftime("year=%Y/month=%m/day=%d/hour=%H")
               for t in (now - timedelta(hours=5), now)]  # fmt: skip
    for folder in folders:
        folder.mkdir(parents=True)
        (folder / "object.gz").write_bytes(b"")  # both modified now
    files = job_io.Files()
    assert job_io.list_raw_objects(files, str(tmp_path), time.time() - 3600) == [
        str(folders[1] / "object.gz")
    ]
    assert len(job_io.list_raw_objects(files, str(tmp_path))) == 2


@pytest.mark.parametrize("text", ["", "{", "[]", '{"previous_run_started": "soon"}', "{}"])
def test_a_damaged_window_file_makes_the_run_check_every_object(
    tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The look-back file is the job's own cache: whatever is in it, a run never fails on it —
    it checks every raw object (None) and says so; a window a run wrote still narrows it."""
    script = load_script()
    window = tmp_path / script._WINDOW
    window.parent.mkdir(parents=True)
    window.write_text(text)
    assert script._window_start(job_io.Files(), str(tmp_path)) is None
    assert "checking all raw objects" in capsys.readouterr().err
    window.write_text(json.dumps({"previous_run_started": 7200.0}))
    assert script._window_start(job_io.Files(), str(tmp_path)) == 7200.0 - script._LOOKBACK_SECONDS

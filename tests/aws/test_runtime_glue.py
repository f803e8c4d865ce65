"""Crawler and job runs against moto: state progressions with an injected clock and sleep.

moto runs no crawler and no job; time passing (the injected sleep) advances moto's state
machine, and the test plays the crawler's or the job's part (catalog tables, run summary).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.glue.models import glue_backends
from moto.moto_api import state_manager
from rich.console import Console

from orderpipe.errors import JobFailed, OrderpipeError
from orderpipe.settings import Settings, StackNames
from orderpipe.targets.aws.glue_run import job_runs, run_job, start_crawl
from orderpipe.targets.aws.reader import Reader
from orderpipe.targets.aws.resources import StackSpec
from orderpipe.targets.aws.session import AwsSession
from orderpipe.targets.base import JobParams

NAMES = StackNames("rt")
LAKE = "rt-lake-123456789012-eu-west-1"
REGION = "eu-west-1"
SPEC = StackSpec(settings=Settings(stack="rt"), account="123456789012", region=REGION)


class FakeTime:
    """A clock that moves only when the code under test sleeps; each sleep runs `on_sleep`."""

    def __init__(self, on_sleep: Callable[[], None] = lambda: None) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.on_sleep()


@pytest.fixture
def session(aws_credentials):
    with mock_aws():
        glue = boto3.client("glue")
        glue.create_database(DatabaseInput={"Name": NAMES.database})
        glue.create_crawler(
            Name=NAMES.crawler,
            Role="arn:aws:iam::123456789012:role/rt-glue-role",
            DatabaseName=NAMES.database,
            Targets={"S3Targets": [{"Path": "s3://rt-raw-123456789012-eu-west-1/raw/"}]},
        )
        glue.create_job(
            Name=NAMES.job,
            Role="arn:aws:iam::123456789012:role/rt-glue-role",
            Command={"Name": "glueetl", "ScriptLocation": "s3://rt-scripts/transform.py"},
            GlueVersion="5.0",
            WorkerType="G.1X",
            NumberOfWorkers=2,
            ExecutionProperty={"MaxConcurrentRuns": 1},
        )
        boto3.client("s3").create_bucket(
            Bucket=LAKE, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield AwsSession(region=REGION)
    for model in ("glue::crawl", "glue::job_run"):
        state_manager.unset_transition(model)


def _backend():
    return glue_backends[DEFAULT_ACCOUNT_ID][REGION]


def _add_raw_table(partitions: int) -> None:
    """What the crawler does: register the raw table and its hour partitions."""
    glue = boto3.client("glue")
    glue.create_table(
        DatabaseName=NAMES.database,
        TableInput={
            "Name": "raw",
            "StorageDescriptor": {"Columns": [{"Name": "invoiceno", "Type": "string"}]},
            "PartitionKeys": [{"Name": "hour", "Type": "string"}],
        },
    )
    for hour in range(partitions):
        glue.create_partition(
            DatabaseName=NAMES.database,
            TableName="raw",
            PartitionInput={"Values": [f"{hour:02d}"], "StorageDescriptor": {"Columns": []}},
        )


# crawler ------------------------------------------------------------------------------------


def test_crawl_waits_with_backoff_and_reports_the_tables_and_partitions_it_added(session):
    state_manager.set_transition("glue::crawl", {"progression": "manual", "times": 4})
    crawls = _backend().get_crawler(NAMES.crawler).crawls

    def crawler_works() -> None:
        crawls[-1].advance()
        if len(fake.sleeps) == 2:
            _add_raw_table(partitions=3)

    fake = FakeTime(crawler_works)
    seen: list[str] = []

    result = start_crawl(
        Reader(session, SPEC), sleep=fake.sleep, clock=fake.clock,
        on_progress=lambda p: seen.append(p["state"]),
    )  # fmt: skip

    assert result.state == "SUCCEEDED"
    assert result.tables_added == ["raw"]
    assert (result.partitions_added, result.partitions_total) == (3, 3)
    assert seen[0] == "RUNNING" and seen[-1] == "READY"
    assert len(fake.sleeps) == 4
    assert fake.sleeps == sorted(fake.sleeps) and fake.sleeps[0] < fake.sleeps[-1]


def test_a_second_crawl_counts_only_new_partitions(session):
    _add_raw_table(partitions=2)

    def crawler_works() -> None:
        boto3.client("glue").create_partition(
            DatabaseName=NAMES.database,
            TableName="raw",
            PartitionInput={"Values": ["23"], "StorageDescriptor": {"Columns": []}},
        )

    state_manager.set_transition("glue::crawl", {"progression": "manual", "times": 1})
    crawls = _backend().get_crawler(NAMES.crawler).crawls
    fake = FakeTime(lambda: (crawler_works(), crawls[-1].advance()))

    result = start_crawl(Reader(session, SPEC), sleep=fake.sleep, clock=fake.clock)

    assert result.state == "SUCCEEDED"
    assert result.tables_added == []
    assert (result.partitions_added, result.partitions_total) == (1, 3)


def test_a_running_crawler_is_reported_and_waited_for(session):
    state_manager.set_transition("glue::crawl", {"progression": "manual", "times": 2})
    boto3.client("glue").start_crawler(Name=NAMES.crawler)

    assert start_crawl(Reader(session, SPEC), wait=False).state == "ALREADY_RUNNING"

    crawls = _backend().get_crawler(NAMES.crawler).crawls
    fake = FakeTime(lambda: crawls[-1].advance())
    result = start_crawl(Reader(session, SPEC), sleep=fake.sleep, clock=fake.clock)
    assert result.state == "SUCCEEDED"
    assert "already running" in result.message
    assert len(crawls) == 1  # no second crawl was started


def test_a_failed_crawl_says_why_and_where_the_logs_are(session):
    state_manager.set_transition("glue::crawl", {"progression": "manual", "times": 99})
    crawls = _backend().get_crawler(NAMES.crawler).crawls

    def crawl_fails() -> None:
        crawls[-1].status = "FAILED"

    fake = FakeTime(crawl_fails)
    result = start_crawl(Reader(session, SPEC), sleep=fake.sleep, clock=fake.clock)

    assert result.state == "FAILED"
    assert "/aws-glue/crawlers" in result.message and NAMES.crawler in result.message


def test_a_crawl_that_never_ends_stops_waiting_at_the_timeout(session):
    state_manager.set_transition("glue::crawl", {"progression": "manual", "times": 10**6})
    fake = FakeTime()

    with pytest.raises(OrderpipeError, match="still running after 600s"):
        start_crawl(Reader(session, SPEC), sleep=fake.sleep, clock=fake.clock, timeout=600)

    assert 600 <= fake.now < 700
    assert max(fake.sleeps) <= 30  # the backoff is capped


def test_a_missing_crawler_says_to_run_up(session):
    boto3.client("glue").delete_crawler(Name=NAMES.crawler)
    with pytest.raises(OrderpipeError, match=r"rt-raw-crawler does not exist: run `orderpipe"):
        start_crawl(Reader(session, SPEC), sleep=FakeTime().sleep)


# job ----------------------------------------------------------------------------------------

SUMMARY = {
    "objects_read": 4,
    "records_read": 1200,
    "distinct_records": 1100,
    "duplicates_dropped": 100,
    "transformed": 1000,
    "quarantined": {"cancelled": 60, "missing_customer": 40},
    "quarantined_total": 100,
    "partitions_written": 7,
}


def _write_summary(run_id: str, **extra: object) -> None:
    boto3.client("s3").put_object(
        Bucket=LAKE,
        Key=f"_runs/{run_id}.json",
        Body=json.dumps({"run_id": run_id, **SUMMARY, **extra}).encode(),
    )


def test_a_job_run_is_followed_to_the_end_and_returns_the_summary_the_job_wrote(session):
    state_manager.set_transition("glue::job_run", {"progression": "manual", "times": 2})

    def job_works() -> None:
        for run in _backend().get_job(NAMES.job).job_runs:
            _write_summary(
                run.job_run_id, fx_rate=0.02, high_value_threshold=50.0, full_refresh=True
            )

    fake = FakeTime(job_works)
    progress: list[dict] = []
    params = JobParams(fx_rate=0.02, high_value_threshold=50, full_refresh=True)

    summary = run_job(
        session, NAMES, params, lake_bucket=LAKE, sleep=fake.sleep, clock=fake.clock,
        on_progress=progress.append,
    )  # fmt: skip

    assert summary.state == "SUCCEEDED"
    assert {k: summary.to_json()[k] for k in SUMMARY} == SUMMARY
    assert summary.run_id.startswith("jr_")
    states = [p["state"] for p in progress]
    assert sorted(set(states), key=states.index) == ["STARTING", "RUNNING", "SUCCEEDED"]
    assert fake.sleeps == sorted(fake.sleeps)
    run = boto3.client("glue").get_job_run(JobName=NAMES.job, RunId=summary.run_id)["JobRun"]
    assert run["Arguments"]["--fx_rate"] == "0.02"
    assert run["Arguments"]["--high_value_threshold"] == "50.0"
    assert run["Arguments"]["--full_refresh"] == "true"
    assert run["Arguments"]["--job-bookmark-option"] == "job-bookmark-disable"


def test_without_a_summary_the_run_reports_what_glue_knows(session):
    summary = run_job(session, NAMES, JobParams(), lake_bucket=LAKE, sleep=FakeTime().sleep)

    assert summary.state == "SUCCEEDED"
    assert summary.fx_rate == 0.012 and summary.full_refresh is False
    assert all(getattr(summary, k) is None for k in SUMMARY)
    run = boto3.client("glue").get_job_run(JobName=NAMES.job, RunId=summary.run_id)["JobRun"]
    assert "--job-bookmark-option" not in run["Arguments"]  # incremental: bookmarks apply


def test_a_second_run_while_one_is_in_progress_is_a_clear_error(session):
    state_manager.set_transition("glue::job_run", {"progression": "manual", "times": 10**6})
    boto3.client("glue").start_job_run(JobName=NAMES.job)

    with pytest.raises(OrderpipeError, match="already in progress"):
        run_job(session, NAMES, JobParams(), lake_bucket=LAKE, sleep=FakeTime().sleep)


def test_a_failed_run_raises_with_glue_s_message_and_the_log_location(session):
    run_id = "jr_0123abcd"
    with Stubber(session.client("glue")) as stub:
        stub.add_response("start_job_run", {"JobRunId": run_id})
        stub.add_response(
            "get_job_run",
            {
                "JobRun": {
                    "Id": run_id,
                    "JobRunState": "FAILED",
                    "ErrorMessage": "AnalysisException: Path does not exist: s3://rt-raw/raw",
                    "LogGroupName": "/aws-glue/jobs",
                    "ExecutionTime": 42,
                }
            },
        )
        with pytest.raises(JobFailed) as failed:
            run_job(session, NAMES, JobParams(), lake_bucket=LAKE, sleep=FakeTime().sleep)

    message = str(failed.value)
    assert "ended FAILED" in message and "Path does not exist" in message
    assert "/aws-glue/jobs/error" in message and "/aws-glue/jobs/output" in message
    assert run_id in message


def test_a_failed_run_is_listed_with_glue_s_error_and_its_counts_unknown(session):
    from orderpipe.runs_view import describe, runs_table

    error = "AnalysisException: Path does not exist: s3://rt-raw/raw"
    failed = {"Id": "jr_0123abcd", "JobRunState": "FAILED", "ExecutionTime": 42,
              "StartedOn": datetime(2026, 5, 1, 12, tzinfo=UTC), "ErrorMessage": error}  # fmt: skip
    with Stubber(session.client("glue")) as stub:
        stub.add_response("get_job_runs", {"JobRuns": [failed]})
        (run,) = job_runs(session, NAMES, 10, lake_bucket=LAKE)
    assert (run.state, run.started_at, run.seconds) == ("FAILED", "2026-05-01T12:00:00Z", 42)
    assert run.error == error and run.transformed is None
    assert describe(run) == f"FAILED: {error}"
    screen = Console(width=300, record=True)
    screen.print(runs_table([run]))
    table = screen.export_text()
    assert "unknown" in table and "Path does not exist" in table


def test_a_run_that_moto_fails_is_a_job_failure(session):
    state_manager.set_transition("glue::job_run", {"progression": "manual", "times": 10**6})

    def job_fails() -> None:
        _backend().get_job(NAMES.job).job_runs[-1].status = "FAILED"

    with pytest.raises(JobFailed, match="Glue gave no error message"):
        run_job(session, NAMES, JobParams(), lake_bucket=LAKE, sleep=FakeTime(job_fails).sleep)


def test_job_runs_lists_the_newest_first_with_their_numbers(session):
    ids = []
    for _ in range(3):
        ids.append(run_job(session, NAMES, JobParams(), lake_bucket=LAKE).run_id)
    _write_summary(ids[-1])

    runs = job_runs(session, NAMES, limit=2, lake_bucket=LAKE)

    assert [r.run_id for r in runs] == [ids[2], ids[1]]
    assert runs[0].transformed == 1000 and runs[1].transformed is None
    assert all(r.state == "SUCCEEDED" for r in runs)


def test_the_summary_the_job_writes_under_glues_run_id_is_the_one_transform_status_shows(
    session, tmp_path
):
    """The job names its summary after the JOB_RUN_ID Glue passes (tests/local/test_glue_main.py
    runs glue_main with one); the summary is built and written by the job's code. The lake
    folder then stands for the lake bucket (on Glue the job writes to S3 through the same code)."""
    import time
    from datetime import UTC, datetime
    from pathlib import Path

    from orderpipe.job import job_io
    from orderpipe.job.run import summary as run_summary

    job_run_id = boto3.client("glue").start_job_run(JobName=NAMES.job)["JobRunId"]
    started = datetime.now(UTC)
    numbers = {"records_read": 1200, "transformed": 1000, "quarantined": {"cancelled": 60}}
    summary = run_summary(
        job_run_id, started, time.monotonic(), "spark",
        fx_rate=0.012, high_value_threshold=100.0, full_refresh=False, **numbers,
    )  # fmt: skip
    written = Path(job_io.write_summary(job_io.Files(), str(tmp_path), summary))
    boto3.client("s3").put_object(
        Bucket=LAKE, Key=written.relative_to(tmp_path).as_posix(), Body=written.read_bytes()
    )

    (run,) = job_runs(session, NAMES, 10, lake_bucket=LAKE)
    assert run.run_id == job_run_id
    assert (run.records_read, run.transformed, run.quarantined_total) == (1200, 1000, 60)


def test_the_lag_starts_at_the_last_success_behind_more_failures_than_status_lists(session):
    """Six failed runs after a success (status lists five): the success is still found, so the
    raw object it read is not counted as waiting (was: the lag of the oldest object ever)."""
    from datetime import timedelta

    from orderpipe.targets.aws.status import RUNS_SHOWN, lag

    raw = SPEC.bucket("raw")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=raw, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=raw, Key="raw/year=2026/month=05/day=01/hour=12/a.gz", Body=b"{}\n")
    now = datetime.now(UTC)
    runs = [{"Id": f"jr_failed{i}", "JobRunState": "FAILED", "ErrorMessage": "boom",
             "StartedOn": now + timedelta(minutes=2 + i)} for i in range(6)]  # fmt: skip
    succeeded = now + timedelta(minutes=1)  # after the object landed: it read it
    runs.append({"Id": "jr_ok", "JobRunState": "SUCCEEDED", "StartedOn": succeeded})
    with Stubber(session.client("glue")) as stub:
        stub.add_response("get_job_runs", {"JobRuns": runs})
        listed = job_runs(session, NAMES, RUNS_SHOWN, back_to_success=True)
    assert [run.state for run in listed] == ["FAILED"] * RUNS_SHOWN + ["SUCCEEDED"]

    waiting = lag(Reader(session, SPEC), listed, stream={})
    assert (waiting.raw_objects_waiting, waiting.lag_seconds) == (0, 0)

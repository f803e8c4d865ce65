"""Run the stack's Glue crawler and ETL job, follow them with bounded polling, report numbers.

Waiting is injectable (`sleep`, `clock`) so tests never wait. The crawl report comes from the
Data Catalog itself (tables and partitions before vs after), which names the tables it added
and counts partitions — Glue's crawler metrics give neither. The job's numbers come from the
run summary the job writes to `s3://<lake>/_runs/<run_id>.json`; Glue itself only knows state,
time and capacity.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from orderpipe import console
from orderpipe.errors import JobFailed, OrderpipeError
from orderpipe.job.summary import RunSummary, iso
from orderpipe.settings import StackNames
from orderpipe.targets.aws.reader import Reader
from orderpipe.targets.aws.session import AwsSession
from orderpipe.targets.base import CrawlResult, JobParams

Sleep = Callable[[float], None]
Clock = Callable[[], float]
Progress = Callable[[dict[str, Any]], None]

RUN_SUMMARY_PREFIX = "_runs/"
JOB_FAILED_STATES = frozenset({"FAILED", "ERROR", "TIMEOUT", "STOPPED", "EXPIRED"})
JOB_DONE_STATES = JOB_FAILED_STATES | {"SUCCEEDED"}
# LastCrawl.Status → our state (moto says COMPLETED/STOPPED where Glue says SUCCEEDED/CANCELLED).
CRAWL_STATES = {
    "SUCCEEDED": "SUCCEEDED",
    "COMPLETED": "SUCCEEDED",
    "FAILED": "FAILED",
    "CANCELLED": "FAILED",
    "STOPPED": "FAILED",
}
DPU_PER_WORKER = {
    "G.025X": 0.25,
    "G.1X": 1.0,
    "G.2X": 2.0,
    "G.4X": 4.0,
    "G.8X": 8.0,
    "Z.2X": 2.0,
    "Standard": 1.0,
}
ALREADY_RUNNING = "ALREADY_RUNNING"  # a crawl asked for while one runs (CrawlResult.state)


def _next_delay(delay: float, cap: float) -> float:
    return min(delay * 1.5, cap)


# crawler ------------------------------------------------------------------------------------


def start_crawl(
    reader: Reader,
    *,
    wait: bool = True,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    timeout: float = 1800,
    on_progress: Progress | None = None,
) -> CrawlResult:
    """Start the crawler (or find it already running) and, with `wait`, follow it to the end."""
    names = reader.spec.names
    resource = f"crawler {names.crawler}"
    before = reader.crawled_partitions()
    previous_start = _crawler(reader).get("LastCrawl", {}).get("StartTime")
    started = clock()
    already = (
        reader.session.call(
            "glue",
            "start_crawler",
            resource=resource,
            answers={"CrawlerRunningException": ALREADY_RUNNING},
            Name=names.crawler,
        )
        == ALREADY_RUNNING
    )
    if not wait:
        return CrawlResult(
            state=ALREADY_RUNNING if already else "RUNNING",
            message="the crawler was already running" if already else "crawl started",
        )

    delay = 2.0
    while True:
        crawler = _crawler(reader)
        last = crawler.get("LastCrawl", {})
        elapsed = clock() - started
        if on_progress is not None:
            on_progress({"state": crawler.get("State", ""), "seconds": elapsed})
        finished = crawler.get("State") == "READY" and (
            already or last.get("StartTime") != previous_start
        )
        if finished and last:
            break
        if elapsed >= timeout:
            raise OrderpipeError(
                f"{resource} is still running after {timeout:.0f}s: see `orderpipe --target aws "
                "status`, or the AWS Glue console's crawler page."
            )
        sleep(delay)
        delay = _next_delay(delay, 30.0)

    after = reader.crawled_partitions()
    state = CRAWL_STATES.get(str(last.get("Status", "")), "FAILED")
    added = sorted(set(after) - set(before))
    message = "the crawler was already running; waited for that crawl" if already else ""
    if state != "SUCCEEDED":
        message = (
            f"crawl ended {last.get('Status', 'without a status')}: "
            f"{last.get('ErrorMessage') or 'Glue gave no reason'} (logs: CloudWatch log group "
            f"{last.get('LogGroup', '/aws-glue/crawlers')}, "
            f"stream {last.get('LogStream', names.crawler)})"
        )
    return CrawlResult(
        state=state,
        tables_added=added,
        partitions_added=sum(max(0, n - before.get(t, 0)) for t, n in after.items()),
        partitions_total=sum(after.values()),
        seconds=clock() - started,
        message=message,
    )


def _crawler(reader: Reader) -> dict[str, Any]:
    found = reader.crawler()
    if found is None:
        raise OrderpipeError(
            f"crawler {reader.spec.crawler} does not exist: run `orderpipe --target aws up`."
        )
    return found


# job ----------------------------------------------------------------------------------------


def job_arguments(params: JobParams) -> dict[str, str]:
    """The job run's arguments. A full refresh also turns bookmarks off for that run so every
    raw object is read again (the job's exactly-once rule makes re-reading harmless)."""
    arguments = {
        "--fx_rate": repr(float(params.fx_rate)),
        "--high_value_threshold": repr(float(params.high_value_threshold)),
        "--full_refresh": "true" if params.full_refresh else "false",
    }
    if params.full_refresh:
        arguments["--job-bookmark-option"] = "job-bookmark-disable"
    return arguments


def run_job(
    session: AwsSession,
    names: StackNames,
    params: JobParams,
    *,
    lake_bucket: str,
    wait: bool = True,
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    on_progress: Progress | None = None,
) -> RunSummary:
    """Start a run of the stack's job; with `wait`, follow it and return its run summary.

    Raises JobFailed (with Glue's message and where the logs are) when the run does not succeed.
    Glue's own job Timeout bounds the wait.
    """
    resource = f"job {names.job}"
    busy = OrderpipeError(
        f"a run of {resource} is already in progress: wait for it (`orderpipe --target aws "
        "transform status`) and run again."
    )
    started_run = session.call(
        "glue",
        "start_job_run",
        resource=resource,
        missing=OrderpipeError(f"{resource} does not exist: run `orderpipe --target aws up`."),
        answers={"ConcurrentRunsExceededException": busy},
        JobName=names.job,
        Arguments=job_arguments(params),
    )
    run_id = str(started_run["JobRunId"])

    started = clock()
    delay = 5.0
    while True:
        run = _job_run(session, names, run_id)
        if on_progress is not None:
            on_progress(
                {
                    "run_id": run_id,
                    "state": run["JobRunState"],
                    "seconds": clock() - started,
                    "dpu_seconds": _dpu_seconds(run),
                }
            )
        if not wait or run["JobRunState"] in JOB_DONE_STATES:
            break
        sleep(delay)
        delay = _next_delay(delay, 30.0)

    if run["JobRunState"] in JOB_FAILED_STATES:
        group = run.get("LogGroupName") or "/aws-glue/jobs"
        raise JobFailed(
            f"Glue job run {run_id} ended {run['JobRunState']}: "
            f"{run.get('ErrorMessage') or 'Glue gave no error message'} — logs: CloudWatch log "
            f"groups {group}/error and {group}/output, stream {run_id} "
            f"(`aws logs tail {group}/error --log-stream-names {run_id}`)."
        )
    if run["JobRunState"] != "SUCCEEDED":  # still running (--no-wait)
        return _run_record(run)
    record = _with_summary(session, lake_bucket, run)
    if record.transformed is None:
        console.warn(
            f"run {run_id} succeeded but wrote no run summary (s3://{lake_bucket}/"
            f"{RUN_SUMMARY_PREFIX}{run_id}.json), so its row counts are unknown: see the "
            f"job's output log, `aws logs tail {run.get('LogGroupName') or '/aws-glue/jobs'}"
            f"/output --log-stream-names {run_id}`."
        )
    return record


def _job_run(session: AwsSession, names: StackNames, run_id: str) -> dict[str, Any]:
    found = session.call(
        "glue",
        "get_job_run",
        resource=f"run {run_id} of job {names.job}",
        JobName=names.job,
        RunId=run_id,
    )
    return dict(found["JobRun"])


def job_runs(
    session: AwsSession,
    names: StackNames,
    limit: int = 10,
    *,
    lake_bucket: str | None = None,
    back_to_success: bool = False,
) -> list[RunSummary]:
    """The newest `limit` runs of the stack's job, newest first; with `lake_bucket`, each
    succeeded run carries the numbers from its run summary. `back_to_success`: when none of
    them succeeded, the newest run that did follows them (where the lag starts)."""
    runs: list[dict[str, Any]] = session.items(
        "glue",
        "get_job_runs",
        "JobRuns",
        resource=f"job {names.job}",
        missing=[],
        JobName=names.job,
    )
    runs.sort(key=lambda run: _started(run), reverse=True)
    chosen = runs[:limit]
    if back_to_success and not any(run["JobRunState"] == "SUCCEEDED" for run in chosen):
        chosen += [run for run in runs[limit:] if run["JobRunState"] == "SUCCEEDED"][:1]
    return [
        _with_summary(session, lake_bucket, run)
        if lake_bucket and run["JobRunState"] == "SUCCEEDED"
        else _run_record(run)
        for run in chosen
    ]


def _run_record(run: dict[str, Any]) -> RunSummary:
    """What Glue itself knows of a run (its counts unknown: None)."""
    arguments = run.get("Arguments") or {}
    done = run["JobRunState"] in JOB_DONE_STATES
    return RunSummary(
        run_id=run["Id"],
        state=run["JobRunState"],
        started_at=_iso(run.get("StartedOn")),
        finished_at=_iso(run.get("CompletedOn")) if done else None,
        seconds=run.get("ExecutionTime"),
        fx_rate=_float(arguments.get("--fx_rate")),
        high_value_threshold=_float(arguments.get("--high_value_threshold")),
        full_refresh=arguments.get("--full_refresh") == "true",
        error=run.get("ErrorMessage"),
        dpu_seconds=_dpu_seconds(run),
    )


def _with_summary(session: AwsSession, bucket: str, run: dict[str, Any]) -> RunSummary:
    """A succeeded run as its own summary tells it, over what Glue knows (its capacity, and
    anything an older summary lacks); as Glue tells it (counts unknown) without a summary."""
    return RunSummary.from_json(
        _run_record(run).to_json() | (_read_summary(session, bucket, run["Id"]) or {})
    )


def _read_summary(session: AwsSession, bucket: str, run_id: str) -> dict[str, Any] | None:
    key = f"{RUN_SUMMARY_PREFIX}{run_id}.json"
    found = session.call(
        "s3", "get_object", resource=f"s3://{bucket}/{key}", missing=None, Bucket=bucket, Key=key
    )
    if found is None:
        return None
    try:
        summary = json.loads(found["Body"].read())
    except ValueError:  # not the job's JSON: its counts are unknown
        return None
    return summary if isinstance(summary, dict) else None


def _dpu_seconds(run: dict[str, Any]) -> float | None:
    """Glue reports DPUSeconds only for auto-scaled/Flex runs; otherwise time × capacity."""
    if run.get("DPUSeconds") is not None:
        return float(run["DPUSeconds"])
    seconds = run.get("ExecutionTime")
    if not seconds:
        return None
    if run.get("MaxCapacity"):
        return float(seconds) * float(run["MaxCapacity"])
    per_worker = DPU_PER_WORKER.get(str(run.get("WorkerType")))
    if per_worker and run.get("NumberOfWorkers"):
        return float(seconds) * per_worker * float(run["NumberOfWorkers"])
    return None


def _started(run: dict[str, Any]) -> float:
    started = run.get("StartedOn")
    return started.timestamp() if isinstance(started, datetime) else 0.0


def _iso(value: Any) -> str | None:
    return iso(value) if isinstance(value, datetime) else None


def _float(value: str | None) -> float | None:
    return float(value) if value is not None else None

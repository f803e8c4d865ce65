"""`status --target aws`: every resource of the stack, its state and key settings, the last job
runs, delivery and query metrics, and freshness — a StatusReport, as the local target's, so the
`status` command renders both.

State is `ok` (as `up` would leave it), `missing`, `drift` (the next `up` would change it; the
detail names how) or the service's own state (a stream CREATING, a crawler RUNNING).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from orderpipe.errors import OrderpipeError
from orderpipe.freshness import RawObject, lag_figures, last_success, when
from orderpipe.job.summary import RunSummary
from orderpipe.results import Figure, Lag, ResourceRow, StatusReport
from orderpipe.settings import BUCKET_ROLES, RAW_PREFIX
from orderpipe.targets.aws.glue_run import CRAWL_STATES, job_runs
from orderpipe.targets.aws.planner import Planner
from orderpipe.targets.aws.reader import Reader
from orderpipe.targets.aws.resources import SERVICES
from orderpipe.targets.aws.schedule import crawl_trigger, job_trigger, workflow_name
from orderpipe.targets.base import Action


def _row(kind: str, name: str, state: str, **settings: Any) -> ResourceRow:
    detail = ", ".join(f"{k}={v}" for k, v in settings.items() if v not in (None, "", []))
    return ResourceRow(kind, name, state, detail, settings)


def _state(found: Any, drift: Callable[[], list[Action]], native: str | None = None) -> str:
    if found is None:
        return "missing"
    if native and native not in {"ACTIVE", "READY", "ENABLED"}:
        return native
    steps = drift()
    return "ok" if not steps else "drift: " + "; ".join(a.api.split(".", 1)[1] for a in steps)


def collect(reader: Reader, agent: Path) -> StatusReport:
    """The report; `agent` is this machine's agent folder (`generate --here`, `ship`)."""
    spec = reader.spec
    planner = Planner(reader, artifacts=list)
    rows = []
    for role in BUCKET_ROLES:
        bucket = reader.bucket(role)
        b = bucket or {}
        rule = ((b.get("encryption") or {}).get("Rules") or [{}])[0]
        rows.append(
            _row(
                "bucket",
                spec.bucket(role),
                _state(bucket, partial(planner.bucket, role)),
                encryption=rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm"),
                public_access_blocked=bool(b.get("public_access_block"))
                and all(b["public_access_block"].values()),
                tls_only=b.get("policy") is not None and b["policy"] == spec.bucket_policy(role),
                lifecycle=[r.get("ID") for r in b.get("lifecycle") or []],
                versioning=b.get("versioning") or "off",
            )
        )
    for service in SERVICES:
        found_role = reader.role(service)
        rows.append(
            _row(
                "iam role",
                spec.role_name(service),
                _state(found_role, partial(planner.role, service)),
                inline_policies=sorted((found_role or {}).get("policies", {})),
                managed_policies=(found_role or {}).get("managed"),
            )
        )
    # kind, name, what exists, the planner's steps for it, the one setting shown
    plain: list[tuple[str, str, dict[str, Any] | None, Callable[[], list[Action]], str]] = [
        ("instance profile", spec.instance_profile, reader.instance_profile(),
         planner.instance_profile, "roles"),
        ("log group", spec.log_group, reader.log_group(), planner.log_group, "retention_days"),
    ]  # fmt: skip
    for kind, name, found, drift, setting in plain:
        rows.append(_row(kind, name, _state(found, drift), **{setting: (found or {}).get(setting)}))
    vpc = reader.default_vpc()
    if vpc is not None:  # none: `up` makes no security group (`generate` says why)
        group = reader.security_group(vpc)
        state = _state(group, planner.security_group)
        rows.append(_row("security group", spec.security_group, state, vpc=vpc))
    stream = reader.stream()
    dest = (stream or {}).get("destination", {})
    rows.append(
        _row(
            "delivery stream",
            spec.stream,
            _state(stream, planner.stream, (stream or {}).get("status")),
            compression=dest.get("CompressionFormat"),
            prefix=dest.get("Prefix"),
            error_prefix=dest.get("ErrorOutputPrefix"),
            buffering=dest.get("BufferingHints"),
        )
    )
    database = reader.database()
    rows.append(_row("glue database", spec.database, _state(database, planner.database)))
    for table in spec.tables:
        found = reader.table(table)
        rows.append(
            _row(
                "glue table",
                f"{spec.database}.{table}",
                _state(found, partial(planner.table, table)),
                location=((found or {}).get("StorageDescriptor") or {}).get("Location"),
            )
        )
    crawler = reader.crawler()
    last_crawl = (crawler or {}).get("LastCrawl") or {}
    rows.append(
        _row(
            "glue crawler",
            spec.crawler,
            _state(crawler, planner.crawler, (crawler or {}).get("State")),
            last_crawl=last_crawl.get("Status"),
            last_crawl_started=last_crawl.get("StartTime"),
            last_crawl_error=last_crawl.get("ErrorMessage"),
        )
    )
    job = reader.job()
    run = reader.last_job_run() if job else None
    rows.append(
        _row(
            "glue job",
            spec.job,
            _state(job, planner.job),
            glue_version=(job or {}).get("GlueVersion"),
            worker_type=(job or {}).get("WorkerType"),
            workers=(job or {}).get("NumberOfWorkers"),
            execution_class=(job or {}).get("ExecutionClass"),
            bookmarks=((job or {}).get("DefaultArguments") or {}).get("--job-bookmark-option"),
            last_run=(run or {}).get("JobRunState"),
            last_run_started=(run or {}).get("StartedOn"),
        )
    )
    workgroup = reader.workgroup()
    config = (workgroup or {}).get("Configuration") or {}
    rows.append(
        _row(
            "athena workgroup",
            spec.workgroup,
            _state(workgroup, planner.workgroup, (workgroup or {}).get("State")),
            output=(config.get("ResultConfiguration") or {}).get("OutputLocation"),
            scan_cutoff_bytes=config.get("BytesScannedCutoffPerQuery"),
            enforced=config.get("EnforceWorkGroupConfiguration"),
        )
    )
    topic = reader.topic()
    if topic is not None:
        rows.append(
            _row(
                "sns topic",
                spec.topic,
                "ok",
                subscriptions=[
                    f"{p}:{e}" + (" (pending)" if a == "PendingConfirmation" else "")
                    for p, e, a in topic["subscriptions"]
                ],
            )
        )
        alarm = reader.alarm()
        rows.append(_row("alarm", spec.firehose_alarm, (alarm or {}).get("StateValue", "missing")))
        rule = reader.rule()
        rows.append(_row("event rule", spec.glue_rule, (rule or {}).get("state", "missing")))
    for instance in reader.instances():
        rows.append(
            _row(
                "ec2 instance",
                instance["InstanceId"],
                instance["State"]["Name"],
                type=instance.get("InstanceType"),
            )
        )
    missing = sum(1 for r in rows if r.state == "missing")
    message = (
        f"{missing} of {len(rows)} resources missing: run `orderpipe --target aws up`."
        if missing
        else ""
    )
    rows += schedule_rows(reader)
    rows += _dead_letter_rows(agent)
    figures = freshness(reader, crawler)
    runs = _attempt(lambda: last_runs(reader, job is not None))
    if isinstance(runs, str):
        figures["job_runs"], runs = runs, []
    measured = _attempt(lambda: lag(reader, runs, stream)) if reader.bucket_exists("raw") else None
    return StatusReport(
        "aws",
        stack=spec.stack,
        account=spec.account,
        region=spec.region,
        resources=tuple(rows),
        runs=tuple(runs[:RUNS_SHOWN]),
        figures=figures,
        lag=Lag.unreadable(measured) if isinstance(measured, str) else measured,
        message=message,
    )


def _dead_letter_rows(agent: Path) -> list[ResourceRow]:
    """The lines this machine's agent set aside as over Firehose's record limit, if any."""
    from orderpipe.shipper import dead_letters

    count, folder = dead_letters(agent)
    if not count:
        return []
    return [ResourceRow("agent", "dead-letter", f"{count:,} line(s)",
                        f"over Firehose's record limit, kept in {folder}")]  # fmt: skip


def schedule_rows(reader: Reader) -> list[ResourceRow]:
    """The schedule's workflow and triggers, when `schedule set` made them."""
    stack = reader.spec.stack
    rows = []
    if reader.workflow(workflow_name(stack)) is not None:
        rows.append(_row("glue workflow", workflow_name(stack), "ok"))
    for name in (job_trigger(stack), crawl_trigger(stack)):
        found = reader.trigger(name)
        if found is not None:
            rows.append(
                _row("glue trigger", name, str(found.get("State")), schedule=found.get("Schedule"))
            )
    return rows


def lag(
    reader: Reader,
    runs: list[RunSummary] | None = None,
    stream: dict[str, Any] | None = None,
) -> Lag:
    """Lag from the raw objects that landed since the last successful job run started, plus
    the stream's buffer interval (records wait that long in Firehose before they land)."""
    spec = reader.spec
    if runs is None:
        runs = last_runs(reader, reader.job() is not None)
    stream = reader.stream() if stream is None else stream
    hints = ((stream or {}).get("destination") or {}).get("BufferingHints") or {}
    buffer = float(hints.get("IntervalInSeconds", spec.options.buffer_seconds))
    done = last_success(runs)
    started = when(done.started_at) if done else None
    listing: dict[str, Any] = {"Bucket": spec.bucket("raw"), "Prefix": RAW_PREFIX}
    if started is not None:  # keys sort by time: skip the hours before that run
        listing["StartAfter"] = datetime.fromtimestamp(started, UTC).strftime(
            RAW_PREFIX + "year=%Y/month=%m/day=%d/hour=%H/"
        )
    objects = []
    for item in reader.session.items(
        "s3",
        "list_objects_v2",
        "Contents",
        resource=f"s3://{spec.bucket('raw')}/{RAW_PREFIX}",
        **listing,
    ):
        landed = item["LastModified"].timestamp()
        objects.append(RawObject(landed=landed, arrived=landed))
    return lag_figures(objects, runs, now=time.time(), buffer_seconds=buffer)


RUNS_SHOWN = 5
NO_DATA = "no data"


def _attempt(read: Callable[[], Any]) -> Any:
    """A status page renders even when one reading fails (a missing permission, say): that
    reading shows why instead."""
    try:
        return read()
    except OrderpipeError as exc:
        return f"unreadable: {exc}"


def last_runs(reader: Reader, job_exists: bool) -> list[RunSummary]:
    """The newest job runs with their run-summary numbers (as `transform status` lists them),
    followed by the last successful one when none of them succeeded (the lag starts there)."""
    if not job_exists:
        return []
    spec = reader.spec
    lake = spec.bucket("lake") if reader.bucket_exists("lake") else None
    return job_runs(reader.session, spec.names, RUNS_SHOWN, lake_bucket=lake, back_to_success=True)


def freshness(reader: Reader, crawler: dict[str, Any] | None) -> dict[str, Figure]:
    """How current each stage is: the newest raw object, partitions in the catalog, the last
    crawl, and the last hour's Firehose deliveries and Athena bytes scanned (CloudWatch)."""
    spec = reader.spec
    found: dict[str, Figure] = {}
    if reader.bucket_exists("raw"):
        newest = _attempt(lambda: newest_object(reader, "raw", RAW_PREFIX))
        found["newest_raw_object"] = (
            _when(newest["LastModified"]) if isinstance(newest, dict) else newest
        )
    if reader.database() is not None:
        found["raw_partitions"] = _attempt(lambda: sum(reader.crawled_partitions().values()))
        for table in spec.tables:
            found[f"{table}_partitions"] = _attempt(partial(_table_partitions, reader, table))
    if crawler is not None:
        last = crawler.get("LastCrawl")
        status = str((last or {}).get("Status"))
        found["last_crawl"] = (
            f"{CRAWL_STATES.get(status, status)} at {_when(last.get('StartTime'))}"
            if last
            else "never"
        )
    metrics = _attempt(lambda: last_hour_metrics(reader))
    if isinstance(metrics, dict):
        found.update(metrics)
    else:
        found["metrics"] = metrics
    return found


def _when(value: Any) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else "?"


def newest_object(reader: Reader, role: str, prefix: str) -> dict[str, Any] | None:
    """The newest object under `prefix` (its listing entry), following the newest partition at
    each level (Firehose's zero-padded year=/month=/day=/hour= sort as they age), so a big
    bucket costs one listing per level, not a listing of everything."""
    bucket = reader.spec.bucket(role)
    best: dict[str, Any] | None = None
    while prefix:
        folders: list[str] = []
        for page in reader.session.pages(
            "s3",
            "list_objects_v2",
            resource=f"s3://{bucket}/{prefix}",
            Bucket=bucket,
            Prefix=prefix,
            Delimiter="/",
        ):
            folders += [p["Prefix"] for p in page.get("CommonPrefixes") or []]
            for item in page.get("Contents") or []:
                if best is None or item["LastModified"] > best["LastModified"]:
                    best = item
        prefix = max(folders, default="")
    return best


def _table_partitions(reader: Reader, table: str) -> int | None:
    found = reader.table(table)
    if found is None or not found.get("PartitionKeys"):
        return None
    return reader.partition_count(table)


def last_hour_metrics(reader: Reader, now: datetime | None = None) -> dict[str, Any]:
    """Firehose's DeliveryToS3.Records (sum) and .Success (average: the share of successful
    S3 puts) and Athena's ProcessedBytes in the stack's workgroup, over the last hour;
    "no data" where CloudWatch has none (nothing delivered or queried)."""
    spec = reader.spec
    end = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    stream = [{"Name": "DeliveryStreamName", "Value": spec.stream}]

    def firehose(metric: str, stat: str) -> dict[str, Any]:
        return {
            "MetricStat": {
                "Metric": {"Namespace": "AWS/Firehose", "MetricName": metric, "Dimensions": stream},
                "Period": 3600,
                "Stat": stat,
            }
        }

    queries = {
        "firehose_records_last_hour": firehose("DeliveryToS3.Records", "Sum"),
        "firehose_success_last_hour": firehose("DeliveryToS3.Success", "Average"),
        "athena_scanned_bytes_last_hour": {
            "Expression": 'SELECT SUM(ProcessedBytes) FROM SCHEMA("AWS/Athena", QueryState, '
            f"QueryType, WorkGroup) WHERE WorkGroup = '{spec.workgroup}'",
            "Period": 3600,
        },
    }
    ids = {f"m{i}": key for i, key in enumerate(queries)}
    values: dict[str, list[float]] = {key: [] for key in queries}
    for result in reader.session.items(
        "cloudwatch",
        "get_metric_data",
        "MetricDataResults",
        resource=f"metrics of stack {spec.stack}",
        MetricDataQueries=[{"Id": i, **queries[key]} for i, key in ids.items()],
        StartTime=end - timedelta(hours=1),
        EndTime=end,
    ):
        values[ids[result["Id"]]] += result.get("Values") or []
    totals: dict[str, Any] = {key: int(sum(found)) if found else NO_DATA
                              for key, found in values.items()}  # fmt: skip
    success = values["firehose_success_last_hour"]
    totals["firehose_success_last_hour"] = (
        round(sum(success) / len(success), 4) if success else NO_DATA
    )
    return totals

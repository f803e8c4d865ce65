"""`status --target aws`: every resource of the stack, its state and key settings, as plain data.

State is `ok` (as `up` would leave it), `missing`, `drift` (the next `up` would change it; the
detail names how) or the service's own state (a stream CREATING, a crawler RUNNING).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from orderpipe.settings import BUCKET_ROLES
from orderpipe.targets.aws.planner import Planner
from orderpipe.targets.aws.reader import Reader
from orderpipe.targets.base import Action


def _row(kind: str, name: str, state: str, **settings: Any) -> dict[str, Any]:
    detail = ", ".join(f"{k}={v}" for k, v in settings.items() if v not in (None, "", []))
    return {"kind": kind, "name": name, "state": state, "detail": detail, "settings": settings}


def _state(found: Any, drift: Callable[[], list[Action]], native: str | None = None) -> str:
    if found is None:
        return "missing"
    if native and native not in {"ACTIVE", "READY", "ENABLED"}:
        return native
    steps = drift()
    return "ok" if not steps else "drift: " + "; ".join(a.api.split(".", 1)[1] for a in steps)


def collect(reader: Reader) -> dict[str, Any]:
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
                tls_only=b.get("policy") == spec.bucket_policy(role),
                lifecycle=[r.get("ID") for r in b.get("lifecycle") or []],
                versioning=b.get("versioning") or "off",
            )
        )
    for service in ("firehose", "glue", "ec2"):
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
    profile = reader.instance_profile()
    rows.append(
        _row(
            "instance profile",
            spec.instance_profile,
            _state(profile, planner.instance_profile),
            roles=(profile or {}).get("roles"),
        )
    )
    group = reader.log_group()
    rows.append(
        _row(
            "log group",
            spec.log_group,
            _state(group, planner.log_group),
            retention_days=(group or {}).get("retention_days"),
        )
    )
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
    instances = reader.instances()
    for instance in instances:
        rows.append(
            _row(
                "ec2 instance",
                instance["InstanceId"],
                instance["State"]["Name"],
                type=instance.get("InstanceType"),
            )
        )
    missing = sum(1 for r in rows if r["state"] == "missing")
    message = (
        f"{missing} of {len(rows)} resources missing: run `orderpipe --target aws up`."
        if missing
        else ""
    )
    return {
        "target": "aws",
        "stack": spec.stack,
        "account": spec.account,
        "region": spec.region,
        "resources": rows,
        "message": message,
    }

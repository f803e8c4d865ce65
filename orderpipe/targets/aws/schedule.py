"""`schedule` on AWS: a Glue workflow that runs the pipeline by itself, priced at list prices.

Shape, and why (list prices: a crawl is billed for at least 10 minutes, ~$0.15, while a
small job run is billed ~1 minute of 2 DPU, ~$0.015):

- workflow `<stack>-pipeline`, whose start trigger `<stack>-every` (SCHEDULED, every DURATION)
  starts the ETL job. The job needs no fresh raw catalog: it reads raw by path with its own
  bookmark and registers the partitions it writes, so crawling before every run would multiply
  the bill (hourly crawls ≈ $106/month against ≈ $4.50 daily) and add ~1 minute of latency.
- `<stack>-daily-crawl` (SCHEDULED, 00:30 UTC) starts the crawler once a day, so the raw table's
  schema and partitions stay current for ad-hoc Athena over raw. It stands outside the workflow:
  a Glue workflow has exactly one start trigger.

Glue schedules are cron expressions with a 5-minute floor, so DURATION must divide an hour or a
day evenly. Everything is a plan of Actions run by the provisioning executor: idempotent, and
`down` removes the same names (see teardown.py).
"""

from __future__ import annotations

import math
import time

from orderpipe.errors import NotReadyError, UsageError
from orderpipe.job.summary import RunSummary
from orderpipe.results import ScheduleCost, ScheduleInfo, Trigger, WorkflowRun
from orderpipe.targets.aws.planner import act, delete_if
from orderpipe.targets.aws.reader import Reader
from orderpipe.targets.base import Action

DAILY_CRAWL = "cron(30 0 * * ? *)"
JOB_USD_PER_DPU_HOUR = {"STANDARD": 0.44, "FLEX": 0.29}  # scale.md: list prices, us-east-1
CRAWL_USD = 0.15  # scale.md ⚠: a crawl is billed for at least 10 minutes
JOB_MIN_SECONDS = 60  # Glue 2.0+ bills at least one minute per run
JOB_MIN_DPU = 2  # a Spark job has at least two DPUs
DAY = 86400
ALLOWED = "5m, 10m, 15m, 20m, 30m, 1h, 2h, 3h, 4h, 6h, 8h, 12h or 1d"


def workflow_name(stack: str) -> str:
    return f"{stack}-pipeline"


def job_trigger(stack: str) -> str:
    return f"{stack}-every"


def crawl_trigger(stack: str) -> str:
    return f"{stack}-daily-crawl"


def cron_every(seconds: float) -> str:
    """The Glue cron expression firing every `seconds`, aligned to UTC midnight."""
    minutes = seconds / 60
    if minutes.is_integer() and 5 <= minutes < 60 and 60 % minutes == 0:
        return f"cron(0/{int(minutes)} * * * ? *)"
    hours = minutes / 60
    if hours.is_integer() and 1 <= hours < 24 and 24 % hours == 0:
        return "cron(0 * * * ? *)" if hours == 1 else f"cron(0 0/{int(hours)} * * ? *)"
    if seconds == DAY:
        return "cron(0 0 * * ? *)"
    raise UsageError(
        f"--every must be one of {ALLOWED}: Glue schedules are cron expressions that fire at "
        "most every 5 minutes and must divide an hour or a day evenly."
    )


def every_of(cron: str) -> float | None:
    """The interval of a cron expression made by `cron_every` (None for any other)."""
    fields = cron.removeprefix("cron(").removesuffix(")").split()
    if len(fields) != 6:
        return None
    minute, hour = fields[0], fields[1]
    if minute.startswith("0/") and hour == "*":
        return int(minute[2:]) * 60.0
    if minute == "0" and hour == "*":
        return 3600.0
    if minute == "0" and hour.startswith("0/"):
        return int(hour[2:]) * 3600.0
    if minute == "0" and hour == "0":
        return float(DAY)
    return None


def next_run(every: float, now: float) -> float:
    """When a schedule of `every` seconds (aligned to UTC midnight) fires next after `now`."""
    return (math.floor(now / every) + 1) * every


def plan_set(reader: Reader, every: float) -> list[Action]:
    """Create the workflow and both triggers; replace a trigger whose schedule differs."""
    spec = reader.spec
    stack, cron = spec.stack, cron_every(every)
    if reader.job() is None or reader.crawler() is None:
        raise NotReadyError(
            f"the stack {stack!r} has no Glue job or crawler to schedule: run "
            "`orderpipe --target aws up` first."
        )
    workflow = workflow_name(stack)
    wanted = {
        job_trigger(stack): dict(
            WorkflowName=workflow,
            Type="SCHEDULED",
            Schedule=cron,
            Actions=[{"JobName": spec.job}],
            Description=f"runs {spec.job} {cron}",
        ),
        crawl_trigger(stack): dict(
            Type="SCHEDULED",
            Schedule=DAILY_CRAWL,
            Actions=[{"CrawlerName": spec.crawler}],
            Description="keeps the raw table's schema and partitions current, once a day",
        ),
    }
    steps = []
    if reader.workflow(workflow) is None:
        steps.append(
            act(
                "create",
                f"workflow {workflow}",
                "glue.create_workflow",
                "the stack's schedule",
                Name=workflow,
                Description=f"orderpipe stack {stack}: the ETL job on a schedule",
                Tags=spec.tags,
            )
        )
    for name, params in wanted.items():
        found = reader.trigger(name)
        same = found is not None and all(
            found.get(k) == v for k, v in params.items() if k != "Description"
        )
        if same and found is not None and found.get("State") == "ACTIVATED":
            continue
        label = f"trigger {name}"
        if found is not None and not same:
            # No UpdateTrigger can move a trigger between workflows: replace it.
            steps.append(act("delete", label, "glue.delete_trigger", "schedule changed", Name=name))
        if found is None or not same:
            steps.append(
                act(
                    "create",
                    label,
                    "glue.create_trigger",
                    str(params["Schedule"]),
                    Name=name,
                    StartOnCreation=True,
                    Tags=spec.tags,
                    **params,
                )
            )
        else:
            steps.append(act("update", label, "glue.start_trigger", "activate", Name=name))
    return steps


def plan_clear(reader: Reader) -> list[Action]:
    """Delete the triggers (the empty workflow stays until `down`)."""
    stack = reader.spec.stack
    return [
        step
        for name in (job_trigger(stack), crawl_trigger(stack))
        for step in delete_if(
            reader.trigger(name), f"trigger {name}", "glue.delete_trigger",
            "no more scheduled runs", Name=name,
        )
    ]  # fmt: skip


def plan_teardown(reader: Reader) -> list[Action]:
    """`down`: the triggers, then the workflow."""
    workflow = workflow_name(reader.spec.stack)
    return plan_clear(reader) + delete_if(
        reader.workflow(workflow), f"workflow {workflow}", "glue.delete_workflow", "schedule",
        Name=workflow,
    )  # fmt: skip


def scheduled_every(reader: Reader) -> float | None:
    """The job trigger's interval when it is active, else None."""
    found = reader.trigger(job_trigger(reader.spec.stack))
    if found is None or found.get("State") not in {"ACTIVATED", "ACTIVATING"}:
        return None
    return every_of(str(found.get("Schedule", "")))


def job_run_usd(reader: Reader, runs: list[RunSummary]) -> float:
    """What one job run costs at list prices: the recent runs' mean DPU-seconds, at least Glue's
    minimum (two DPUs for one minute)."""
    job = reader.job() or {}
    price = JOB_USD_PER_DPU_HOUR.get(str(job.get("ExecutionClass", "STANDARD")), 0.44)
    floor = JOB_MIN_DPU * JOB_MIN_SECONDS
    seen = [r.dpu_seconds for r in runs if r.dpu_seconds]
    dpu_seconds = max(floor, sum(seen) / len(seen)) if seen else floor
    return dpu_seconds / 3600 * price


def describe(reader: Reader, runs: list[RunSummary], now: float | None = None) -> ScheduleInfo:
    """What `schedule show` prints: triggers, next runs, last workflow runs, cost at list prices."""
    now = time.time() if now is None else now
    stack = reader.spec.stack
    workflow = workflow_name(stack)
    triggers = []
    for name in (job_trigger(stack), crawl_trigger(stack)):
        found = reader.trigger(name)
        if found is None:
            continue
        every = every_of(str(found.get("Schedule", "")))
        starts = [a.get("JobName") or a.get("CrawlerName") for a in found.get("Actions") or []]
        triggers.append(
            Trigger(
                name=name,
                schedule=found.get("Schedule"),
                state=found.get("State"),
                starts=", ".join(str(s) for s in starts),
                next_run=_utc(next_run(every, now)) if every else None,
            )
        )
    every = scheduled_every(reader)
    cost = None
    if every:
        job_usd = job_run_usd(reader, runs)
        per_day = DAY / every
        cost = ScheduleCost(
            job_run_usd=round(job_usd, 4),
            crawl_usd=CRAWL_USD,
            runs_per_day=round(per_day, 1),
            usd_per_month=round(30 * (per_day * job_usd + CRAWL_USD), 2),
        )
    runs_of_workflow = [
        WorkflowRun(r.get("WorkflowRunId"), str(r.get("StartedOn", ""))[:19], r.get("Status"))
        for r in reader.workflow_runs(workflow)
    ]
    return ScheduleInfo(
        workflow=workflow if reader.workflow(workflow) is not None else None,
        every_seconds=every,
        triggers=tuple(triggers),
        workflow_runs=tuple(runs_of_workflow),
        cost=cost,
    )


def _utc(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(epoch))

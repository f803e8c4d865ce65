"""AwsTarget: provisioning (plan, then apply) and the pipeline's entry points on AWS."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from orderpipe.errors import UsageError
from orderpipe.job.summary import RunSummary
from orderpipe.layout import HomeLayout
from orderpipe.results import Lag, RemoteGenerator, ScheduleInfo, StatusReport
from orderpipe.settings import Settings
from orderpipe.targets.aws.artifacts import job_artifacts
from orderpipe.targets.aws.dashboards import Dashboards
from orderpipe.targets.aws.executor import Executor, Sleep
from orderpipe.targets.aws.options import describe, load_options
from orderpipe.targets.aws.planner import Planner
from orderpipe.targets.aws.reader import Reader
from orderpipe.targets.aws.resources import Artifact, StackSpec
from orderpipe.targets.aws.session import AwsSession
from orderpipe.targets.aws.status import collect
from orderpipe.targets.aws.teardown import Teardown
from orderpipe.targets.base import (
    Action,
    CrawlResult,
    DeliveryStream,
    JobParams,
    QueryResult,
    Target,
)

Artifacts = Callable[[], list[Artifact]]


class AwsTarget(Target):
    """The aws target. `options` are `up`'s flags (see `AwsOptions`; None = not given), merged
    with ORDERPIPE_AWS_* and orderpipe.toml's [aws]; `sleep` is injectable so tests never wait."""

    name = "aws"

    def __init__(
        self,
        settings: Settings,
        *,
        session: AwsSession | None = None,
        sleep: Sleep = time.sleep,
        artifacts: Artifacts = job_artifacts,
        show_progress: bool = True,
        **options: Any,
    ) -> None:
        super().__init__(settings)
        self.resolved = load_options(options)
        self.options = self.resolved.options
        self.session = session or AwsSession(settings.region, settings.profile)
        self.sleep = sleep
        self.artifacts = artifacts
        self.show_progress = show_progress

    @cached_property
    def spec(self) -> StackSpec:
        """Names and desired configuration; asks STS for the account once."""
        return StackSpec(
            settings=self.settings,
            account=self.session.account,
            region=self.session.region,
            partition=self.session.partition,
            options=self.options,
            tls_only=not self.session.plain_http,
        )

    @property
    def reader(self) -> Reader:
        return Reader(self.session, self.spec)

    # provisioning -------------------------------------------------------------------------
    def plan_up(self) -> list[Action]:
        return Planner(self.reader, self.artifacts).plan()

    def option_rows(self) -> list[tuple[str, str, str, str]]:
        return describe(self.resolved)

    def plan_down(self, keep_data: bool) -> list[Action]:
        return [*self.dashboards().plan_down(), *Teardown(self.reader).plan(keep_data)]

    def dashboards(self) -> Dashboards:
        return Dashboards(self.reader)

    @property
    def executor(self) -> Executor:
        return Executor(self.session, sleep=self.sleep, show=self.show_progress)

    def apply(self, plan: list[Action]) -> None:
        """Apply an `up` or a `down` plan (the actions carry everything they need)."""
        self.executor.run(plan)

    def status(self) -> StatusReport:
        return collect(self.reader, self.state.agent)

    # pipeline ---------------------------------------------------------------------------
    def bucket(self, role: str) -> str:
        return self.names.bucket(role, self.spec.account, self.spec.region)

    @property
    def log_dir(self) -> Path:
        """`generate --here` logs on this machine, under --home, like the local target."""
        return HomeLayout.of(self.settings.home).logs

    @property
    def state_dir(self) -> Path:
        return HomeLayout.of(self.settings.home).aws_state(self.names.stack)

    def ensure_up(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def generate_remotely(
        self, *, count: int, rate: float | None, seed: int | None, requested: bool | None
    ) -> RemoteGenerator | None:
        from orderpipe.targets.aws.ec2 import launch_generator, recorded_launch_settings

        scripts = self.bucket("scripts")
        spot = bool(recorded_launch_settings(self.session, scripts).get("spot"))  # `up --spot`
        return launch_generator(
            self.reader, count=count, rate=rate, seed=seed, executor=self.executor,
            sleep=self.sleep, spot=spot,
        )  # fmt: skip

    def stop_generator(self) -> list[str]:
        from orderpipe.targets.aws.ec2 import stop_generator

        return stop_generator(self.reader, self.executor)

    def delivery_stream(self) -> DeliveryStream:
        from orderpipe.targets.aws.firehose import FirehoseStream

        return FirehoseStream(self.session, self.names.delivery_stream)

    def crawl(self, wait: bool = True) -> CrawlResult:
        from orderpipe.targets.aws.glue_run import start_crawl

        return start_crawl(self.reader, wait=wait, sleep=self.sleep)

    def run_transform(self, params: JobParams, wait: bool = True) -> RunSummary:
        from orderpipe import console
        from orderpipe.targets.aws.glue_run import run_job

        if params.engine is not None:
            raise UsageError(
                "--engine applies to the local target; on aws the Glue job always runs Spark."
            )
        self._refresh_job_artifacts()
        seen: set[str] = set()

        def progress(run: dict[str, Any]) -> None:  # one line per state the run reaches
            if self.show_progress and run["state"] not in seen:
                seen.add(run["state"])
                dpu = run.get("dpu_seconds") or 0
                console.info(
                    f"  job run {run['run_id']}: {run['state']} after {run['seconds'] or 0:.0f}s"
                    f" ({dpu:,.0f} DPU-seconds)"
                )

        return run_job(
            self.session, self.names, params, lake_bucket=self.bucket("lake"), wait=wait,
            sleep=self.sleep, on_progress=progress,
        )  # fmt: skip

    def _refresh_job_artifacts(self) -> None:
        """The script and package in S3 must be the ones of this checkout before a run."""
        self.apply(Planner(self.reader, self.artifacts).uploads())

    def transform_runs(self, limit: int = 10) -> list[RunSummary]:
        from orderpipe.targets.aws.glue_run import job_runs

        return job_runs(self.session, self.names, limit, lake_bucket=self.bucket("lake"))

    def query(
        self, sql: str, params: Sequence[Any] = (), reuse_minutes: int | None = None
    ) -> QueryResult:
        from orderpipe.sqlgate import check_read_only
        from orderpipe.targets.aws.athena import run_query

        check_read_only(sql, "athena")
        return run_query(
            self.session,
            self.names,
            sql,
            list(params),
            sleep=self.sleep,
            reuse_minutes=reuse_minutes,
        )

    def lag(self) -> Lag:
        from orderpipe.targets.aws.status import lag

        return lag(self.reader)

    # schedule -----------------------------------------------------------------------------
    def scheduled_every(self) -> float | None:
        from orderpipe.targets.aws.schedule import scheduled_every

        return scheduled_every(self.reader)

    def set_schedule(self, every: float) -> list[Action]:
        from orderpipe.targets.aws.schedule import plan_set

        plan = plan_set(self.reader, every)
        self.apply(plan)
        return plan

    def clear_schedule(self) -> list[Action]:
        from orderpipe.targets.aws.schedule import plan_clear

        plan = plan_clear(self.reader)
        self.apply(plan)
        return plan

    def show_schedule(self) -> ScheduleInfo:
        from orderpipe.targets.aws.schedule import describe

        return describe(self.reader, self.transform_runs(5))

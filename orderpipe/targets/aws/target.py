"""AwsTarget: provisioning (plan, then apply) and the pipeline's entry points on AWS."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import fields
from functools import cached_property
from typing import Any

from orderpipe.errors import NotReadyError
from orderpipe.paths import GLUE_SCRIPT
from orderpipe.settings import Settings
from orderpipe.targets.aws.executor import Executor, Sleep
from orderpipe.targets.aws.planner import Planner
from orderpipe.targets.aws.reader import Reader
from orderpipe.targets.aws.resources import PACKAGE_KEY, SCRIPT_KEY, Artifact, AwsOptions, StackSpec
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


def job_artifacts() -> list[Artifact]:
    """The Glue entry script and the package of orderpipe modules it imports."""
    if not GLUE_SCRIPT.is_file():
        raise NotReadyError(f"The Glue script {GLUE_SCRIPT} is missing from this checkout.")
    # The one call site of the job package builder (orderpipe/job_package.py). Its bytes must be
    # deterministic: `up` re-uploads the zip whenever its sha256 changes.
    from orderpipe.job_package import build_job_package

    return [
        Artifact(SCRIPT_KEY, GLUE_SCRIPT.read_bytes(), "text/x-python"),
        Artifact(PACKAGE_KEY, build_job_package(), "application/zip"),
    ]


class AwsTarget(Target):
    """The aws target. Options beyond the global settings are keyword arguments (see
    `AwsOptions`: glue_version, flex, alarm_email, buffer_mb, buffer_seconds,
    scan_cutoff_bytes, sse, versioning, ...); `sleep` is injectable so tests never wait."""

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
        known = {f.name for f in fields(AwsOptions)}
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"unknown AWS option(s): {', '.join(sorted(unknown))}")
        self.options = AwsOptions(**options)
        self.session = session or AwsSession(settings.region, settings.profile)
        self.sleep = sleep
        self.artifacts = artifacts
        self.show_progress = show_progress

    @cached_property
    def spec(self) -> StackSpec:
        """Names and desired configuration; asks STS for the account once."""
        from orderpipe.targets.aws.errors import aws_errors

        with aws_errors("sts.get_caller_identity", "the caller's account"):
            account = self.session.account
        return StackSpec(
            settings=self.settings,
            account=account,
            region=self.session.region,
            partition=self.session.partition,
            options=self.options,
        )

    @property
    def reader(self) -> Reader:
        return Reader(self.session, self.spec)

    # provisioning -------------------------------------------------------------------------
    def plan_up(self) -> list[Action]:
        return Planner(self.reader, self.artifacts).plan()

    def plan_down(self, keep_data: bool) -> list[Action]:
        return Teardown(self.reader).plan(keep_data)

    def apply(self, plan: list[Action]) -> None:
        """Apply an `up` or a `down` plan (the actions carry everything they need)."""
        Executor(self.session, sleep=self.sleep, show=self.show_progress).run(plan)

    def status(self) -> dict[str, Any]:
        return collect(self.reader)

    # pipeline: the runtime modules (firehose.py, glue_run.py, athena.py, ec2.py) implement
    # these; the lead wires each method to its function there.
    def delivery_stream(self) -> DeliveryStream:
        raise NotImplementedError("wired to orderpipe.targets.aws.firehose by the lead")

    @property
    def log_dir(self) -> Any:
        raise NotImplementedError("wired by the lead (orders are logged under --home)")

    @property
    def state_dir(self) -> Any:
        raise NotImplementedError("wired by the lead (agent checkpoints under --home)")

    def crawl(self, wait: bool = True) -> CrawlResult:
        raise NotImplementedError("wired to orderpipe.targets.aws.glue_run by the lead")

    def run_transform(self, params: JobParams, wait: bool = True) -> dict[str, Any]:
        raise NotImplementedError("wired to orderpipe.targets.aws.glue_run by the lead")

    def transform_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        raise NotImplementedError("wired to orderpipe.targets.aws.glue_run by the lead")

    def query(self, sql: str, params: Sequence[Any] = ()) -> QueryResult:
        raise NotImplementedError("wired to orderpipe.targets.aws.athena by the lead")

"""The local target: the AWS pipeline's stages on this machine, with the same key layout."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from orderpipe.errors import JobFailed, NotReadyError, OrderpipeError, UsageError
from orderpipe.job.localcatalog import LocalCatalog
from orderpipe.job.summary import RunSummary
from orderpipe.layout import HomeLayout
from orderpipe.results import Lag, RemoteGenerator, StatusReport
from orderpipe.settings import BUCKET_ROLES, Settings
from orderpipe.targets.base import (
    Action,
    CrawlResult,
    DeliveryStream,
    JobParams,
    QueryResult,
    Target,
)
from orderpipe.targets.local import crawler, duck, home, status


def duck_memory_limit() -> str:
    """Half of this machine's memory for DuckDB (it spills to the home's temp folder beyond)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return "4GB"
    return f"{max(total // 2 // 2**20, 512)}MB"


def _say_waiting(holder: str) -> None:
    from orderpipe import console

    console.info(f"Another transform run (pid {holder}) is writing this lake; waiting for it…")


class LocalTarget(Target):
    name = "local"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.layout = HomeLayout.of(settings.home)

    # layout --------------------------------------------------------------------------------
    def bucket(self, role: str) -> Path:
        return self.layout.bucket(self.names.bucket(role))

    @property
    def log_dir(self) -> Path:
        return self.layout.logs

    @property
    def state_dir(self) -> Path:
        return self.layout.state

    @cached_property
    def catalog(self) -> LocalCatalog:
        return LocalCatalog(self.state.catalog)

    @property
    def _folders(self) -> list[Path]:
        return [self.log_dir, self.state_dir, *(self.bucket(r) for r in BUCKET_ROLES)]

    def require_home(self) -> None:
        if not self.state_dir.is_dir():
            raise NotReadyError(
                f"there is no pipeline at {self.layout.root}: run `orderpipe up` or "
                "`orderpipe generate` first (or pass the right --home)."
            )
        home.check_stack(self.layout, self.names.stack)

    # provisioning ----------------------------------------------------------------------------
    def plan_up(self) -> list[Action]:
        return home.plan_up(self.layout, self.names.stack, self._folders)

    def plan_down(self, keep_data: bool) -> list[Action]:
        data = [self.log_dir, *(self.bucket(r) for r in BUCKET_ROLES)]
        return home.plan_down(self.layout, self.names.stack, [self.state_dir], data, keep_data)

    def apply(self, plan: list[Action]) -> None:
        for action in plan:
            home.apply(action)

    def ensure_up(self) -> None:
        self.apply(self.plan_up())

    # pipeline ----------------------------------------------------------------------------------
    def generate_remotely(
        self, *, count: int, rate: float | None, seed: int | None, requested: bool | None
    ) -> RemoteGenerator | None:
        if requested:
            raise UsageError(
                "--ec2 needs the aws target (--target aws); locally orders are made here."
            )
        return None

    def delivery_stream(self) -> DeliveryStream:
        from orderpipe.targets.local.firehose import LocalFirehose

        self.ensure_up()
        return LocalFirehose(
            self.bucket("raw"), self.state.firehose_spool, self.names.delivery_stream
        )

    def crawl(self, wait: bool = True) -> CrawlResult:
        self.require_home()
        return crawler.crawl(
            self.bucket("raw"), self.catalog, self.names.database, self.state.crawler
        )

    def crawl_is_stale(self) -> bool:
        return crawler.is_stale(self.bucket("raw"), self.state.crawler)

    def warm_up(self) -> None:
        if self.settings.engine == "spark":
            from orderpipe.spark import get_spark

            get_spark(self.state.spark_scratch)

    def job_engine(self, name: str) -> Any:
        """The engine that runs the job here: DuckDB (default) or the Glue script's Spark."""
        if name == "spark":
            try:
                import pyspark  # noqa: F401
            except ImportError:
                raise OrderpipeError(
                    "--engine spark needs PySpark: `pip install 'orderpipe[spark]'` "
                    "(or use the default engine, duckdb)."
                ) from None
            from orderpipe.job.spark_engine import SparkEngine
            from orderpipe.spark import get_spark

            return SparkEngine(get_spark(self.state.spark_scratch))
        from orderpipe.job.duck_engine import DuckEngine

        return DuckEngine(temp_dir=self.state.duckdb_scratch, memory_limit=duck_memory_limit())

    def run_transform(self, params: JobParams, wait: bool = True) -> RunSummary:
        self.require_home()
        if not crawler.raw_objects(self.bucket("raw")):
            raise NotReadyError(
                "there is no raw data to transform yet: run `orderpipe generate` "
                "(or `orderpipe ship` if logs are waiting)."
            )
        from orderpipe.job.job_io import LakeBusy, lake_lock

        engine = self.job_engine(params.engine or str(self.settings.engine))
        try:
            with lake_lock(str(self.bucket("lake")), wait=wait, on_wait=_say_waiting):
                return self._run_transform(engine, params)
        except LakeBusy as busy:
            raise OrderpipeError(
                f"another transform run ({busy}) is writing this lake: wait for it, or run "
                "without --no-wait to queue behind it."
            ) from None

    def _run_transform(self, engine: Any, params: JobParams) -> RunSummary:
        from orderpipe.job.run import run_job

        try:
            return run_job(
                engine,
                raw_path=str(self.bucket("raw") / "raw"),
                lake_path=str(self.bucket("lake")),
                database=self.names.database,
                catalog_path=str(self.catalog.path),
                bookmark_path=str(self.state.bookmark(self.names.job)),
                fx_rate=params.fx_rate,
                high_value_threshold=params.high_value_threshold,
                full_refresh=params.full_refresh,
            )
        except Exception as exc:  # the job wrote its FAILED summary: `transform status` lists it
            raise JobFailed(f"the transform job failed: {exc}") from exc

    def transform_runs(self, limit: int = 10) -> list[RunSummary]:
        """The newest runs first, from the summaries the job writes to the lake's `_runs/`."""
        from orderpipe.job.job_io import RUNS
        from orderpipe.job.summary import read_history

        return read_history(self.bucket("lake") / RUNS, limit)

    def query(
        self, sql: str, params: Sequence[Any] = (), reuse_minutes: int | None = None
    ) -> QueryResult:
        from orderpipe.sqlgate import check_read_only

        self.require_home()
        if reuse_minutes is not None:
            from orderpipe import console

            console.info("--reuse is ignored on the local target: DuckDB reads the lake anew.")
        check_read_only(sql, "duckdb")
        lake = self.bucket("lake")
        return duck.run(lake, sql, params, duck.lake_files(lake, self.catalog, self.names))

    def _runs_back_to_success(self) -> list[RunSummary]:
        """The newest runs down to the last successful one, where the lag starts: the newest 20,
        or after a longer streak of failures the whole history (never a lag from the oldest
        raw object ever while an older run did read it)."""
        runs = self.transform_runs(20)
        if len(runs) == 20 and not any(run.succeeded for run in runs):
            runs = self.transform_runs(sys.maxsize)
        return runs

    def lag(self) -> Lag:
        return status.lag(crawler.raw_objects(self.bucket("raw")), self._runs_back_to_success(),
                          self.names.delivery_stream)  # fmt: skip

    # status --------------------------------------------------------------------------------------
    def status(self) -> StatusReport:
        return status.collect(self.layout, self.names, self.catalog, self._runs_back_to_success())

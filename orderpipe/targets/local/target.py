"""The local target: the AWS pipeline's stages on this machine, with the same key layout."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from orderpipe.errors import JobFailed, NotReadyError, UsageError
from orderpipe.localcatalog import LocalCatalog
from orderpipe.paths import load_glue_script
from orderpipe.settings import BUCKET_ROLES, Settings
from orderpipe.targets.base import (
    Action,
    CrawlResult,
    DeliveryStream,
    JobParams,
    QueryResult,
    Target,
)
from orderpipe.targets.local import crawler, duck


class LocalTarget(Target):
    name = "local"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.home = Path(settings.home).expanduser().absolute()

    # layout --------------------------------------------------------------------------------
    def bucket(self, role: str) -> Path:
        return self.home / "buckets" / self.names.bucket(role)

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def state_dir(self) -> Path:
        return self.home / "state"

    @cached_property
    def catalog(self) -> LocalCatalog:
        return LocalCatalog(self.state_dir / "catalog.json")

    @property
    def _folders(self) -> list[Path]:
        return [self.log_dir, self.state_dir, *(self.bucket(r) for r in BUCKET_ROLES)]

    def require_home(self) -> None:
        if not self.state_dir.is_dir():
            raise NotReadyError(
                f"there is no pipeline at {self.home}: run `orderpipe up` or `orderpipe generate` "
                "first (or pass the right --home)."
            )

    # provisioning ----------------------------------------------------------------------------
    def plan_up(self) -> list[Action]:
        return [
            Action("create", f"folder {p}", reason="missing")
            for p in self._folders
            if not p.is_dir()
        ]

    def plan_down(self, keep_data: bool) -> list[Action]:
        if not self.home.exists():
            return []
        data = {self.log_dir, *(self.bucket(r) for r in BUCKET_ROLES)}
        plan = []
        for path in sorted(p for p in self.home.iterdir()):
            if keep_data and (path in data or path == self.home / "buckets"):
                continue
            plan.append(Action("delete", f"{'folder' if path.is_dir() else 'file'} {path}"))
        if not keep_data:
            plan.append(Action("delete", f"folder {self.home}", reason="the home itself"))
        return plan

    def apply(self, plan: list[Action]) -> None:
        for action in plan:
            path = Path(action.resource.split(" ", 1)[1])
            if action.verb == "create":
                path.mkdir(parents=True, exist_ok=True)
            elif action.verb == "delete":
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

    def ensure_up(self) -> None:
        self.apply(self.plan_up())

    # pipeline ----------------------------------------------------------------------------------
    def generate_remotely(
        self, *, count: int, rate: float | None, seed: int | None, requested: bool | None
    ) -> dict[str, Any] | None:
        if requested:
            raise UsageError(
                "--ec2 needs the aws target (--target aws); locally orders are made here."
            )
        return None

    def delivery_stream(self) -> DeliveryStream:
        from orderpipe.targets.local.firehose import LocalFirehose

        self.ensure_up()
        return LocalFirehose(
            self.bucket("raw"), self.state_dir / "firehose", self.names.delivery_stream
        )

    @property
    def _crawl_state(self) -> Path:
        return self.state_dir / "crawler.json"

    def crawl(self, wait: bool = True) -> CrawlResult:
        self.require_home()
        return crawler.crawl(
            self.bucket("raw"), self.catalog, self.names.database, self._crawl_state
        )

    def crawl_is_stale(self) -> bool:
        return crawler.is_stale(self.bucket("raw"), self._crawl_state)

    def warm_up(self) -> None:
        from orderpipe.spark import get_spark

        get_spark(self.state_dir / "spark")

    def run_transform(self, params: JobParams, wait: bool = True) -> dict[str, Any]:
        self.require_home()
        if not crawler.raw_objects(self.bucket("raw")):
            raise NotReadyError(
                "there is no raw data to transform yet: run `orderpipe generate` "
                "(or `orderpipe ship` if logs are waiting)."
            )
        from orderpipe.spark import get_spark

        spark = get_spark(self.state_dir / "spark")  # returns the warmed-up session if any
        job = load_glue_script()
        run_id = f"jr_{datetime.now(UTC):%Y%m%dT%H%M%S}_{uuid.uuid4().hex[:8]}"
        started = time.time()
        try:
            summary: dict[str, Any] = job.run_job(
                spark,
                raw_path=str(self.bucket("raw") / "raw"),
                lake_path=str(self.bucket("lake")),
                database=self.names.database,
                catalog_path=str(self.catalog.path),
                bookmark_path=str(self.state_dir / "bookmarks" / f"{self.names.job}.json"),
                fx_rate=params.fx_rate,
                high_value_threshold=params.high_value_threshold,
                full_refresh=params.full_refresh,
                run_id=run_id,
            )
        except Exception as exc:
            self._record_run(
                {
                    "run_id": run_id,
                    "started_at": datetime.fromtimestamp(started, UTC).isoformat(),
                    "seconds": round(time.time() - started, 1),
                    "state": "FAILED",
                    "error": str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                }
            )
            raise JobFailed(f"the transform job failed: {exc}") from exc
        self._record_run(summary)
        return summary

    @property
    def _runs_file(self) -> Path:
        return self.state_dir / "runs.jsonl"

    def _record_run(self, summary: dict[str, Any]) -> None:
        with self._runs_file.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(summary, default=str) + "\n")

    def transform_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        if not self._runs_file.exists():
            return []
        lines = self._runs_file.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in reversed(lines[-limit:]) if line.strip()]

    def query(
        self, sql: str, params: Sequence[Any] = (), reuse_minutes: int | None = None
    ) -> QueryResult:
        self.require_home()
        return duck.run(self.bucket("lake"), sql, params)

    def lag(self) -> dict[str, Any]:
        from orderpipe.targets.local.status import lag

        return lag(crawler.raw_objects(self.bucket("raw")), self.transform_runs(20),
                   self.names.delivery_stream)  # fmt: skip

    # status --------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        from orderpipe.targets.local.status import collect

        return collect(self)

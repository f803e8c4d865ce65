"""The interface every target implements. Commands talk to this, never to an engine."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from orderpipe.errors import UsageError
from orderpipe.job.summary import RunSummary
from orderpipe.job.transform import FX_RATE, HIGH_VALUE_THRESHOLD
from orderpipe.layout import StateLayout
from orderpipe.results import (
    DashboardsStatus,
    Lag,
    RemoteGenerator,
    ScheduleInfo,
    StatusReport,
)
from orderpipe.settings import Settings


@dataclass(frozen=True)
class Action:
    """One step of a plan, as plain data: what to call, on what, and why."""

    verb: str  # create | update | delete | upload | empty | keep
    resource: str  # a human label: "bucket orderpipe-raw-…", "folder .orderpipe/logs"
    api: str = ""  # the call (e.g. "s3.create_bucket"; locally a file operation, "mkdir")
    params: tuple[tuple[str, Any], ...] = ()  # frozen mapping of the call's parameters
    reason: str = ""

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.params)


@dataclass
class CrawlResult:
    state: str  # SUCCEEDED | FAILED | RUNNING | ALREADY_RUNNING
    tables_added: list[str] = field(default_factory=list)
    partitions_added: int = 0
    partitions_total: int = 0
    seconds: float = 0.0
    message: str = ""


@dataclass(frozen=True)
class JobParams:
    fx_rate: float = FX_RATE
    high_value_threshold: float = HIGH_VALUE_THRESHOLD
    full_refresh: bool = False
    engine: str | None = None  # local target: duckdb or spark; None = the `engine` setting


@dataclass
class QueryResult:
    """Rows with their column names and engine-neutral types (see render.py)."""

    columns: list[str]
    types: list[str]  # varchar, bigint, integer, double, decimal, date, timestamp, boolean
    rows: list[tuple[Any, ...]]
    bytes_scanned: int | None = None
    seconds: float = 0.0
    cost_usd: float | None = None  # what the engine bills for it (Athena: by bytes scanned)


class DeliveryStream(Protocol):
    """What the agent ships into: Firehose's PutRecordBatch, locally or on AWS."""

    max_batch_records: int  # 500
    max_batch_bytes: int  # 4 MiB
    max_record_bytes: int  # 1,000 KiB

    def put_record_batch(self, records: Sequence[bytes]) -> list[str | None]:
        """Deliver records; per record None on success or an error code to retry it."""
        ...

    def close(self) -> None:
        """Flush whatever the stream still buffers."""
        ...


class HostedDashboards(Protocol):
    """What `orderpipe dashboard` drives: plans making and removing them, and their state."""

    def plan_up(self) -> tuple[list[Action], list[str]]:
        """The changes that make the dashboards right, and notes for the user."""
        ...

    def plan_down(self) -> list[Action]: ...

    def status(self) -> DashboardsStatus: ...


class Target(ABC):
    """One pipeline, two engines. Run summaries are the job's own (`RunSummary`, written to the
    lake's `_runs/` by `orderpipe.job.run`), so both targets print the same numbers."""

    name: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.names = settings.names

    # provisioning -------------------------------------------------------------------------
    @abstractmethod
    def plan_up(self) -> list[Action]: ...

    @abstractmethod
    def apply(self, plan: list[Action]) -> None: ...

    def option_rows(self) -> list[tuple[str, str, str, str]]:
        """`up`'s target-specific options as (flag, value, source, what it does)."""
        return []

    @abstractmethod
    def plan_down(self, keep_data: bool) -> list[Action]: ...

    @abstractmethod
    def status(self) -> StatusReport: ...

    def warm_up(self) -> None:  # noqa: B027  (a hook: only engines with a slow start need it)
        """Start slow engines early (the local JVM), e.g. while the demo generates orders."""

    def ensure_up(self) -> None:  # noqa: B027  (a hook: most targets need nothing here)
        """Make what this machine needs before local work (the local target's folders)."""

    # pipeline -----------------------------------------------------------------------------
    def generate_remotely(
        self, *, count: int, rate: float | None, seed: int | None, requested: bool | None
    ) -> RemoteGenerator | None:
        """Start generating on the target's own host and describe it; None = generate here."""
        return None

    def stop_generator(self) -> list[str]:
        """Stop what `generate_remotely` started; the ids of what was stopped."""
        return []

    @abstractmethod
    def delivery_stream(self) -> DeliveryStream: ...

    @property
    @abstractmethod
    def log_dir(self) -> Path:
        """Where `generate` writes order logs on this machine and `ship` reads them."""

    @property
    @abstractmethod
    def state_dir(self) -> Path:
        """Where this machine keeps the agent's checkpoints and other local state."""

    @property
    def state(self) -> StateLayout:
        """The named files of `state_dir` (the agent's folder, …)."""
        return StateLayout(self.state_dir)

    @abstractmethod
    def crawl(self, wait: bool = True) -> CrawlResult: ...

    def crawl_is_stale(self) -> bool:
        """True when raw data arrived that the catalog has not seen (always ask, by default)."""
        return False

    @abstractmethod
    def run_transform(self, params: JobParams, wait: bool = True) -> RunSummary: ...

    @abstractmethod
    def transform_runs(self, limit: int = 10) -> list[RunSummary]:
        """The newest `limit` runs, newest first."""

    @abstractmethod
    def query(
        self, sql: str, params: Sequence[Any] = (), reuse_minutes: int | None = None
    ) -> QueryResult:
        """Run SQL with positional `?` parameters (see queries.bind) on the target's engine;
        `reuse_minutes`: an engine with a result cache may answer from a result that recent."""

    @abstractmethod
    def lag(self) -> Lag:
        """How long the oldest raw data not yet in the tables has waited (see freshness.py)."""

    # schedule (the target's own scheduler; locally `orderpipe run` is the scheduler) ---------
    def scheduled_every(self) -> float | None:
        """Seconds between the job runs the target schedules by itself; None: no schedule."""
        return None

    def set_schedule(self, every: float) -> list[Action]:
        """Run the job every `every` seconds by the target's scheduler; the changes made."""
        raise UsageError(NO_SCHEDULER)

    def clear_schedule(self) -> list[Action]:
        raise UsageError(NO_SCHEDULER)

    def show_schedule(self) -> ScheduleInfo:
        raise UsageError(NO_SCHEDULER)

    # dashboards ---------------------------------------------------------------------------
    def dashboards(self) -> HostedDashboards:
        """The hosted dashboards of `orderpipe dashboard`."""
        raise UsageError(
            f"The {self.name} target has no hosted dashboards: run `orderpipe report` for an "
            "HTML dashboard (QuickSight and CloudWatch ones come with --target aws)."
        )


NO_SCHEDULER = (
    "the local target has no scheduler of its own: run `orderpipe run --every DURATION` to keep "
    "the pipeline running (schedule is for --target aws)."
)

"""What the targets hand to the commands, typed: the status report, lag, the remote generator, the
schedule and the dashboards' state. Commands render these; `to_json()` is `--format json`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orderpipe.job.summary import RunSummary

Figure = str | int | float | datetime | None  # one count or freshness reading


@dataclass(frozen=True)
class ResourceRow:
    """One resource of a stack and its state (`ok`, `missing`, `drift: …`, the service's own)."""

    kind: str
    name: str
    state: str
    detail: str = ""
    settings: Mapping[str, object] | None = None  # aws: the key settings the detail summarises

    def to_json(self) -> dict[str, object]:
        row: dict[str, object] = {
            "kind": self.kind, "name": self.name, "state": self.state, "detail": self.detail
        }  # fmt: skip
        if self.settings is not None:
            row["settings"] = dict(self.settings)
        return row


@dataclass(frozen=True)
class Lag:
    """How long the oldest raw data not yet in the tables has waited (0 when none waits), the raw
    objects waiting, and when the newest order became queryable (see freshness.py)."""

    lag_seconds: float | None
    raw_objects_waiting: int | None = None
    newest_queryable_at: str | None = None
    error: str = ""  # why the figures could not be read

    @classmethod
    def unreadable(cls, why: str) -> Lag:
        return cls(None, error=why)

    def to_json(self) -> dict[str, Figure]:
        if self.error:
            return {"lag_seconds": None, "lag": self.error}
        return {
            "lag_seconds": self.lag_seconds,
            "raw_objects_waiting": self.raw_objects_waiting,
            "newest_queryable_at": self.newest_queryable_at,
        }


@dataclass(frozen=True)
class StatusReport:
    """`orderpipe status`: every resource, the last runs, counts and freshness, lag. `home` is the
    local target's; `stack`, `account`, `region` the aws target's."""

    target: str
    resources: tuple[ResourceRow, ...] = ()
    runs: tuple[RunSummary, ...] = ()  # newest first
    figures: Mapping[str, Figure] = field(default_factory=dict)  # counts and freshness, by name
    lag: Lag | None = None  # None: there is no raw data store to measure it on
    message: str = ""  # what to do next; "" when there is nothing to say
    home: str | None = None
    stack: str | None = None
    account: str | None = None
    region: str | None = None

    @property
    def freshness(self) -> dict[str, Figure]:
        """The figures followed by the lag's, as the report's `freshness` object."""
        return {**self.figures, **(self.lag.to_json() if self.lag else {})}

    def to_json(self) -> dict[str, object]:
        """`status --format json` (design.md §3.1): where the stack is, `resources`, `runs`,
        `freshness`, `lag_seconds` at the top level (null where it cannot be measured) and
        `message` ("" when there is nothing to do) — the same keys on every target, always."""
        where = {"home": self.home, "stack": self.stack, "account": self.account,
                 "region": self.region}  # fmt: skip
        return {
            "target": self.target,
            **{key: value for key, value in where.items() if value is not None},
            "resources": [row.to_json() for row in self.resources],
            "runs": [run.to_json() for run in self.runs],
            "freshness": self.freshness,
            "lag_seconds": self.lag.lag_seconds if self.lag else None,
            "message": self.message,
        }


@dataclass(frozen=True)
class RemoteGenerator:
    """The generator `generate` started (or found running) on the target's own host."""

    instance_id: str
    state: str
    reused: bool
    image_id: str | None
    instance_type: str | None
    tags: Mapping[str, str]
    connect: str  # how to open a shell on it
    follow: str  # how to follow its logs there

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Trigger:
    name: str
    schedule: str | None
    state: str | None
    starts: str  # what it starts: the job or the crawler
    next_run: str | None  # UTC, when the schedule is one orderpipe can read


@dataclass(frozen=True)
class WorkflowRun:
    run_id: str | None
    started: str
    status: str | None


@dataclass(frozen=True)
class ScheduleCost:
    """What the schedule costs at list prices."""

    job_run_usd: float
    crawl_usd: float
    runs_per_day: float
    usd_per_month: float


@dataclass(frozen=True)
class ScheduleInfo:
    """`schedule show`: the target's scheduler, its next runs, last runs and cost."""

    workflow: str | None
    every_seconds: float | None
    triggers: tuple[Trigger, ...] = ()
    workflow_runs: tuple[WorkflowRun, ...] = ()
    cost: ScheduleCost | None = None  # None: no active schedule


@dataclass(frozen=True)
class DashboardsStatus:
    """`dashboard status`: each dashboard resource and its state, and notes for the user."""

    stack: str
    resources: tuple[ResourceRow, ...]
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, object]:
        return {
            "stack": self.stack,
            "resources": [row.to_json() for row in self.resources],
            "notes": list(self.notes),
        }

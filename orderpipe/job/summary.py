"""A job run's summary: what the job writes to `<lake>/_runs/<run_id>.json` and every command
prints. Standard library only: it travels to Glue with the job.

A summary may be partial — a run still going, a failed one, a Glue run whose summary is not
written yet, an older summary file: counts nobody knows are None, never 0.
"""

from __future__ import annotations

import heapq
import json
import os
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The keys every written summary has, in the order a person reads them; `error` only on
# failed runs, `dpu_seconds` only where Glue reports capacity (never written by the job).
KEYS = (
    "run_id",
    "started_at",
    "finished_at",
    "seconds",
    "state",
    "engine",
    "objects_read",
    "records_read",
    "distinct_records",
    "already_present",
    "duplicates_dropped",
    "transformed",
    "quarantined",
    "quarantined_total",
    "partitions_written",
    "fx_rate",
    "high_value_threshold",
    "full_refresh",
)
OPTIONAL_KEYS = ("error", "dpu_seconds")


@dataclass(frozen=True)
class RunSummary:
    run_id: str
    state: str  # SUCCEEDED, FAILED, or Glue's run state (RUNNING, TIMEOUT, …)
    started_at: str | None = None  # ISO-8601, UTC
    finished_at: str | None = None
    seconds: float | None = None
    engine: str | None = None
    objects_read: int | None = None
    records_read: int | None = None
    distinct_records: int | None = None
    already_present: int | None = None
    duplicates_dropped: int | None = None
    transformed: int | None = None
    quarantined: dict[str, int] | None = None  # reason → rows
    quarantined_total: int | None = None
    partitions_written: int | None = None
    fx_rate: float | None = None
    high_value_threshold: float | None = None
    full_refresh: bool | None = None
    error: str | None = None  # first line of why the run failed
    dpu_seconds: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.state == "SUCCEEDED"

    def to_json(self) -> dict[str, Any]:
        """The summary file's object: every key of KEYS, plus `error`/`dpu_seconds` when set."""
        data = {key: getattr(self, key) for key in KEYS}
        data |= {key: getattr(self, key) for key in OPTIONAL_KEYS if getattr(self, key) is not None}
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSummary:
        """Tolerant of older or partial summaries: a missing key or a value of the wrong type
        is None; keys it does not know are ignored."""
        kinds = {f.name: f.type for f in fields(cls)}
        values = {name: _typed(data.get(name), str(kinds[name])) for name in kinds}
        values["run_id"] = str(data.get("run_id") or "")
        values["state"] = str(data.get("state") or "unknown")
        return cls(**values)

    @classmethod
    def parse(cls, text: str | bytes) -> RunSummary:
        """A summary file's text; ValueError when it is not a JSON object."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a run summary is a JSON object")
        return cls.from_json(data)


def iso(moment: datetime) -> str:
    """A summary's time: ISO-8601 in UTC to the second, `2026-05-01T12:00:00Z`."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def first_line(error: BaseException) -> str:
    """An error in one line: its message's first line, or its kind when it has no message."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _typed(value: Any, kind: str) -> Any:
    """`value` if it has the field's type (`kind` as written in the class), else None."""
    if kind.startswith("int"):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind.startswith("float"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        value = float(value) if ok else None
    elif kind.startswith("bool"):
        ok = isinstance(value, bool)
    elif kind.startswith("dict"):
        ok = isinstance(value, dict)
        value = {str(k): v for k, v in value.items() if isinstance(v, int)} if ok else None
    else:
        ok = isinstance(value, str)
    return value if ok else None


def read_history(folder: Path, limit: int) -> list[RunSummary]:
    """The newest `limit` summaries in a `_runs` folder on this machine, newest first (by start,
    then run id). A file that does not parse is listed as UNREADABLE, by its name and when it
    was written: one torn file hides no other run and never breaks a status page.

    Files are read newest-written first, and only until the rest were written before the
    `limit`-th newest run started (a run starts before its summary is written): a lake with a
    year of runs reads a few files, not all."""
    newest: list[tuple[tuple[str, str, str], RunSummary]] = []  # min-heap: the newest `limit`
    for mtime, name in sorted(_summary_files(folder), reverse=True):
        written = iso(datetime.fromtimestamp(mtime, UTC))
        if len(newest) >= limit and (not newest or written < newest[0][0][0]):
            break
        run = _read(Path(name), written)
        key = (run.started_at or run.finished_at or "", run.run_id, name)  # the name: unique
        if len(newest) < limit:
            heapq.heappush(newest, (key, run))
        elif key > newest[0][0]:
            heapq.heapreplace(newest, (key, run))
    return [run for _, run in sorted(newest, key=lambda pair: pair[0], reverse=True)]


def _summary_files(folder: Path) -> list[tuple[float, str]]:
    """(modification time, path) of each summary file; the temp files of summaries being
    written are left out, unlooked at: one renamed into place meanwhile hides no run."""
    try:
        entries = [e for e in os.scandir(folder) if e.name.endswith(".json")]
    except FileNotFoundError:
        return []
    return [(e.stat().st_mtime, e.path) for e in entries]


def _read(path: Path, written: str) -> RunSummary:
    try:
        return RunSummary.parse(path.read_bytes())
    except (OSError, ValueError) as exc:  # JSON errors are ValueErrors
        return RunSummary(
            run_id=path.stem,
            state="UNREADABLE",
            finished_at=written,
            error=f"{path} is not a run summary ({first_line(exc)}); move it away",
        )

"""Lag as a figure: how long the oldest raw data not yet in the tables has waited.

Both targets feed the same arithmetic with what they can list: each raw object's landing time
(when it appeared in the raw bucket) and the arrival time of its oldest record at the stream.
The job reads every object present when it starts, so an object that landed before the start of
the last successful run is in the tables; one that landed later waits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from orderpipe.job.summary import RunSummary
from orderpipe.results import Lag


@dataclass(frozen=True)
class RawObject:
    landed: float  # epoch seconds: when the object appeared in the raw bucket
    arrived: float  # epoch seconds: when its oldest record reached the delivery stream


def when(value: Any) -> float | None:
    """Epoch seconds of an ISO-8601 string or a datetime (naive means UTC); None if neither."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def last_success(runs: Sequence[RunSummary]) -> RunSummary | None:
    """The newest succeeded run (runs come newest first, as `transform_runs` lists them)."""
    return next((r for r in runs if r.succeeded), None)


def lag_figures(
    objects: Iterable[RawObject],
    runs: Sequence[RunSummary],
    *,
    now: float,
    buffer_seconds: float = 0.0,
) -> Lag:
    """`lag_seconds` (0 when nothing waits; plus the stream's buffering where the objects carry
    only their landing time), the objects waiting, and when the newest order became queryable."""
    done = last_success(runs)
    cutoff = when(done.started_at) if done else None
    # Run times are kept to the second: an object landing within the start's second counts as read.
    waiting = [o for o in objects if cutoff is None or o.landed >= cutoff + 1.0]
    oldest = min((o.arrived for o in waiting), default=None)
    lag = 0.0 if oldest is None else max(0.0, now - oldest) + buffer_seconds
    fed = next((r for r in runs if r.succeeded and (r.records_read or 0) > 0), None)
    finished = when(fed.finished_at) if fed else None
    return Lag(
        lag_seconds=round(lag, 1),
        raw_objects_waiting=len(waiting),
        newest_queryable_at=(
            datetime.fromtimestamp(finished, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            if finished
            else None
        ),
    )

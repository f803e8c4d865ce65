"""Every way a job run is printed, from its `RunSummary`: one line (a stage's detail, a run-loop
cycle), labelled numbers (`transform run`), a table of runs (`transform status`, `status`).
A figure nobody knows — a run still going, a failed run, a summary not written — is "unknown",
never 0 and never an error."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.markup import escape
from rich.table import Table

from orderpipe.job.summary import RunSummary

UNKNOWN = "unknown"


def count(n: int | None) -> str:
    return UNKNOWN if n is None else f"{n:,}"


def outcome(run: RunSummary) -> str:
    """The run's state, with its error when it failed."""
    return f"{run.state}: {run.error}" if run.error else run.state


def describe(run: RunSummary) -> str:
    """One line: rows in → out, or the state (and error) of a run without numbers."""
    if run.transformed is None:
        return outcome(run) if run.error else f"{run.state}, counts {UNKNOWN}"
    return (
        f"{count(run.records_read)} read → {count(run.transformed)} transformed, "
        f"{count(run.quarantined_total)} quarantined, "
        f"{count(run.duplicates_dropped)} duplicates dropped, "
        f"{count(run.partitions_written)} partitions"
    )


def detail_rows(run: RunSummary) -> list[tuple[str, Any]]:
    """Labelled numbers (for `render.key_values`), quarantine reasons indented under their
    total; the state first when the run did not succeed."""
    rows: list[tuple[str, Any]] = [] if run.succeeded else [("state", outcome(run))]
    rows += [
        ("raw objects read", run.objects_read),
        ("records read", run.records_read),
        ("duplicates dropped", run.duplicates_dropped),
        ("distinct records", run.distinct_records),
        ("transformed", run.transformed),
        ("quarantined", run.quarantined_total),
    ]
    by_reason = sorted((run.quarantined or {}).items(), key=lambda kv: -kv[1])
    rows += [(f"  {reason}", n) for reason, n in by_reason if n]
    rows += [
        ("partitions written", run.partitions_written),
        ("engine", run.engine),
        ("seconds", run.seconds),
    ]
    return [(label, UNKNOWN if value is None else value) for label, value in rows]


def runs_table(runs: Iterable[RunSummary], title: str = "Transform runs") -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for column in ("run", "started (UTC)", "took", "read", "transformed", "quarantined", "outcome"):
        table.add_column(column, justify="right" if column in {"took", "read"} else "left")
    for run in runs:
        row = (
            run.run_id,
            run.started_at[:19].replace("T", " ") if run.started_at else UNKNOWN,
            UNKNOWN if run.seconds is None else f"{run.seconds:.1f}s",
            count(run.records_read),
            count(run.transformed),
            count(run.quarantined_total),
            outcome(run),
        )
        table.add_row(*(escape(cell) for cell in row))
    return table

"""Lag after a streak of failed runs: it starts at the last successful run however far back it
is, never at the oldest raw object ever (which a successful run did read)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from helpers import cli

from orderpipe.job import job_io
from orderpipe.job.run import failed_summary


def test_lag_starts_at_the_last_success_behind_more_failures_than_status_lists(
    home: Path,
) -> None:
    cli(home, "generate", "--count", "300", "--seed", "5")
    cli(home, "transform", "run")
    (runs,) = home.rglob(job_io.RUNS)
    later = datetime.now(UTC) + timedelta(seconds=5)
    for i in range(25):  # what 25 failing runs after it write (the job's own writer)
        failed = failed_summary(
            f"failed-{i:02d}", later + timedelta(seconds=i), 0.0, "duckdb", OSError("disk gone"),
            fx_rate=0.012, high_value_threshold=100.0, full_refresh=False,
        )  # fmt: skip
        job_io.write_summary(job_io.Files(), str(runs.parent), failed)

    report = cli(home, "status", "--format", "json").json()
    assert report["freshness"]["raw_objects_waiting"] == 0
    assert report["lag_seconds"] == 0
    assert [run["state"] for run in report["runs"]] == ["FAILED"] * 5

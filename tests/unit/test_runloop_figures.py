"""Durations, lag arithmetic and Glue schedule expressions: the figures `run`, `status` and
`schedule` print."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orderpipe.errors import UsageError
from orderpipe.freshness import RawObject, lag_figures
from orderpipe.job.summary import RunSummary
from orderpipe.runloop import parse_duration
from orderpipe.targets.aws.schedule import cron_every, every_of, next_run

T0 = 1_800_000_000.0  # an epoch second (2027-01-15 08:00:00 UTC)


@pytest.mark.parametrize(
    ("text", "seconds"), [("10s", 10), ("5m", 300), ("1h", 3600), ("1d", 86400), ("90", 90),
                          ("1.5m", 90)],
)  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--every") == seconds


@pytest.mark.parametrize("text", ["", "0s", "-5m", "ten", "5 minutes", "5w"])
def test_bad_durations_are_usage_errors_naming_the_option(text: str) -> None:
    with pytest.raises(UsageError, match="--every takes a duration"):
        parse_duration(text, "--every")


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def run(started: float, state: str = "SUCCEEDED", read: int = 10) -> RunSummary:
    """A run as `transform_runs` lists it."""
    return RunSummary(f"run-{started}", state, started_at=iso(started),
                      finished_at=iso(started + 5), records_read=read)  # fmt: skip


def test_lag_is_the_wait_of_the_oldest_object_landed_since_the_last_successful_run() -> None:
    objects = [
        RawObject(landed=T0 - 100, arrived=T0 - 160),  # read by the run that started at T0-50
        RawObject(landed=T0 - 20, arrived=T0 - 30),  # waits: arrived 30 s ago
        RawObject(landed=T0 - 5, arrived=T0 - 10),
    ]
    runs = [run(T0 - 10, "FAILED"), run(T0 - 50)]  # newest first; the failed one read nothing
    figures = lag_figures(objects, runs, now=T0)
    assert figures.lag_seconds == 30.0
    assert figures.raw_objects_waiting == 2
    assert figures.newest_queryable_at == "2027-01-15 07:59:15 UTC"


def test_no_lag_when_nothing_waits_and_the_stream_buffer_only_adds_to_a_wait() -> None:
    objects = [RawObject(landed=T0 - 100, arrived=T0 - 100)]
    assert lag_figures(objects, [run(T0 - 50)], now=T0, buffer_seconds=60).lag_seconds == 0
    waiting = lag_figures(objects, [], now=T0, buffer_seconds=60)
    assert waiting.lag_seconds == 160 and waiting.newest_queryable_at is None


@pytest.mark.parametrize(
    ("seconds", "cron"),
    [(300, "cron(0/5 * * * ? *)"), (1800, "cron(0/30 * * * ? *)"), (3600, "cron(0 * * * ? *)"),
     (6 * 3600, "cron(0 0/6 * * ? *)"), (86400, "cron(0 0 * * ? *)")],
)  # fmt: skip
def test_schedules_are_glue_cron_expressions_and_read_back(seconds: int, cron: str) -> None:
    assert cron_every(seconds) == cron
    assert every_of(cron) == seconds


@pytest.mark.parametrize("seconds", [60, 7 * 60, 90 * 60, 5 * 3600, 2 * 86400])
def test_schedules_glue_cannot_express_are_usage_errors(seconds: int) -> None:
    with pytest.raises(UsageError, match="5m, 10m"):
        cron_every(seconds)


def test_next_run_is_the_next_aligned_slot() -> None:
    assert next_run(900, T0 + 1) == T0 + 900
    assert next_run(3600, T0) == T0 + 3600

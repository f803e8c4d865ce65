"""The one line every command prints for a run summary, whatever the job left out."""

from __future__ import annotations

from orderpipe.stages import describe_run


def test_a_run_without_numbers_is_shown_by_its_state_or_as_unknown() -> None:
    assert describe_run({}) == "unknown"
    assert describe_run({"state": None, "transformed": None}) == "unknown"
    assert describe_run({"state": "RUNNING"}) == "RUNNING"


def test_a_run_with_numbers_reads_in_to_out() -> None:
    summary = {"records_read": 2000, "transformed": 1874, "quarantined_total": 126,
               "duplicates_dropped": 0, "partitions_written": 31}  # fmt: skip
    assert describe_run(summary) == (
        "2,000 read → 1,874 transformed, 126 quarantined, 0 duplicates dropped, 31 partitions"
    )
    partial = describe_run({"transformed": 5, "quarantined_total": None})
    assert partial == "0 read → 5 transformed, 0 quarantined, 0 duplicates dropped"

"""The run summary the job writes, read back, and every way a command prints it — whatever the
summary leaves out."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console

from orderpipe import runs_view
from orderpipe.commands.runloop import describe_cycle
from orderpipe.job import job_io
from orderpipe.job.run import failed_summary, summary
from orderpipe.job.summary import RunSummary, read_history
from orderpipe.render import key_values
from orderpipe.runloop import Cycle

# The keys of a summary file as design.md and the aws reader know them (written before the type).
WRITTEN_KEYS = {
    "run_id", "started_at", "finished_at", "seconds", "state", "engine", "objects_read",
    "records_read", "distinct_records", "already_present", "duplicates_dropped", "transformed",
    "quarantined", "quarantined_total", "partitions_written", "fx_rate", "high_value_threshold",
    "full_refresh",
}  # fmt: skip
PARAMS = {"fx_rate": 1.27, "high_value_threshold": 500.0, "full_refresh": False}
NO_COUNTS = RunSummary("jr_1", "RUNNING", started_at="2026-05-01T12:00:00Z")


def shown(*renderables: object) -> str:
    screen = Console(width=200, record=True)
    for renderable in renderables:
        screen.print(renderable, highlight=False)
    return screen.export_text()


def test_the_written_summary_has_todays_keys_and_reads_back_equal(tmp_path: Path) -> None:
    started = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    numbers = {"records_read": 10, "distinct_records": 9, "transformed": 7, "objects_read": 1,
               "quarantined": {"cancelled": 2}, "partitions_written": 3}  # fmt: skip
    written = summary("run-1", started, time.monotonic(), "duckdb", **numbers, **PARAMS)
    path = job_io.write_summary(job_io.Files(), str(tmp_path), written)
    on_disk = json.loads(Path(path).read_text())
    assert set(on_disk) == WRITTEN_KEYS
    assert on_disk["started_at"] == "2026-05-01T12:00:00Z" and on_disk["quarantined_total"] == 2
    assert RunSummary.from_json(on_disk) == written

    failed = failed_summary("run-2", started, time.monotonic(), "duckdb", OSError("disk\nfull"),
                            **PARAMS)  # fmt: skip
    on_disk = failed.to_json()
    assert set(on_disk) == WRITTEN_KEYS | {"error"} and on_disk["error"] == "disk"
    assert on_disk["state"] == "FAILED" and on_disk["transformed"] is None
    assert RunSummary.from_json(on_disk) == failed


def test_an_older_or_partial_summary_reads_with_unknown_counts() -> None:
    older = {"run_id": "old", "state": "SUCCEEDED", "transformed": 5, "records_read": "5",
             "quarantined": {"cancelled": 1, "odd": "x"}, "retired_key": 1}  # fmt: skip
    run = RunSummary.from_json(older)
    assert (run.transformed, run.records_read, run.quarantined_total) == (5, None, None)
    assert run.quarantined == {"cancelled": 1}
    assert RunSummary.from_json({}).state == "unknown"


def test_a_run_without_counts_prints_unknown_in_every_formatter() -> None:
    assert runs_view.describe(NO_COUNTS) == "RUNNING, counts unknown"
    rows = dict(runs_view.detail_rows(NO_COUNTS))
    assert rows["state"] == "RUNNING" and rows["transformed"] == rows["engine"] == "unknown"
    table = shown(runs_view.runs_table([NO_COUNTS]))
    assert "jr_1" in table and table.count("unknown") == 4  # took, read, transformed, quarantined
    assert "unknown" in shown(key_values("run", runs_view.detail_rows(NO_COUNTS)))
    cycle = Cycle(number=1, seconds=2.0, shipped=3, run=NO_COUNTS)
    assert "RUNNING, counts unknown" in shown(describe_cycle(cycle))
    partial = RunSummary("jr_2", "SUCCEEDED", transformed=5)
    assert runs_view.describe(partial) == (
        "unknown read → 5 transformed, unknown quarantined, unknown duplicates dropped, "
        "unknown partitions"
    )


def test_a_run_reads_in_to_out_and_a_failed_one_by_its_error() -> None:
    run = RunSummary("jr_3", "SUCCEEDED", records_read=2000, transformed=1874,
                     quarantined_total=126, duplicates_dropped=0,
                     partitions_written=31)  # fmt: skip
    assert runs_view.describe(run) == (
        "2,000 read → 1,874 transformed, 126 quarantined, 0 duplicates dropped, 31 partitions"
    )
    failed = RunSummary("jr_4", "FAILED", error="a lake file is unreadable [/]")
    assert runs_view.describe(failed) == "FAILED: a lake file is unreadable [/]"
    assert "FAILED: a lake file is unreadable [/]" in shown(runs_view.runs_table([failed]))


def test_the_local_history_lists_the_newest_starts_reading_only_the_newest_files(
    tmp_path: Path,
) -> None:
    """A long run started first and finished last; a torn summary; a summary being written."""

    def write(run_id: str, started: str, written: str, text: str | None = None) -> None:
        path = tmp_path / f"{run_id}.json"
        at = RunSummary(run_id, "SUCCEEDED", started_at=started)
        path.write_text(text if text is not None else json.dumps(at.to_json()))
        moment = datetime.fromisoformat(written).replace(tzinfo=UTC).timestamp()
        os.utime(path, (moment, moment))

    write("long", "2026-05-01T10:00:00Z", "2026-05-01T10:30:00")
    write("short", "2026-05-01T10:05:00Z", "2026-05-01T10:06:00")
    write("last", "2026-05-01T10:20:00Z", "2026-05-01T10:21:00")
    write("old", "2026-04-01T10:20:00Z", "2026-04-01T10:21:00", text="not json")
    (tmp_path / ".last.json.x1.tmp").write_text("{")
    (tmp_path / ".last.json.x2.tmp").symlink_to(tmp_path / "renamed-meanwhile")  # gone on stat
    assert [r.run_id for r in read_history(tmp_path, 2)] == ["last", "short"]
    every = read_history(tmp_path, 10)
    assert [r.run_id for r in every] == ["last", "short", "long", "old"]
    assert every[-1].state == "UNREADABLE" and every[-1].finished_at == "2026-04-01T10:21:00Z"
    assert read_history(tmp_path / "no-runs-yet", 10) == []

"""Benchmark the local run history: `transform status` / `status` list the newest runs from the
lake's `_runs/` folder. With one summary a minute (`orderpipe run --every 60s`) a week is 10,080
files: reading the newest 20 must not read them all. Two cases: summaries written as the job
writes them (mtime = finish), and a copied home (every mtime the copy's time: all are read).

    .venv/bin/python bench/run_history.py [--runs 10080]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.table import Table

from orderpipe import console
from orderpipe.job.run import new_run_id
from orderpipe.job.summary import RunSummary, iso, read_history


def write_runs(folder: Path, runs: int) -> None:
    start = datetime(2026, 5, 1, tzinfo=UTC)
    for n in range(runs):
        started = start + timedelta(minutes=n)
        run = RunSummary(new_run_id(started), "SUCCEEDED", started_at=iso(started),
                         transformed=n, quarantined={"cancelled": 1})  # fmt: skip
        path = folder / f"{run.run_id}.json"
        path.write_text(json.dumps(run.to_json(), indent=1, sort_keys=True))
        finished = (started + timedelta(seconds=5)).timestamp()
        os.utime(path, (finished, finished))


def timed(folder: Path, limit: int, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        clock = time.perf_counter()
        read_history(folder, limit)
        best = min(best, time.perf_counter() - clock)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_080)
    args = parser.parse_args()
    table = Table(title=f"Run history: newest of {args.runs:,} summaries (best of 5)")
    for column in ("case", "newest", "ms", "load"):
        table.add_column(column, justify="left" if column == "case" else "right")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_runs(folder, args.runs)
        for limit in (5, 20):
            ms = timed(folder, limit) * 1000
            table.add_row("as written", str(limit), f"{ms:,.0f}", f"{os.getloadavg()[0]:.1f}")
        now = time.time()
        for path in folder.iterdir():
            os.utime(path, (now, now))
        ms = timed(folder, 20) * 1000
        table.add_row("copied home", "20", f"{ms:,.0f}", f"{os.getloadavg()[0]:.1f}")
    console.out.print(table)


if __name__ == "__main__":
    main()

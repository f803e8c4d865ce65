"""Benchmark of `orderpipe run` on the local target (issue #13): freshness measured from outside.

Starts `orderpipe run --rate R --every E --for D` on a fresh home in a subprocess and, twice a
second, counts the lines in the log folder (written) and the rows in both tables through the
product's own query path (queryable). Lag at a sample = how long ago the oldest line that is not
yet queryable was written (0 when all are). Also: the run's CPU (user + sys of the subprocess
and its descendants, from /proc) against the machine's cores, and whether every line ended up in
exactly one table.

    .venv/bin/python bench/runloop.py [--rate 200] [--every 10s] [--for 3m]

Goal: lag p95 ≤ 20 s at --rate 200 --every 10s, with CPU left for the user.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from bisect import bisect_right
from pathlib import Path

from rich.console import Console
from rich.table import Table

from orderpipe.runloop import parse_duration
from orderpipe.settings import Settings
from orderpipe.targets.local import LocalTarget

COUNTS = (
    "SELECT (SELECT count(*) FROM transformed_orders) + (SELECT count(*) FROM quarantined_orders),"
    " (SELECT count(DISTINCT recordid) FROM transformed_orders)"
    " + (SELECT count(DISTINCT recordid) FROM quarantined_orders)"
)


class LineCounter:
    """Counts the lines of a log folder incrementally (files only grow or appear)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.read: dict[Path, int] = {}
        self.lines = 0

    def count(self) -> int:
        for path in sorted(self.folder.glob("*.ndjson")):
            offset = self.read.get(path, 0)
            with path.open("rb") as handle:
                handle.seek(offset)
                data = handle.read()
            # Whole lines only: a line the writer has half flushed is counted next time.
            end = data.rfind(b"\n") + 1
            self.lines += data.count(b"\n", 0, end)
            self.read[path] = offset + end
        return self.lines


def tree_cpu_seconds(pid: int) -> dict[int, float]:
    """user + sys seconds of a process and its descendants (e.g. a JVM), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[int, float] = {}
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            stat = Path(f"/proc/{current}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            found[current] = (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{current}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--every", default="10s")
    parser.add_argument("--for", dest="duration", default="3m")
    args = parser.parse_args()
    out = Console()

    home = Path(tempfile.mkdtemp(prefix="bench-run-")) / "home"
    orderpipe = Path(sys.executable).with_name("orderpipe")
    command = [str(orderpipe), "--home", str(home), "run", "--rate", str(args.rate),
               "--every", args.every, "--for", args.duration]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERPIPE_")}
    target = LocalTarget(Settings(home=home))
    counter = LineCounter(home / "logs")
    written: list[tuple[float, int]] = []  # (time, lines written by then)
    lags: list[float] = []
    doubled = went_down = 0
    last_rows = 0

    started = time.time()
    cpu_by_pid: dict[int, float] = {}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    out.print(f"running: {' '.join(command[1:])}")
    while process.poll() is None:
        time.sleep(0.5)
        cpu_by_pid.update(tree_cpu_seconds(process.pid))
        now = time.time()
        written.append((now, counter.count()))
        try:
            rows, distinct = (int(v or 0) for v in target.query(COUNTS).rows[0])
        except Exception:  # no tables before the first cycle
            rows = distinct = 0
        doubled += rows != distinct
        went_down += rows < last_rows
        last_rows = max(last_rows, rows)
        # The oldest line not yet queryable is line rows+1: when was it written?
        counts = [n for _, n in written]
        first = bisect_right(counts, rows)
        lags.append(0.0 if first >= len(written) else now - written[first][0])
    _, err = process.communicate()
    wall = time.time() - started
    cpu = sum(cpu_by_pid.values())  # as last sampled, up to half a second before the end

    total = counter.count()
    rows, distinct = (int(v or 0) for v in target.query(COUNTS).rows[0])
    steady = [lag for (t, _), lag in zip(written, lags, strict=True)
              if t - started > parse_duration(args.every, "--every")]  # fmt: skip
    table = Table(title=f"orderpipe run --rate {args.rate:g} --every {args.every} "
                        f"--for {args.duration} (local)", title_justify="left")  # fmt: skip
    table.add_column("measure")
    table.add_column("value", justify="right")
    for label, value in [
        ("exit code", str(process.returncode)),
        ("wall seconds", f"{wall:.0f}"),
        ("lines written", f"{total:,}"),
        ("rows queryable at the end (both tables)", f"{rows:,}"),
        ("exactly once at the end", "yes" if rows == distinct == total else "NO"),
        ("samples with a record twice / count going down", f"{doubled} / {went_down}"),
        ("lag p50 (s, after the first cycle)", f"{percentile(steady, 0.5):.1f}"),
        ("lag p95 (s, after the first cycle)", f"{percentile(steady, 0.95):.1f}"),
        ("lag max (s, whole run)", f"{max(lags, default=0):.1f}"),
        ("CPU of the run (cores, average)", f"{cpu / wall:.2f} of {os.cpu_count()}"),
    ]:
        table.add_row(label, value)
    out.print(table)
    if process.returncode:
        out.print(err[-2000:])


if __name__ == "__main__":
    main()

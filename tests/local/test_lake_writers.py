"""One writer per lake, and readers never see a record twice: two `transform run` processes
started together end with exactly the tables of one uninterrupted run while a reader polls; a
busy lake with --no-wait is refused in one sentence; a dead writer's lock is released."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from helpers import ORDERPIPE, cli

from orderpipe.job.job_io import lake_lock
from orderpipe.settings import Settings
from orderpipe.targets.local.target import LocalTarget


def tables(home: Path) -> dict[str, list[tuple]]:
    target = LocalTarget(Settings(home=home))
    return {
        "t": target.query("SELECT * FROM transformed_orders ORDER BY recordid").rows,
        "q": target.query(
            "SELECT * EXCLUDE (quarantined_at, ingested_from), regexp_replace(ingested_from,"
            " '.*/buckets/', '') FROM quarantined_orders ORDER BY recordid"
        ).rows,
    }


def test_two_runs_at_once_equal_one_run_and_readers_never_see_doubles(home: Path) -> None:
    cli(home, "generate", "--count", "20000", "--seed", "3")
    cli(home, "transform", "run")
    cli(home, "generate", "--count", "20000", "--seed", "4")  # lands in the same partitions
    reference = home.parent / "reference"
    shutil.copytree(home, reference)
    cli(reference, "transform", "run")

    target = LocalTarget(Settings(home=home))
    sql = "SELECT count(*), count(DISTINCT recordid) FROM transformed_orders"
    seen: list[tuple] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            seen.append(target.query(sql).rows[0])

    reader = threading.Thread(target=poll)
    reader.start()
    command = [str(ORDERPIPE), "--home", str(home), "transform", "run"]
    first = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    errors = [p.communicate(timeout=300)[1] for p in (first, second)]
    done.set()
    reader.join()

    assert first.returncode == second.returncode == 0, errors
    assert seen and all(total == distinct for total, distinct in seen), seen
    assert tables(home) == tables(reference)
    runs = LocalTarget(Settings(home=home)).transform_runs()  # newest first
    assert len({r.run_id for r in runs}) == len(runs) == 3
    assert sorted((r.transformed or 0) > 0 for r in runs[:2]) == [False, True]  # one did the work


def test_a_busy_lake_with_no_wait_is_refused(home: Path) -> None:
    cli(home, "generate", "--count", "50", "--seed", "1")
    with lake_lock(str(LocalTarget(Settings(home=home)).bucket("lake"))):
        result = cli(home, "transform", "run", "--no-wait", code=1)
    assert "another transform run" in result.stderr
    assert LocalTarget(Settings(home=home)).transform_runs() == []  # refused: no run at all


def test_a_killed_writer_releases_the_lake(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from orderpipe.job.job_io import lake_lock\n"
         f"with lake_lock({str(tmp_path)!r}):\n print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    os.kill(holder.pid, 9)
    holder.wait()
    with lake_lock(str(tmp_path), wait=False):
        pass

"""SIGKILL the agent at random moments, restart it until it finishes: no line is ever lost."""

from __future__ import annotations

import gzip
import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from orderpipe.generator import synthetic_orders, write_orders

# Small batches and a small buffer make many checkpoint and object writes: many places to die.
AGENT = """
import sys
from pathlib import Path
from orderpipe.shipper import ship
from orderpipe.targets.local.firehose import LocalFirehose

logs, state, bucket = map(Path, sys.argv[1:4])
stream = LocalFirehose(bucket, state / "firehose", "orders", buffer_bytes=64 * 1024)
stream.max_batch_records = 20
ship(stream, logs, state / "agent", progress=False, record_bytes=2_000)
"""


def delivered(bucket: Path) -> Counter[bytes]:
    found: Counter[bytes] = Counter()
    for obj in bucket.rglob("*.gz"):
        found.update(gzip.decompress(obj.read_bytes()).splitlines(keepends=True))
    return found


def shipped(state: Path) -> int:
    """Bytes the agent's checkpoints acknowledge (its progress, as a restart would see it)."""
    try:
        files = json.loads((state / "agent" / "checkpoints.json").read_bytes())["files"]
    except FileNotFoundError:
        return 0
    return sum(int(entry["offset"]) for entry in files.values())


def test_sigkill_at_random_moments_loses_no_line(tmp_path: Path) -> None:
    """Each kill lands mid-delivery whatever the machine's speed: the test watches the agent's
    checkpoints and kills it once they pass a random point, never on a timer."""
    logs, state, bucket = tmp_path / "logs", tmp_path / "state", tmp_path / "bucket"
    lines = list(synthetic_orders(20_000, seed=7))
    write_orders(lines, logs, max_bytes=1024 * 1024)  # several files
    total = sum(p.stat().st_size for p in logs.iterdir())
    command = [sys.executable, "-c", AGENT, str(logs), str(state), str(bucket)]
    rng = random.Random(5)
    # Four kills, each at a random point of its window; the last leaves a fifth still to ship, so
    # a test process starved by a busy machine still kills the agent mid-delivery.
    for low in (0.05, 0.25, 0.45, 0.65):
        mark = total * rng.uniform(low, low + 0.15)
        proc = subprocess.Popen(command, stderr=subprocess.PIPE)
        while shipped(state) < mark:
            if proc.poll() is not None:
                pytest.fail(f"the agent ended before its kill: {proc.communicate()[1].decode()}")
            time.sleep(0.0005)
        proc.kill()
        proc.communicate(timeout=120)
        assert proc.returncode == -9  # killed while it was still delivering
        assert shipped(state) < total
    finished = subprocess.run(command, stderr=subprocess.PIPE, timeout=120)
    assert finished.returncode == 0, finished.stderr.decode()
    assert shipped(state) == total

    got = delivered(bucket)
    expected = Counter(lines)
    missing = [line for line, n in expected.items() if got[line] < n]
    assert missing == [], f"{len(missing)} lines lost after 4 SIGKILLs"
    assert set(got) == set(expected)  # nothing torn or invented; duplicates are allowed

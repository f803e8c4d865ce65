"""SIGKILL the agent at random moments, restart it until it finishes: no line is ever lost."""

from __future__ import annotations

import gzip
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

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


def test_sigkill_at_random_moments_loses_no_line(tmp_path: Path) -> None:
    logs, state, bucket = tmp_path / "logs", tmp_path / "state", tmp_path / "bucket"
    lines = list(synthetic_orders(20_000, seed=7))
    write_orders(lines, logs, max_bytes=1024 * 1024)  # several files
    command = [sys.executable, "-c", AGENT, str(logs), str(state), str(bucket)]
    rng = random.Random(5)
    kills = runs = 0
    while True:
        runs += 1
        assert runs < 40, "the agent never finished"
        proc = subprocess.Popen(command, stderr=subprocess.PIPE)
        if kills < 4:
            time.sleep(rng.uniform(0.2, 0.9))
            proc.kill()
        _, err = proc.communicate(timeout=120)
        if proc.returncode == -9:
            kills += 1
            continue
        assert proc.returncode == 0, err.decode()
        if kills >= 4:
            break
    got = delivered(bucket)
    expected = Counter(lines)
    missing = [line for line, n in expected.items() if got[line] < n]
    assert missing == [], f"{len(missing)} lines lost after {kills} SIGKILLs"
    assert set(got) == set(expected)  # nothing torn or invented; duplicates are allowed

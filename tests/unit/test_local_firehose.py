"""The local Firehose: durable on ack, size and interval buffering, key layout, atomic GZIP."""

from __future__ import annotations

import gzip
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from orderpipe.errors import OrderpipeError
from orderpipe.targets.local.firehose import LocalFirehose

T0 = datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC).timestamp()
KEY = re.compile(
    r"raw/year=2024/month=03/day=05/hour=07/"
    r"orders-1-2024-03-05-07-08-09-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.gz"
)


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def objects(bucket: Path) -> list[Path]:
    return sorted(bucket.rglob("*.gz"), key=lambda p: p.stat().st_mtime_ns)


def content(bucket: Path) -> list[bytes]:
    return [gzip.decompress(p.read_bytes()) for p in objects(bucket)]


def lines(n: int, start: int = 0) -> list[bytes]:
    return [b'{"InvoiceNo": "%06d", "Country": "France"}\n' % i for i in range(start, start + n)]


def test_close_writes_one_gzip_object_under_the_firehose_key_layout(tmp_path: Path) -> None:
    packed = b"".join(lines(3))  # several lines in one record are kept as they are
    with LocalFirehose(tmp_path / "raw", tmp_path / "spool", "orders", clock=Clock()) as stream:
        assert stream.put_record_batch([packed, *lines(2, 3)]) == [None, None, None]
        assert objects(tmp_path / "raw") == []  # still buffering
    [obj] = objects(tmp_path / "raw")
    assert KEY.fullmatch(obj.relative_to(tmp_path / "raw").as_posix())
    assert gzip.decompress(obj.read_bytes()) == b"".join(lines(5))


def test_a_full_buffer_becomes_an_object_and_the_rest_keeps_waiting(tmp_path: Path) -> None:
    records = lines(10)
    size = len(records[0])
    stream = LocalFirehose(tmp_path / "raw", tmp_path / "spool", "orders", buffer_bytes=4 * size)
    stream.put_record_batch(records)
    assert content(tmp_path / "raw") == [b"".join(records[0:4]), b"".join(records[4:8])]
    stream.close()
    assert content(tmp_path / "raw")[-1] == b"".join(records[8:])


def test_the_buffer_interval_delivers_by_age_of_the_oldest_record(tmp_path: Path) -> None:
    clock = Clock()
    stream = LocalFirehose(
        tmp_path / "raw", tmp_path / "spool", "orders", buffer_seconds=60, clock=clock
    )
    stream.put_record_batch(lines(1))
    clock.now += 30
    stream.put_record_batch(lines(1, 1))
    clock.now += 29.9
    stream.flush_due()
    assert objects(tmp_path / "raw") == []
    clock.now += 0.1
    stream.flush_due()
    [obj] = objects(tmp_path / "raw")
    # the key carries the oldest record's arrival time, as Firehose does
    assert KEY.fullmatch(obj.relative_to(tmp_path / "raw").as_posix())
    assert gzip.decompress(obj.read_bytes()) == b"".join(lines(2))
    stream.close()
    assert len(objects(tmp_path / "raw")) == 1  # nothing left to flush


def put_then_sigkill(tmp_path: Path, count: int) -> None:
    """In a child process: put `count` records, then die by SIGKILL right after the ack."""
    script = f"""
import os, signal
from pathlib import Path
from orderpipe.targets.local.firehose import LocalFirehose
s = LocalFirehose(Path({str(tmp_path / "raw")!r}), Path({str(tmp_path / "spool")!r}), "orders")
s.put_record_batch([b'{{"a": %d}}\\n' % i for i in range({count})])
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9, proc.stderr.decode()


def test_acknowledged_records_survive_sigkill(tmp_path: Path) -> None:
    put_then_sigkill(tmp_path, 300)
    assert objects(tmp_path / "raw") == []
    LocalFirehose(tmp_path / "raw", tmp_path / "spool", "orders").close()
    assert content(tmp_path / "raw") == [b"".join(b'{"a": %d}\n' % i for i in range(300))]


def test_a_torn_spool_tail_is_cut_off_and_the_acknowledged_records_kept(tmp_path: Path) -> None:
    put_then_sigkill(tmp_path, 3)
    spool = tmp_path / "spool" / "orders.spool"
    with spool.open("ab") as handle:  # what a write cut short by a crash leaves behind
        handle.write(b"\x30\x00\x00\x00garbage-from-an-unacknowledged-write")
    LocalFirehose(tmp_path / "raw", tmp_path / "spool", "orders").close()
    assert content(tmp_path / "raw") == [b'{"a": 0}\n{"a": 1}\n{"a": 2}\n']
    assert spool.stat().st_size == 0


def test_a_failed_object_write_leaves_no_visible_file_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = LocalFirehose(tmp_path / "raw", tmp_path / "spool", "orders", buffer_bytes=10**9)
    stream.put_record_batch(lines(5))

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", disk_full)
        with pytest.raises(OSError):
            stream.close()
    assert [p for p in (tmp_path / "raw").rglob("*") if p.is_file()] == []  # no temp left either
    LocalFirehose(tmp_path / "raw", tmp_path / "spool", "orders").close()
    assert content(tmp_path / "raw") == [b"".join(lines(5))]


def test_a_second_writer_on_the_same_spool_gets_a_clear_error(tmp_path: Path) -> None:
    first = LocalFirehose(tmp_path / "raw", tmp_path / "spool", "orders")
    with pytest.raises(OrderpipeError, match=rf"pid {os.getpid()}\) is already delivering"):
        LocalFirehose(tmp_path / "raw", tmp_path / "spool", "orders")
    first.close()
    LocalFirehose(tmp_path / "raw", tmp_path / "spool", "orders").close()  # free again


def test_requests_over_firehose_limits_are_refused_whole(tmp_path: Path) -> None:
    with LocalFirehose(tmp_path / "raw", tmp_path / "spool", "orders") as stream:
        with pytest.raises(OrderpipeError, match="over Firehose's limit of 500"):
            stream.put_record_batch([b"x\n"] * 501)
        with pytest.raises(OrderpipeError, match="record of 1,024,001 bytes"):
            stream.put_record_batch([b"x" * (1000 * 1024 + 1)])
        with pytest.raises(OrderpipeError, match="batch of 5,120,000 bytes"):
            stream.put_record_batch([b"x" * 1000 * 1024] * 5)
    assert objects(tmp_path / "raw") == []

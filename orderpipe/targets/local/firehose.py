"""The local stand-in for Kinesis Data Firehose: durable on ack, buffered, GZIP objects.

A record accepted by `put_record_batch` is appended to a spool file and fsynced before the call
returns, so a SIGKILL right after the acknowledgement loses nothing: the next `LocalFirehose` on
the same spool folder delivers what the spool holds. Buffered records become one GZIP object when
the buffer reaches `buffer_bytes` (uncompressed, as Firehose counts it) or its oldest record is
`buffer_seconds` old, under the key layout Firehose uses with our prefix. Records are written as
they came; a crash between an object's rename and the spool's truncation delivers that buffer a
second time (at least once: the job removes duplicates), never zero times.

Spool format: one frame per record — length (u32), CRC-32 (u32), arrival time (f64), then the
record. A torn tail (a write the process never acknowledged) fails its CRC and is cut off.
"""

from __future__ import annotations

import gzip
import os
import struct
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from orderpipe.errors import OrderpipeError
from orderpipe.fsutil import ClosesOnExit, LockBusy, atomic_write, hold_lock
from orderpipe.settings import FIREHOSE_PREFIX

_FRAME = struct.Struct("<IId")  # length, crc32(arrival + record), arrival (epoch seconds)
_TIMESTAMP_CODES = {
    "!{timestamp:yyyy}": "%Y",
    "!{timestamp:MM}": "%m",
    "!{timestamp:dd}": "%d",
    "!{timestamp:HH}": "%H",
}


def object_key(stream_name: str, arrival: float) -> str:
    """The S3 key Firehose gives an object whose oldest record arrived at `arrival` (UTC)."""
    moment = datetime.fromtimestamp(arrival, UTC)
    prefix = FIREHOSE_PREFIX
    for code, directive in _TIMESTAMP_CODES.items():
        prefix = prefix.replace(code, directive)
    return moment.strftime(prefix) + f"{stream_name}-1-{moment:%Y-%m-%d-%H-%M-%S}-{uuid.uuid4()}.gz"


def _frame(record: bytes, arrival: float) -> bytes:
    stamp = struct.pack("<d", arrival)
    return _FRAME.pack(len(record), zlib.crc32(record, zlib.crc32(stamp)), arrival) + record


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalFirehose(ClosesOnExit):
    """A Firehose delivery stream into `<bucket_dir>/raw/…`, one writer per spool folder."""

    max_batch_records = 500
    max_batch_bytes = 4 * 1024 * 1024
    max_record_bytes = 1000 * 1024

    def __init__(
        self,
        bucket_dir: Path,
        spool_dir: Path,
        stream_name: str,
        *,
        buffer_bytes: int = 5 * 1024 * 1024,
        buffer_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
        compresslevel: int = 6,
    ) -> None:
        self.bucket_dir = Path(bucket_dir)
        self.spool_dir = Path(spool_dir)
        self.stream_name = stream_name
        self.buffer_bytes = buffer_bytes
        self.buffer_seconds = buffer_seconds
        self.clock = clock
        self.compresslevel = compresslevel
        self.objects_written = 0
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._oldest: float | None = None
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = self._lock()
        self.spool_path = self.spool_dir / f"{stream_name}.spool"
        self._spool_fd: int | None = os.open(self.spool_path, os.O_RDWR | os.O_CREAT, 0o666)
        self._recover()
        if self._buffered >= self.buffer_bytes:
            self._deliver()
        self.flush_due()

    # lifecycle ----------------------------------------------------------------------------
    def _lock(self) -> int:
        try:
            return hold_lock(self.spool_dir / f"{self.stream_name}.lock")
        except LockBusy as busy:
            raise OrderpipeError(
                f"another orderpipe process (pid {busy.holder}) is already delivering to the "
                f"local stream {self.stream_name!r} in {self.spool_dir}; wait for it to finish or "
                "stop it, then try again."
            ) from None

    def _recover(self) -> None:
        """Load the spool's complete frames into the buffer; cut off a torn tail."""
        assert self._spool_fd is not None
        data = os.pread(self._spool_fd, os.fstat(self._spool_fd).st_size, 0)
        pos = 0
        while pos + _FRAME.size <= len(data):
            length, crc, arrival = _FRAME.unpack_from(data, pos)
            end = pos + _FRAME.size + length
            record = data[pos + _FRAME.size : end]
            if end > len(data) or zlib.crc32(record, zlib.crc32(struct.pack("<d", arrival))) != crc:
                break
            self._hold(record, arrival)
            pos = end
        if pos != len(data):
            os.ftruncate(self._spool_fd, pos)
            os.fsync(self._spool_fd)

    def close(self) -> None:
        """Deliver what is buffered, then release the spool and the lock. Safe to repeat."""
        if self._spool_fd is None:
            return
        try:
            if self._buffer:
                self._deliver()
        finally:
            os.close(self._spool_fd)
            self._spool_fd = None
            os.close(self._lock_fd)  # closing releases the lock

    # the DeliveryStream interface ---------------------------------------------------------
    def put_record_batch(self, records: Sequence[bytes]) -> list[str | None]:
        """Spool the records durably, delivering a full buffer on the way; all are accepted."""
        if self._spool_fd is None:
            raise OrderpipeError(f"the local stream {self.stream_name!r} is closed.")
        self._validate(records)
        self.flush_due()
        arrival = self.clock()
        frames: list[bytes] = []
        held: list[bytes] = []
        size = 0
        for record in records:
            frames.append(_frame(record, arrival))
            held.append(record)
            size += len(record)
            if self._buffered + size >= self.buffer_bytes:
                self._spool(frames, held, arrival)
                frames, held, size = [], [], 0
                self._deliver()
        if frames:
            self._spool(frames, held, arrival)
        return [None] * len(records)

    def flush_due(self) -> None:
        """Deliver the buffer if its oldest record has waited `buffer_seconds`."""
        if self._oldest is not None and self.clock() - self._oldest >= self.buffer_seconds:
            self._deliver()

    # internals ----------------------------------------------------------------------------
    def _validate(self, records: Sequence[bytes]) -> None:
        """Refuse what real Firehose refuses (a ValidationException for the whole call)."""
        if len(records) > self.max_batch_records:
            raise OrderpipeError(
                f"a batch of {len(records)} records is over Firehose's limit of "
                f"{self.max_batch_records}."
            )
        total = 0
        for record in records:
            if len(record) > self.max_record_bytes:
                raise OrderpipeError(
                    f"a record of {len(record):,} bytes is over Firehose's limit of "
                    f"{self.max_record_bytes:,}."
                )
            total += len(record)
        if total > self.max_batch_bytes:
            raise OrderpipeError(
                f"a batch of {total:,} bytes is over Firehose's limit of {self.max_batch_bytes:,}."
            )

    def _hold(self, record: bytes, arrival: float) -> None:
        self._buffer.append(record)
        self._buffered += len(record)
        if self._oldest is None:
            self._oldest = arrival

    def _spool(self, frames: list[bytes], records: list[bytes], arrival: float) -> None:
        """Append frames to the spool durably, then buffer their records; on failure leave
        both as they were."""
        assert self._spool_fd is not None
        start = os.lseek(self._spool_fd, 0, os.SEEK_END)
        try:
            data = memoryview(b"".join(frames))
            while data:
                data = data[os.write(self._spool_fd, data) :]
            os.fdatasync(self._spool_fd)
        except OSError as exc:
            os.ftruncate(self._spool_fd, start)
            raise OrderpipeError(
                f"the local stream could not write its spool {self.spool_path} "
                f"({exc.strerror}); free some disk space and ship again."
            ) from exc
        for record in records:
            self._hold(record, arrival)

    def _deliver(self) -> None:
        """Write the buffer as one GZIP object (atomic and durable), then empty the spool."""
        if not self._buffer:
            return
        assert self._oldest is not None and self._spool_fd is not None
        path = self.bucket_dir / object_key(self.stream_name, self._oldest)
        atomic_write(path, gzip.compress(b"".join(self._buffer), self.compresslevel))
        _fsync_dir(path.parent)
        os.ftruncate(self._spool_fd, 0)
        os.fsync(self._spool_fd)
        self.objects_written += 1
        self._buffer, self._buffered, self._oldest = [], 0, None

"""The agent: tail the order logs, pack lines into Firehose records, deliver, checkpoint.

At least once, never lost: a file's offset moves in `checkpoints.json` only after the stream
acknowledged every record holding the lines before it, so after any crash shipping resumes after
the last acknowledged line (what was in flight is sent again; the job removes duplicates).

Files are known by device + inode plus a fingerprint of their first bytes, so a rename (classic
rotation) keeps the offset and a recycled inode does not inherit one. Whole lines only: a last
line without its newline waits. Lines are packed into records (newline-separated, never split)
because Firehose bills each record in 5 KB steps; a line over Firehose's 1,000 KiB record limit
goes to `dead-letter/` beside the checkpoints instead of blocking the rest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orderpipe import console
from orderpipe.errors import NotReadyError, OrderpipeError, TransientError
from orderpipe.fsutil import LockBusy, atomic_write, hold_lock
from orderpipe.targets.base import DeliveryStream

log = logging.getLogger(__name__)

BILLING_STEP = 5 * 1024  # Firehose bills ingestion per record, rounded up to 5 KB
# 320,000 bytes is 64 × 5,000 and 62.5 × 5,120: whichever way "5 KB" is counted, a full record
# wastes under 1 % to rounding, and 13 such records fit one 4 MiB PutRecordBatch.
RECORD_BYTES = 64 * 5000
FINGERPRINT_BYTES = 1024
READ_CHUNK = 4 * 1024 * 1024
IDLE_CLOSE_SECONDS = 300.0
CHECKPOINTS = "checkpoints.json"
DEAD_LETTER = "dead-letter"
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".zip")


@dataclass
class ShipStats:
    lines: int = 0
    records: int = 0
    bytes: int = 0
    billed_bytes: int = 0
    files: int = 0
    dead_letters: int = 0
    retries: int = 0
    seconds: float = 0.0

    @property
    def billed_ratio(self) -> float:
        """Billed bytes per payload byte (1.0 is perfect packing)."""
        return self.billed_bytes / self.bytes if self.bytes else 1.0


def billed(record_len: int) -> int:
    """What Firehose bills for one record: its size rounded up to the next 5 KB step."""
    return max(1, -(-record_len // BILLING_STEP)) * BILLING_STEP


# records and batches ----------------------------------------------------------------------
@dataclass
class _Record:
    data: bytearray = field(default_factory=bytearray)
    lines: int = 0
    # file key → offset reached once this record (and all before it) is acknowledged
    marks: dict[str, int] = field(default_factory=dict)


class _Packer:
    """Packs whole lines into records of at most `record_bytes` (a longer line alone)."""

    def __init__(
        self,
        record_bytes: int,
        max_record_bytes: int,
        dead_letter: Callable[[bytes, str, int], None],
    ) -> None:
        self.record_bytes = record_bytes
        self.max_record_bytes = max_record_bytes
        self.dead_letter = dead_letter
        self.current = _Record()
        self.sealed: list[_Record] = []

    def seal(self) -> None:
        if self.current.data or self.current.marks:
            self.sealed.append(self.current)
            self.current = _Record()

    def _take(self, key: str, data: bytes, start: int, end: int, offset: int) -> None:
        self.current.data += data[start:end]
        self.current.lines += data.count(b"\n", start, end)
        self.current.marks[key] = offset + end

    def add(self, key: str, data: bytes, offset: int) -> None:
        """Add `data` (whole lines, `\\n`-ended) read from file `key` at byte `offset`."""
        pos = 0
        while pos < len(data):
            room = self.record_bytes - len(self.current.data)
            if len(data) - pos <= room:
                self._take(key, data, pos, len(data), offset)
                return
            cut = data.rfind(b"\n", pos, pos + room)
            if cut >= 0:
                self._take(key, data, pos, cut + 1, offset)
                self.seal()
                pos = cut + 1
            elif self.current.data:
                self.seal()  # the next line does not fit: start a fresh record for it
            else:
                end = data.find(b"\n", pos) + 1
                if end - pos <= self.max_record_bytes:
                    self._take(key, data, pos, end, offset)
                    self.seal()
                else:
                    self.dead_letter(data[pos:end], key, offset + pos)
                    self.current.marks[key] = offset + end
                pos = end

    def batches(self, max_records: int, max_bytes: int, final: bool) -> Iterator[list[_Record]]:
        """Take sealed records as PutRecordBatch-sized batches; only full ones unless `final`."""
        if final:
            self.seal()
        while self.sealed:
            count = size = 0
            for record in self.sealed:
                too_many = count == max_records or size + len(record.data) > max_bytes
                if count and too_many:
                    break
                count += 1
                size += len(record.data)
            full = count < len(self.sealed)
            if not (full or final):
                return
            batch, self.sealed = self.sealed[:count], self.sealed[count:]
            yield batch


# files and checkpoints --------------------------------------------------------------------
@dataclass
class _Tail:
    """An open log file: its identity and how far it has been read (not yet acknowledged)."""

    key: str
    fd: int
    name: str
    read_to: int
    partial: int = 0  # bytes after the last newline, waiting for the line to end


def _fingerprint(fd: int, size: int) -> tuple[str, int]:
    length = min(size, FINGERPRINT_BYTES)
    return hashlib.sha256(os.pread(fd, length, 0)).hexdigest(), length


_ENTRY_TYPES = {"dev": int, "ino": int, "fp": str, "fp_len": int, "name": str, "offset": int}


def read_checkpoints(path: Path) -> dict[str, dict[str, Any]]:
    """The agent's per-file checkpoints ({} before its first run); a file that is not what the
    agent writes is one clear error, never a crash halfway through shipping."""
    if not path.exists():
        return {}
    try:
        files = json.loads(path.read_bytes())["files"]
        if not isinstance(files, dict):
            raise TypeError("'files' is not an object")
        for key, entry in files.items():
            if (
                not isinstance(entry, dict)
                or not all(isinstance(entry.get(k), t) for k, t in _ENTRY_TYPES.items())
                or entry["offset"] < 0
            ):
                raise TypeError(f"the entry {key!r} lacks {', '.join(_ENTRY_TYPES)}")
    except (ValueError, KeyError, TypeError) as exc:
        reason = "not JSON" if isinstance(exc, ValueError) else str(exc)
        raise OrderpipeError(
            f"the agent's checkpoints in {path} are unreadable ({reason}); move the file away "
            "to ship everything again (the job removes duplicates)."
        ) from None
    return files


TORN_TAIL_BYTES = 1024 * 1024  # a last line longer than this without its newline is behind


@dataclass(frozen=True)
class Backlog:
    """What the agent has not shipped yet: whole lines (bytes), and last lines that still wait for
    their newline ((log name, bytes); they ship once the writer completes them)."""

    pending_bytes: int
    torn: list[tuple[str, int]]


def backlog(logs: Iterable[Path], state_dir: Path) -> Backlog | None:
    """How far behind the agent is on `logs`; None before its first run. Unreadable checkpoints
    raise the same error `ship` would."""
    path = state_dir / CHECKPOINTS
    if not path.exists():
        return None
    shipped = {entry["name"]: entry["offset"] for entry in read_checkpoints(path).values()}
    pending, torn = 0, []
    for log in logs:
        offset = shipped.get(log.name, 0)
        rest = log.stat().st_size - offset
        if rest <= 0:
            continue
        with log.open("rb") as handle:
            handle.seek(offset)
            if rest <= TORN_TAIL_BYTES and b"\n" not in handle.read(rest):
                torn.append((log.name, rest))
            else:
                pending += rest
    return Backlog(pending, torn)


def dead_letters(state_dir: Path) -> tuple[int, Path]:
    """How many lines the agent set aside as over Firehose's record limit, and where they are
    kept (one file each), for `status` and a run's accounting."""
    folder = Path(state_dir) / DEAD_LETTER
    count = sum(1 for p in folder.glob("*.line")) if folder.is_dir() else 0
    return count, folder


class _Checkpoints:
    """Per file: dev, ino, fingerprint, name and the acknowledged offset; saved atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.files: dict[str, dict[str, Any]] = read_checkpoints(path)
        self._saved = b""

    def save(self) -> None:
        data = json.dumps({"version": 1, "files": self.files}, indent=1).encode()
        if data != self._saved:
            atomic_write(self.path, data)
            self._saved = data

    def open(self, fd: int, name: str) -> tuple[str, int]:
        """Identify an open file; return its key and the acknowledged offset to resume from."""
        st = os.fstat(fd)
        key = f"{st.st_dev}:{st.st_ino}"
        entry = self.files.get(key) or self._moved_device(st.st_ino, fd)
        if entry is not None and entry["fp_len"] <= st.st_size:
            head = hashlib.sha256(os.pread(fd, entry["fp_len"], 0)).hexdigest()
            if head != entry["fp"]:
                entry = None  # a recycled inode: a different file
        offset = 0 if entry is None else int(entry["offset"])
        if offset > st.st_size:
            console.warn(
                f"{name} shrank below what was shipped (copy-truncate?); reading it from the start."
            )
            offset = 0
        fp, fp_len = _fingerprint(fd, st.st_size)
        self.files.pop(str((entry or {}).get("key", "")), None)
        self.files[key] = {
            "key": key, "dev": st.st_dev, "ino": st.st_ino, "fp": fp, "fp_len": fp_len,
            "name": name, "offset": offset,
        }  # fmt: skip
        return key, offset

    def _moved_device(self, ino: int, fd: int) -> dict[str, Any] | None:
        """The same file after a reboot renumbered its device: same inode, same first bytes."""
        size = os.fstat(fd).st_size
        for entry in self.files.values():
            if (
                entry["ino"] == ino
                and entry["fp_len"] <= size
                and hashlib.sha256(os.pread(fd, entry["fp_len"], 0)).hexdigest() == entry["fp"]
            ):
                return entry
        return None

    def advance(self, marks: dict[str, int]) -> None:
        for key, offset in marks.items():
            if key in self.files:
                self.files[key]["offset"] = max(int(self.files[key]["offset"]), offset)

    def keep_only(self, keys: set[str]) -> None:
        self.files = {k: v for k, v in self.files.items() if k in keys}


@contextmanager
def _single_agent(state_dir: Path) -> Iterator[None]:
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        fd = hold_lock(state_dir / "ship.lock")
    except LockBusy as busy:
        raise OrderpipeError(
            f"another `orderpipe ship` (pid {busy.holder}) is already shipping with the "
            f"checkpoints in {state_dir}; wait for it to finish or stop it, then try again."
        ) from None
    try:
        yield
    finally:
        os.close(fd)  # closing releases the lock


# the agent --------------------------------------------------------------------------------
class _Agent:
    def __init__(
        self,
        stream: DeliveryStream,
        log_dir: Path,
        state_dir: Path,
        *,
        pattern: str,
        record_bytes: int,
        sleep: Callable[[float], None],
        max_attempts: int,
        backoff_base: float,
        backoff_cap: float,
    ) -> None:
        self.stream = stream
        self.log_dir = log_dir
        self.state_dir = state_dir
        self.pattern = pattern
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.checkpoints = _Checkpoints(state_dir / CHECKPOINTS)
        self.packer = _Packer(
            min(record_bytes, stream.max_record_bytes), stream.max_record_bytes, self._dead_letter
        )
        self.tails: dict[str, _Tail] = {}
        self.stats = ShipStats()
        self.shipped_from: set[str] = set()
        self.lag = 0

    # reading ------------------------------------------------------------------------------
    def _listing(self) -> list[Path]:
        if not self.log_dir.is_dir():
            return []
        found = []
        for path in self.log_dir.glob(self.pattern):
            if path.name.startswith(".") or path.name.endswith(_COMPRESSED):
                continue
            with suppress(FileNotFoundError):
                if path.is_file():
                    found.append((path.stat().st_mtime_ns, path.name, path))
        return [path for *_, path in sorted(found)]

    def _open(self, path: Path) -> _Tail | None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None  # rotated away between listing and opening: the next pass finds it
        st = os.fstat(fd)
        key = f"{st.st_dev}:{st.st_ino}"
        if key in self.tails:
            os.close(fd)
            self.tails[key].name = path.name
            return self.tails[key]
        key, offset = self.checkpoints.open(fd, path.name)
        self.tails[key] = _Tail(key, fd, path.name, offset)
        return self.tails[key]

    def pass_once(self, final: bool) -> None:
        """Read every file to its current end and deliver the full batches (all, if `final`)."""
        listing = [t for t in (self._open(p) for p in self._listing()) if t is not None]
        listed = {t.key for t in listing}
        # A file renamed out of the folder (or deleted) is drained through its open descriptor.
        gone = [t for t in self.tails.values() if t.key not in listed]
        sizes = {t.key: os.fstat(t.fd).st_size for t in [*listing, *gone]}
        self.lag = sum(max(0, sizes[t.key] - t.read_to) for t in [*listing, *gone])
        for tail in [*gone, *listing]:
            self._read(tail, sizes[tail.key])
            self._send(final=False)
        self._send(final=final)
        # Keep recently written files open (a rename out of the folder can't hide their last
        # lines); let idle, fully read ones go, so a long --follow doesn't hoard descriptors.
        idle = time.time() - IDLE_CLOSE_SECONDS
        for tail in [*gone, *listing]:
            acked = self.checkpoints.files.get(tail.key, {}).get("offset") == tail.read_to
            if tail.key not in listed or (
                acked and not tail.partial and os.fstat(tail.fd).st_mtime < idle
            ):
                os.close(tail.fd)
                del self.tails[tail.key]
        self.checkpoints.keep_only(listed)
        self.checkpoints.save()

    def _read(self, tail: _Tail, size: int) -> None:
        pos = tail.read_to
        carry = b""
        tail.partial = 0
        while pos + len(carry) < size:
            chunk = os.pread(tail.fd, min(READ_CHUNK, size - pos - len(carry)), pos + len(carry))
            if not chunk:
                break
            buf = carry + chunk
            last = buf.rfind(b"\n")
            if last < 0:
                if len(buf) > self.packer.max_record_bytes:
                    end = self._oversize(tail, pos, pos + len(buf), size)
                    if end is None:
                        carry = b""
                        tail.partial = size - pos
                        break
                    pos, carry = end, b""
                    continue
                carry = buf
                continue
            self.packer.add(tail.key, buf[: last + 1], pos)
            self.lag = max(0, self.lag - (last + 1))
            pos += last + 1
            carry = buf[last + 1 :]
            self._send(final=False)
        tail.partial = tail.partial or len(carry)
        tail.read_to = pos

    def _oversize(self, tail: _Tail, start: int, scanned: int, size: int) -> int | None:
        """A line longer than any record: find its end and dead-letter it (None: no end yet)."""
        while scanned < size:
            chunk = os.pread(tail.fd, min(READ_CHUNK, size - scanned), scanned)
            if not chunk:
                break
            nl = chunk.find(b"\n")
            if nl >= 0:
                end = scanned + nl + 1
                self._dead_letter(os.pread(tail.fd, end - start, start), tail.key, start)
                self.packer.current.marks[tail.key] = end
                return end
            scanned += len(chunk)
        return None

    def _dead_letter(self, line: bytes, key: str, offset: int) -> None:
        name = self.checkpoints.files[key]["name"]
        path = self.state_dir / DEAD_LETTER / f"{name}.{offset}.line"
        atomic_write(path, line)
        self.stats.dead_letters += 1
        console.warn(
            f"a line of {len(line):,} bytes in {name} (byte {offset:,}) is over Firehose's "
            f"{self.packer.max_record_bytes:,}-byte record limit; moved it to {path}."
        )

    # delivering ---------------------------------------------------------------------------
    def _send(self, final: bool) -> None:
        for batch in self.packer.batches(
            self.stream.max_batch_records, self.stream.max_batch_bytes, final
        ):
            self._deliver([bytes(r.data) for r in batch if r.data])
            for record in batch:
                self.checkpoints.advance(record.marks)
                self.shipped_from.update(record.marks)
                if record.data:
                    self.stats.records += 1
                    self.stats.lines += record.lines
                    self.stats.bytes += len(record.data)
                    self.stats.billed_bytes += billed(len(record.data))
            self.stats.files = len(self.shipped_from)
            self.checkpoints.save()

    def _deliver(self, records: Sequence[bytes]) -> None:
        """PutRecordBatch until every record is accepted; resend only the failed ones."""
        pending = list(records)
        attempt = 0
        while pending:
            try:
                codes = self.stream.put_record_batch(pending)
                failed = [r for r, code in zip(pending, codes, strict=True) if code is not None]
                reason = next((c for c in codes if c is not None), "")
            except TransientError as exc:
                failed, reason = pending, str(exc)
            if not failed:
                return
            attempt += 1
            if attempt >= self.max_attempts:
                raise TransientError(
                    f"the delivery stream still refused {len(failed)} of {len(pending)} records "
                    f"after {attempt} attempts ({reason}); nothing was lost — run ship again later."
                )
            self.stats.retries += 1
            delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
            log.debug("retrying %d records in %.2fs: %s", len(failed), delay, reason)
            self.sleep(random.uniform(delay / 2, delay))
            pending = failed

    def trailing_partials(self) -> list[_Tail]:
        return [t for t in self.tails.values() if t.partial]

    def close_files(self) -> None:
        for tail in self.tails.values():
            os.close(tail.fd)
        self.tails.clear()


def ship(
    stream: DeliveryStream,
    log_dir: Path,
    state_dir: Path,
    *,
    follow: bool = False,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    poll_interval: float = 1.0,
    stop: threading.Event | None = None,
    pattern: str = "*.ndjson*",
    record_bytes: int = RECORD_BYTES,
    linger_seconds: float = 10.0,
    max_attempts: int = 8,
    backoff_base: float = 0.2,
    backoff_cap: float = 10.0,
) -> ShipStats:
    """Deliver the complete lines in `log_dir` beyond the checkpoints, then close the stream.

    With `follow`, keep tailing until `stop` is set (or Ctrl-C), then flush and return. A partly
    filled record waits up to `linger_seconds` for more lines while following (fewer, fuller
    records: cheaper). `sleep` is used for retry backoff; polling waits on `stop`.
    """
    log_dir, state_dir = Path(log_dir), Path(state_dir)
    if not follow and not log_dir.is_dir():
        raise NotReadyError(
            f"there is no log folder at {log_dir}; run `orderpipe generate --no-ship` first or "
            "pass --log-dir."
        )
    stop = stop or threading.Event()
    started = time.monotonic()
    try:
        with _single_agent(state_dir), _interrupt_sets(stop, enabled=follow):
            agent = _Agent(
                stream, log_dir, state_dir, pattern=pattern, record_bytes=record_bytes,
                sleep=sleep, max_attempts=max_attempts, backoff_base=backoff_base,
                backoff_cap=backoff_cap,
            )  # fmt: skip
            try:
                with _progress_line(agent, started, enabled=progress):
                    _run(agent, follow, stop, poll_interval, linger_seconds)
                partials = agent.trailing_partials()
            finally:
                agent.close_files()
            for tail in partials:
                console.info(
                    f"{tail.name} ends with {tail.partial:,} bytes without a newline; that line "
                    "ships once it is complete."
                )
    except BaseException:
        with suppress(Exception):
            stream.close()
        raise
    stream.close()
    agent.stats.seconds = time.monotonic() - started
    return agent.stats


def _run(
    agent: _Agent, follow: bool, stop: threading.Event, poll_interval: float, linger: float
) -> None:
    if not follow:
        agent.pass_once(final=True)
        return
    lingering_since: float | None = None
    while True:
        stopping = stop.is_set()
        agent.pass_once(final=stopping)
        if stopping:
            return
        # A partly filled record waits for more lines, but not longer than `linger`.
        if agent.packer.current.data or agent.packer.sealed:
            lingering_since = lingering_since or time.monotonic()
            if time.monotonic() - lingering_since >= linger:
                agent._send(final=True)
                lingering_since = None
        else:
            lingering_since = None
        flush_due = getattr(agent.stream, "flush_due", None)
        if flush_due is not None:
            flush_due()
        stop.wait(poll_interval)


@contextmanager
def _interrupt_sets(stop: threading.Event, enabled: bool) -> Iterator[None]:
    """While following, the first Ctrl-C asks for a clean stop; a second one interrupts."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def _progress_line(agent: _Agent, started: float, enabled: bool) -> Iterator[None]:
    """A Rich live line on stderr: lines, records/s, bytes, lag behind the log."""
    if not enabled:
        yield
        return
    from rich.live import Live
    from rich.text import Text

    def render() -> Text:
        s = agent.stats
        seconds = max(time.monotonic() - started, 1e-6)
        return Text(
            f"shipping · {s.lines:,} lines · {s.records:,} records ({s.records / seconds:,.0f}/s)"
            f" · {_human(s.bytes)} · lag {_human(agent.lag)} · {s.retries} retries",
            style="dim",
        )

    with Live(get_renderable=render, console=console.err, refresh_per_second=4, transient=True):
        yield


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1000
    return f"{n:,.1f} GB"

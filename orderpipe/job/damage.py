"""What of a raw object cannot be read, the same for both engines: a gzip stream cut short or
corrupt (everything before the damage is read; the rest becomes one `unreadable` record named
after the object) and lines that are not UTF-8 (one `unreadable` record each, kept byte-exact in
their recordid, shown escaped). Standard library only: it runs in Glue's executors too."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from dataclasses import dataclass

WHITESPACE = b" \t\n\x0b\f\r"  # what Java's \s (and so the canonical form's rstrip) removes
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Unreadable:
    """A part of a raw object that cannot be read: quarantined as `unreadable`."""

    ingested_from: str
    raw_line: str  # what could be seen of it, escaped
    recordid: str


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def gunzip(data: bytes, keep: Callable[[bytes], object]) -> str | None:
    """Hand every decoded chunk of all gzip members (as Hadoop's codec reads them) to `keep`;
    return what went wrong if the stream is cut short or corrupt, else None."""
    start = done = 0
    while start < len(data):
        inflater = zlib.decompressobj(wbits=31)
        position = start
        try:
            while position < len(data) and not inflater.eof:
                chunk = inflater.decompress(data[position : position + _CHUNK])
                keep(chunk)
                done += len(chunk)
                position += _CHUNK
        except zlib.error:
            return f"not readable as gzip after {done:,} bytes"
        if not inflater.eof:
            tail = inflater.flush()
            keep(tail)
            return f"gzip data cut short after {done + len(tail):,} bytes"
        start = len(data) - len(inflater.unused_data)
    return None


def damaged_object(uri: str, raw: bytes, problem: str, partial: bytes) -> Unreadable:
    """The record of a damaged object: its id from the object's exact bytes; shown, the
    problem and the cut-off last line (which goes with the damage)."""
    shown = f"[{problem}] {partial.decode('utf-8', 'backslashreplace')}".rstrip()
    return Unreadable(uri, shown, _sha(f"v1|unreadable:{_sha(raw)}".encode()))


def bad_line(uri: str, line: bytes) -> Unreadable:
    """The record of a line that is not UTF-8."""
    shown = line.decode("utf-8", "backslashreplace")
    return Unreadable(uri, shown, _sha(b"v1|line:" + line.rstrip(WHITESPACE)))


class _Tail:
    """Keeps only what follows the last newline of a decoded stream."""

    def __init__(self) -> None:
        self.partial = b""

    def __call__(self, chunk: bytes) -> None:
        cut = chunk.rfind(b"\n")
        self.partial = self.partial + chunk if cut < 0 else chunk[cut + 1 :]


def check_gzip(uri: str, raw: bytes) -> list[Unreadable]:
    """The damage of one gzip object (the Spark engine's check, run where the object is):
    decoded as a stream, keeping nothing but the cut-off last line."""
    tail = _Tail()
    problem = gunzip(raw, tail)
    return [] if problem is None else [damaged_object(uri, raw, problem, tail.partial)]

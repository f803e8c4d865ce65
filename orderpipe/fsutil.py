"""Files under the home that a later command reads: written whole, read with a clear sentence.

Standard library only (and `orderpipe.errors`): the ETL job imports it, locally and on Glue.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, Self

from orderpipe.errors import OrderpipeError


class StateFileError(OrderpipeError):
    """A state file is torn or not ours; the message names it and says how to repair it."""


def umask() -> int:
    """The process umask, read without changing it (threads may be creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so a reader sees the old file or the new one, never half of one.

    The file gets the mode a plain `open()` would give it (0666 less the user's umask)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~umask())  # mkstemp makes 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class LockBusy(Exception):
    """Another live process holds the lock; `holder` is the pid it wrote there."""

    def __init__(self, holder: str) -> None:
        super().__init__(holder)
        self.holder = holder


def hold_lock(
    path: Path, *, wait: bool = False, on_wait: Callable[[str], None] | None = None
) -> int:
    """An exclusive flock on `path` (made if missing), held until the returned descriptor is
    closed; the OS drops it when the process dies, so a crash never blocks the next one. This
    process's pid is written in it for whoever finds it busy. Busy: raise LockBusy, or with `wait`
    tell `on_wait` who holds it and wait."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        if not wait:
            os.close(fd)
            raise LockBusy(holder) from None
        if on_wait is not None:
            on_wait(holder)
        fcntl.flock(fd, fcntl.LOCK_EX)
    with suppress(OSError):  # the pid only informs: a full disk must not fail the lock
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def read_json(path: Path, what: str, repair: str) -> Any:
    """The JSON in `path` (None when it does not exist); a torn or foreign file is one sentence:
    `what` names the file's role ("the local catalog"), `repair` says what to do."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (ValueError, OSError) as exc:
        raise StateFileError(f"{what} {path} is unreadable ({_reason(exc)}); {repair}") from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} at line {exc.lineno}"
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)


def not_ours(path: Path, what: str, repair: str) -> StateFileError:
    """The error for a file that parses but does not hold what orderpipe writes there."""
    return StateFileError(f"{what} {path} does not hold what orderpipe writes there; {repair}")


class ClosesOnExit:
    """`with` closes it: for writers whose `close` delivers what they still buffer."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

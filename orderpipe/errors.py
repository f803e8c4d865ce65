"""Our exceptions. The CLI edge turns each into one sentence on stderr and an exit code."""

from __future__ import annotations

import errno


class OrderpipeError(Exception):
    """An operation failed; the message says what to do. Exit code 1."""

    exit_code = 1


class UsageError(OrderpipeError):
    """The command line asked for something impossible. Exit code 2."""

    exit_code = 2


class NotReadyError(OrderpipeError):
    """A stage ran before what it needs exists (no home, no data, no stack)."""


class TransientError(OrderpipeError):
    """Worth retrying: throttling, a 5xx, a network hiccup, IAM propagation."""


class QueryFailed(OrderpipeError):
    """The SQL engine rejected or failed a query; the message carries the engine's reason."""


class JobFailed(OrderpipeError):
    """The ETL job run failed; the message carries the job's error and where its logs are."""


class ReplayError(UsageError):
    """A replay file cannot be read as asked (encoding, ambiguous dates, empty)."""


def disk_full(exc: BaseException) -> bool:
    """True when `exc`, or an error it came from, is ENOSPC / EDQUOT — also when an engine (the
    JVM, DuckDB) only passed it on as text."""
    seen: BaseException | None = exc
    for _ in range(20):  # a bounded walk down the __cause__ / __context__ chain
        if seen is None:
            return False
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if any(text in str(seen) for text in ("No space left on device", "Disk quota exceeded")):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class DiskFull(OrderpipeError):
    """A disk filled up; the message names it and says that nothing stored was lost."""


def disk_full_error(where: object) -> DiskFull:
    return DiskFull(
        f"the disk holding {where} is full (no space left on device): nothing already stored or "
        "acknowledged was lost; free some space there and run the command again."
    )


def os_error(exc: OSError, where: object) -> OrderpipeError:
    """One sentence for a file-system failure, naming the file (or else `where`)."""
    path = exc.filename or where  # a full disk never gets here: the CLI checks disk_full first
    if exc.errno == errno.EROFS:
        return OrderpipeError(
            f"{path} is on a read-only file system: use a writable place (another --home or "
            "ORDERPIPE_HOME, or another path you gave) and run the command again."
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return OrderpipeError(
            f"permission denied on {path}: make it accessible to this user, or use another place "
            "(another --home, or another path you gave), and run the command again."
        )
    reason = (exc.strerror or type(exc).__name__).lower()
    return OrderpipeError(f"{path}: {reason}; check that file or folder and run again.")

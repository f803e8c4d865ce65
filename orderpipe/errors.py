"""Our exceptions. The CLI edge turns each into one sentence on stderr and an exit code."""

from __future__ import annotations


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

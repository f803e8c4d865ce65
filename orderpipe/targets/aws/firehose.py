"""Kinesis Data Firehose as the agent's DeliveryStream: PutRecordBatch, errors mapped to ours.

The agent (`orderpipe ship`) packs lines into records and resends what comes back with an error
code; this class only makes one call per batch and says, per record, what happened. AWS errors
become our types so the caller decides from the type alone: TransientError is worth a retry,
any other OrderpipeError is permanent and names what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orderpipe.errors import OrderpipeError
from orderpipe.targets.aws.session import AwsSession

# Firehose says "slow down" with ServiceUnavailableException; a stream being created or updated
# answers ResourceInUseException. Both pass (TransientError), like throttling, a 5xx or the
# network (errors.translate).
FIREHOSE_TRANSIENT = frozenset({"ServiceUnavailableException", "ResourceInUseException"})


class FirehoseStream:
    """The stack's delivery stream, behind orderpipe.targets.base.DeliveryStream."""

    max_batch_records = 500
    max_batch_bytes = 4 * 1024 * 1024
    max_record_bytes = 1000 * 1024

    def __init__(self, session: AwsSession, stream_name: str) -> None:
        self._session = session
        self.stream_name = stream_name

    def put_record_batch(self, records: Sequence[bytes]) -> list[str | None]:
        """Send one batch; per record None (accepted) or Firehose's ErrorCode (resend it)."""
        if not records:
            return []
        self._check_limits(records)
        missing = OrderpipeError(
            f"delivery stream {self.stream_name} does not exist: run `orderpipe --target aws up`."
        )
        response: dict[str, Any] = self._session.call(
            "firehose",
            "put_record_batch",
            resource=f"delivery stream {self.stream_name}",
            missing=missing,
            transient=FIREHOSE_TRANSIENT,
            DeliveryStreamName=self.stream_name,
            Records=[{"Data": bytes(record)} for record in records],
        )
        answers = response.get("RequestResponses", [])
        if len(answers) != len(records):
            # Never seen from Firehose; treat as "nothing known to be delivered" and resend all.
            return ["IncompleteResponse"] * len(records)
        return [answer.get("ErrorCode") or None for answer in answers]

    def close(self) -> None:
        """Nothing is buffered client-side: every call is one PutRecordBatch."""

    def _check_limits(self, records: Sequence[bytes]) -> None:
        if len(records) > self.max_batch_records:
            raise ValueError(f"{len(records)} records in one batch; Firehose takes at most 500")
        total = sum(len(record) for record in records)
        if total > self.max_batch_bytes:
            raise ValueError(f"a batch of {total} bytes; Firehose takes at most 4 MiB")
        biggest = max(len(record) for record in records)
        if biggest > self.max_record_bytes:
            raise ValueError(f"a record of {biggest} bytes; Firehose takes at most 1,000 KiB")

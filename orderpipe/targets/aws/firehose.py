"""Kinesis Data Firehose as the agent's DeliveryStream: PutRecordBatch, errors mapped to ours.

The agent (`orderpipe ship`) packs lines into records and resends what comes back with an error
code; this class only makes one call per batch and says, per record, what happened. AWS errors
become our types so the caller decides from the type alone: TransientError is worth a retry,
any other OrderpipeError is permanent and names what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orderpipe.errors import OrderpipeError, TransientError
from orderpipe.targets.aws.errors import error_code, translate
from orderpipe.targets.aws.session import AwsSession

# Firehose says "slow down" with ServiceUnavailableException; a stream being created or updated
# answers ResourceInUseException. Both pass; errors.translate covers the general codes.
FIREHOSE_TRANSIENT = frozenset({"ServiceUnavailableException", "ResourceInUseException"})


def _translate(exc: Exception, stream_name: str) -> OrderpipeError:
    """Our error for a failed PutRecordBatch: missing stream → `up`; throttling, 5xx and network
    trouble → TransientError (resend later); anything else → errors.translate's sentence."""
    import botocore.exceptions

    code = error_code(exc)
    if code == "ResourceNotFoundException":
        return OrderpipeError(
            f"delivery stream {stream_name} does not exist: run `orderpipe --target aws up`."
        )
    status = getattr(exc, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in FIREHOSE_TRANSIENT or status >= 500:
        return TransientError(f"Firehose is not taking records for now ({code}): {exc}")
    if isinstance(exc, botocore.exceptions.ConnectionError | botocore.exceptions.HTTPClientError):
        return TransientError(f"cannot reach Firehose for now: {exc}")
    return translate(exc, "firehose.PutRecordBatch", f"delivery stream {stream_name}")


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
        import botocore.exceptions

        try:
            response: dict[str, Any] = self._session.client("firehose").put_record_batch(
                DeliveryStreamName=self.stream_name,
                Records=[{"Data": bytes(record)} for record in records],
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise _translate(exc, self.stream_name) from None
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

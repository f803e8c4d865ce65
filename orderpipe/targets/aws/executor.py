"""Apply a plan: one boto3 call per Action, with progress, bounded retries and idempotent edges.

The executor decides nothing about *what* to do (that is the planner's job). It only knows how
AWS misbehaves: a fresh IAM role is refused for a few seconds (propagation), a fresh bucket or
log group is not yet visible (eventual consistency), a stream still CREATING rejects updates.
Those calls are retried with backoff within a bound, sleeping through an injectable `sleep`.
A create that finds the resource already there, or a delete that finds it gone, is success.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from orderpipe import console
from orderpipe.errors import OrderpipeError
from orderpipe.targets.aws.errors import (
    error_code,
    error_message,
    is_already_exists,
    is_not_found,
)
from orderpipe.targets.aws.planner import (
    EMPTY_BUCKET,
    WAIT_STREAM_ACTIVE,
    WAIT_STREAM_DELETED,
    WAIT_TERMINATED,
)
from orderpipe.targets.aws.session import AwsSession
from orderpipe.targets.base import Action

log = logging.getLogger(__name__)

Sleep = Callable[[float], None]

MAX_ATTEMPTS = 10  # 1+2+4+8+16×5 s ≈ 95 s of waiting at most per call
MAX_DELAY = 16.0
WAIT_TIMEOUT = 600.0  # seconds a stream or an instance may take to change state
WAIT_INTERVAL = 5.0
DELETE_BATCH = 1000  # S3 DeleteObjects limit

# Calls that pass a role to a service: refused until the new role has propagated.
ROLE_USERS = {
    "firehose.create_delivery_stream",
    "firehose.update_destination",
    "glue.create_crawler",
    "glue.update_crawler",
    "glue.create_job",
    "glue.update_job",
}
_ROLE_WORDS = ("role", "assume", "authoriz", "permission")
_ROLE_CODES = {
    "InvalidArgumentException",
    "InvalidInputException",
    "AccessDeniedException",
    "ValidationException",
}
# Error codes that mean "not yet" for a given call.
NOT_YET: dict[str, set[str]] = {
    "s3.put_public_access_block": {"NoSuchBucket", "OperationAborted"},
    "s3.put_bucket_encryption": {"NoSuchBucket", "OperationAborted"},
    "s3.put_bucket_policy": {"NoSuchBucket", "OperationAborted"},
    "s3.put_bucket_lifecycle_configuration": {"NoSuchBucket", "OperationAborted"},
    "s3.put_bucket_tagging": {"NoSuchBucket", "OperationAborted"},
    "s3.put_bucket_versioning": {"NoSuchBucket", "OperationAborted"},
    "s3.put_object": {"NoSuchBucket"},
    "s3.delete_bucket": {"BucketNotEmpty", "OperationAborted"},
    "iam.put_role_policy": {"NoSuchEntity"},
    "iam.tag_role": {"NoSuchEntity"},
    "iam.add_role_to_instance_profile": {"NoSuchEntity"},
    "iam.delete_role": {"DeleteConflict"},
    "iam.delete_instance_profile": {"DeleteConflict"},
    "logs.put_retention_policy": {"ResourceNotFoundException", "OperationAbortedException"},
    "logs.create_log_stream": {"ResourceNotFoundException", "OperationAbortedException"},
    "firehose.update_destination": {"ResourceInUseException"},
    "firehose.start_delivery_stream_encryption": {"ResourceInUseException"},
    "firehose.delete_delivery_stream": {"ResourceInUseException"},
    "glue.create_table": {"EntityNotFoundException"},
    "glue.create_crawler": {"EntityNotFoundException"},
    "glue.delete_crawler": {"CrawlerRunningException", "SchedulerTransitioningException"},
    "sns.subscribe": {"NotFound"},
    "sns.set_topic_attributes": {"NotFound"},
    "events.put_targets": {"ResourceNotFoundException"},
    "ec2.delete_security_group": {"DependencyViolation"},
}
# Calls whose "error" means the goal is already reached.
ALREADY_DONE: dict[str, set[str]] = {
    "glue.stop_crawler": {"CrawlerNotRunningException", "CrawlerStoppingException"},
    "iam.add_role_to_instance_profile": {"LimitExceeded"},  # a profile holds one role: ours
}


def should_retry(api: str, exc: BaseException) -> bool:
    code = error_code(exc)
    if code in NOT_YET.get(api, set()):
        return True
    message = error_message(exc).lower()
    return api in ROLE_USERS and code in _ROLE_CODES and any(w in message for w in _ROLE_WORDS)


def is_done(action: Action, exc: BaseException) -> bool:
    """Whether a failed call still leaves the stack as the action wanted it."""
    if error_code(exc) in ALREADY_DONE.get(action.api, set()):
        return True
    if action.verb == "create" and is_already_exists(exc):
        return True
    return action.verb in {"delete", "empty", "wait"} and is_not_found(exc)


class Executor:
    """Runs Actions in order, one progress line each."""

    def __init__(self, session: AwsSession, sleep: Sleep = time.sleep, show: bool = True) -> None:
        self.session = session
        self.sleep = sleep
        self.show = show
        self.special: dict[str, Callable[..., str]] = {
            EMPTY_BUCKET: self._empty_bucket,
            WAIT_STREAM_ACTIVE: self._wait_stream_active,
            WAIT_STREAM_DELETED: self._wait_stream_deleted,
            WAIT_TERMINATED: self._wait_terminated,
        }

    def run(self, plan: list[Action]) -> None:
        for action in plan:
            if not action.api:  # "keep": nothing to call
                continue
            if self.show:
                with console.stage(f"{action.verb} {action.resource}") as result:
                    result["detail"] = self.step(action)
            else:
                self.step(action)

    def step(self, action: Action) -> str:
        """Apply one action; returns a short note of what happened. Each call goes through
        the session (one sentence per AWS error); the AWS error it came from decides whether
        the goal is reached anyway or the call is worth another try."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return self._call(action)
            except OrderpipeError as error:
                cause = error.__cause__  # the botocore error, when AWS answered
                if cause is None or not error_code(cause):
                    raise
                if is_done(action, cause):
                    return f"{action.api}: already done ({error_code(cause)})"
                if attempt == MAX_ATTEMPTS or not should_retry(action.api, cause):
                    raise
                delay = min(2.0 ** (attempt - 1), MAX_DELAY)
                log.info("%s: %s, retrying in %.0fs", action.api, error_code(cause), delay)
                if action.api == "s3.delete_bucket":  # something landed meanwhile
                    self._empty_bucket(**action.kwargs)
                self.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self, action: Action) -> str:
        if action.api in self.special:
            return self.special[action.api](**action.kwargs)
        service, method = action.api.split(".", 1)
        self.session.call(service, method, resource=action.resource, **action.kwargs)
        return action.api

    # composite steps -----------------------------------------------------------------------
    def _empty_bucket(self, Bucket: str) -> str:
        """Delete every object version, delete marker and unfinished upload."""
        call, where = self.session.call, f"bucket {Bucket}"
        for upload in self.session.items(
            "s3", "list_multipart_uploads", "Uploads", resource=where, Bucket=Bucket
        ):
            call(
                "s3",
                "abort_multipart_upload",
                resource=f"s3://{Bucket}/{upload['Key']}",
                missing=None,
                Bucket=Bucket,
                Key=upload["Key"],
                UploadId=upload["UploadId"],
            )
        deleted = 0
        for page in self.session.pages("s3", "list_object_versions", resource=where, Bucket=Bucket):
            keys = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in (page.get("Versions") or []) + (page.get("DeleteMarkers") or [])
            ]
            for start in range(0, len(keys), DELETE_BATCH):
                batch = keys[start : start + DELETE_BATCH]
                response = call(
                    "s3",
                    "delete_objects",
                    resource=where,
                    Bucket=Bucket,
                    Delete={"Objects": batch, "Quiet": True},
                )
                errors = response.get("Errors") or []
                if errors:
                    first = errors[0]
                    raise OrderpipeError(
                        f"Could not delete s3://{Bucket}/{first.get('Key')}: {first.get('Code')}: "
                        f"{first.get('Message')} ({len(errors)} object(s) failed)."
                    )
                deleted += len(batch)
        return f"{deleted:,} object version(s) deleted"

    def _poll(self, done: Callable[[], bool], what: str) -> None:
        waited = 0.0
        while not done():
            if waited >= WAIT_TIMEOUT:
                raise OrderpipeError(
                    f"Gave up after {waited:.0f}s waiting for {what}; run the command again later."
                )
            self.sleep(WAIT_INTERVAL)
            waited += WAIT_INTERVAL

    def _stream_status(self, name: str) -> dict[str, Any] | None:
        response = self.session.call(
            "firehose",
            "describe_delivery_stream",
            resource=f"delivery stream {name}",
            missing=None,
            DeliveryStreamName=name,
        )
        return None if response is None else dict(response["DeliveryStreamDescription"])

    def _wait_stream_active(self, DeliveryStreamName: str) -> str:
        def active() -> bool:
            stream = self._stream_status(DeliveryStreamName) or {}
            status = stream.get("DeliveryStreamStatus")
            if status == "CREATING_FAILED":
                reason = (stream.get("FailureDescription") or {}).get("Details", "no reason given")
                raise OrderpipeError(
                    f"Delivery stream {DeliveryStreamName} failed to create: {reason}. Run `down` "
                    "and `up` again."
                )
            return status == "ACTIVE"

        self._poll(active, f"delivery stream {DeliveryStreamName} to become ACTIVE")
        return "ACTIVE"

    def _wait_stream_deleted(self, DeliveryStreamName: str) -> str:
        self._poll(
            lambda: self._stream_status(DeliveryStreamName) is None,
            f"delivery stream {DeliveryStreamName} to be deleted",
        )
        return "deleted"

    def _wait_terminated(self, InstanceIds: list[str]) -> str:
        what = f"instances {', '.join(InstanceIds)}"

        def terminated() -> bool:
            reservations = self.session.items(
                "ec2",
                "describe_instances",
                "Reservations",
                resource=what,
                missing=[],
                InstanceIds=InstanceIds,
            )
            states = {i["State"]["Name"] for r in reservations for i in r["Instances"]}
            return states <= {"terminated"}

        self._poll(terminated, f"{what} to terminate")
        return "terminated"

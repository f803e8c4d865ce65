"""botocore's exceptions turned into ours: one sentence that names the call, the resource and
what AWS said, so the CLI edge prints it without a traceback."""

from __future__ import annotations

import re
from collections.abc import Collection

from orderpipe.errors import OrderpipeError, TransientError

ACCESS_DENIED = {
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
    "AuthorizationErrorException",
}
THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "InternalServiceException",
}
NOT_FOUND = {
    "NoSuchEntity",
    "NoSuchBucket",
    "NotFound",
    "404",
    "EntityNotFoundException",
    "ResourceNotFoundException",
    "ResourceNotFound",
    "NoSuchKey",
    "NoSuchUpload",
    "InvalidGroup.NotFound",
    "InvalidInstanceID.NotFound",
}
ALREADY_EXISTS = {
    "EntityAlreadyExists",
    "AlreadyExistsException",
    "ResourceAlreadyExistsException",
    "BucketAlreadyOwnedByYou",
    "ResourceInUseException",
    "InvalidPermission.Duplicate",
    "InvalidGroup.Duplicate",
}
EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
_DENIED_RESOURCE = re.compile(r"on resource:? (\S+)")

NO_CREDENTIALS = (
    "No usable AWS credentials: run `aws configure` (or `aws sso login`), or set "
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or pass --profile."
)
NO_REGION = "No AWS region is set: pass --region, or set ORDERPIPE_REGION or AWS_DEFAULT_REGION."


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def error_message(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Message", "")) or str(exc)


def is_not_found(exc: BaseException) -> bool:
    """AWS's many spellings of "does not exist" (Athena only says so in the message)."""
    code = error_code(exc)
    if code in NOT_FOUND:
        return True
    return code == "InvalidRequestException" and "not found" in error_message(exc).lower()


def is_already_exists(exc: BaseException) -> bool:
    code = error_code(exc)
    if code in ALREADY_EXISTS:
        return True
    message = error_message(exc).lower()
    return code == "InvalidRequestException" and ("already" in message or "exists" in message)


def operation_name(api: str) -> str:
    """The name AWS and IAM give a call: "glue.get_crawler" → "GetCrawler"."""
    method = api.split(".", 1)[-1]
    return "".join(part[:1].upper() + part[1:] for part in method.split("_"))


def translate(
    exc: BaseException, api: str = "", resource: str = "", transient: Collection[str] = ()
) -> OrderpipeError:
    """Our error for any botocore exception: one sentence naming the call (`api`, as
    "service.method") and the resource. TransientError when a retry later may work: throttling,
    a 5xx, a `transient` code of this call, the network."""
    import botocore.exceptions as bx

    if isinstance(exc, OrderpipeError):
        return exc
    if isinstance(exc, bx.NoCredentialsError | bx.PartialCredentialsError):
        return OrderpipeError(NO_CREDENTIALS)
    if isinstance(exc, bx.NoRegionError):
        return OrderpipeError(NO_REGION)
    service = api.split(".", 1)[0] if api else "aws"
    operation = getattr(exc, "operation_name", None) or operation_name(api)
    action = f"{service}:{operation}"
    where = f" on {resource}" if resource else ""
    call = f"{action}{where}" if operation else ""  # unknown when the CLI's edge caught it
    if isinstance(exc, bx.ConnectionError | bx.HTTPClientError):
        return TransientError(
            f"Cannot reach AWS{' for ' + call if call else ''} ({exc}); check the network or "
            "AWS_ENDPOINT_URL and retry."
        )
    if not isinstance(exc, bx.ClientError):
        return OrderpipeError(f"{call or 'An AWS call'} failed: {type(exc).__name__}: {exc}")
    code, message = error_code(exc), error_message(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in ACCESS_DENIED:
        match = _DENIED_RESOURCE.search(message)
        target = match.group(1).rstrip(".,") if match else resource or "the stack's resources"
        return OrderpipeError(
            f"AWS denied {action} on {target}: grant that permission to "
            "your identity or use a --profile that has it."
        )
    if code in EXPIRED:
        return OrderpipeError(
            "Your AWS credentials have expired: refresh them (e.g. `aws sso login`) and retry."
        )
    if code in transient or status >= 500:
        return TransientError(
            f"AWS is not taking {operation}{where} for now ({code}: {message}); retry shortly."
        )
    if code in THROTTLED:
        return TransientError(
            f"AWS is throttling {operation}{where} ({code}: {message}); retry shortly."
        )
    return OrderpipeError(f"AWS {operation}{where} failed: {code}: {message}")

"""`--debug` logs without secrets: botocore logs signed headers, canonical requests and response
bodies at DEBUG, which carry the session token, the signature and any credentials STS returns."""

from __future__ import annotations

import logging
import os
import re

HIDDEN = "****"
_SECRET_ENV = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
# A secret-named field and its value, as a header line, a dict/JSON item or an XML element.
_NAMED = re.compile(
    r"(?i)((?:x-amz-security-token|authorization|secretaccesskey|secret_access_key|sessiontoken"
    r"|session_token|security_token|aws_secret_access_key|password)['\"]?\s*(?:[:=]|>)\s*b?['\"]?)"
    r"([^'\"\s<,}]+(?: [^'\"<,}\n]+)*)"
)
_SIGNATURE = re.compile(r"(?i)(signature\s*[=:]\s*\n?)([0-9a-f]{64})")
_known: set[str] = set()


def remember(*secrets: str | None) -> None:
    """Values to hide wherever they appear (e.g. credentials boto3 resolved from a profile)."""
    _known.update(s for s in secrets if s and len(s) >= 8)


def redact(text: str) -> str:
    for secret in _known | {os.environ.get(name, "") for name in _SECRET_ENV} - {""}:
        text = text.replace(secret, HIDDEN)
    text = _NAMED.sub(lambda m: m.group(1) + HIDDEN, text)
    return _SIGNATURE.sub(lambda m: m.group(1) + HIDDEN, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with its secrets hidden (install on the handler)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True

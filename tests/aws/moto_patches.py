"""Work-arounds for moto 5.2.5 limits that would otherwise fail correct code.

moto enforces a bucket policy's Deny statements but ignores their `Condition` (it evaluates
only StringEquals and treats every other operator as matching), so the standard TLS-only
statement (`Deny s3:* when aws:SecureTransport is false`) denies *every* object request.
Real S3 denies only plain-HTTP requests; requests in these tests stand for TLS ones.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}


def tls_aware_bucket_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make moto skip TLS-only Deny statements when it checks object requests."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        document = json.loads(self.policy)
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        document["Statement"] = [s for s in statements if s.get("Condition") != TLS_ONLY]
        if not document["Statement"]:
            return PermissionResult.NEUTRAL
        return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)

    monkeypatch.setattr(FakeBucket, "get_permission", get_permission)


@pytest.fixture
def moto_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    tls_aware_bucket_policies(monkeypatch)

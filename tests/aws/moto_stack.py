"""The stack `clitest` on a moto server, as a user sees it: its names, plain boto3 clients the
way one would use the aws CLI, the orderpipe CLI pointed at it, and what a stack leaves behind."""

from __future__ import annotations

import gzip
import json
import urllib.request
from functools import partial
from pathlib import Path
from typing import Any

from helpers import Ran, orderpipe

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's
STACK = "clitest"


def aws_cli(env: dict[str, str], *args: str, code: int = 0, cwd: Path | None = None) -> Ran:
    """`orderpipe --target aws --stack clitest ARGS` in a subprocess with `env`."""
    return orderpipe("--target", "aws", "--stack", STACK, *args, code=code, env=env, cwd=cwd)


def aws(endpoint: str | None, service: str) -> Any:
    import boto3

    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def moto_api(endpoint: str, path: str, body: dict[str, Any]) -> None:
    """POST to moto's own API (state manager, canned results, reset)."""
    request = urllib.request.Request(
        f"{endpoint}/moto-api/{path}", data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status in (200, 201), path


def bucket(role: str) -> str:
    return f"{STACK}-{role}-{ACCOUNT}-{REGION}"


def raw_lines(endpoint: str) -> list[dict[str, Any]]:
    """Every order line in the raw bucket (gzip as Firehose writes it; moto stores plain)."""
    s3 = aws(endpoint, "s3")
    lines: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket("raw"), Prefix="raw/"):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket("raw"), Key=item["Key"])["Body"].read()
            text = (gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body).decode()
            lines += [json.loads(line) for line in text.splitlines() if line]
    return lines


def leftovers(endpoint: str | None, stack: str = STACK) -> list[str]:
    """Everything named after the stack that still exists (endpoint None: moto in-process)."""
    client = partial(aws, endpoint)
    left = [b["Name"] for b in client("s3").list_buckets()["Buckets"]]
    left += [r["RoleName"] for r in client("iam").list_roles()["Roles"]]
    left += [
        p["InstanceProfileName"] for p in client("iam").list_instance_profiles()["InstanceProfiles"]
    ]
    left += client("firehose").list_delivery_streams()["DeliveryStreamNames"]
    left += [d["Name"] for d in client("glue").get_databases()["DatabaseList"]]
    left += client("glue").list_crawlers()["CrawlerNames"]
    left += client("glue").list_jobs()["JobNames"]
    left += [g["logGroupName"] for g in client("logs").describe_log_groups()["logGroups"]]
    groups = client("athena").list_work_groups()["WorkGroups"]
    left += [w["Name"] for w in groups if w["Name"] != "primary"]
    left += [t["TopicArn"] for t in client("sns").list_topics()["Topics"]]
    left += [a["AlarmName"] for a in client("cloudwatch").describe_alarms()["MetricAlarms"]]
    left += [r["Name"] for r in client("events").list_rules()["Rules"]]
    left += [g["GroupName"] for g in client("ec2").describe_security_groups()["SecurityGroups"]]
    return [name for name in left if stack in name]

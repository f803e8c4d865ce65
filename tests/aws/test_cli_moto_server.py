"""The CLI end to end as a user runs it: `orderpipe --target aws up/status/down` in a subprocess
against a moto server, checked with plain boto3 the way one would with the aws CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto_patches import moto_tls  # noqa: F401 (a fixture; tests/aws is on sys.path)

from orderpipe.settings import FIREHOSE_ERROR_PREFIX, FIREHOSE_PREFIX

ORDERPIPE = Path(sys.executable).with_name("orderpipe")
REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's
STACK = "clitest"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def endpoint(home: Path, moto_tls: None) -> Iterator[str]:  # noqa: F811
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def env(endpoint: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ORDERPIPE_"))}
    return {
        **keep,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "COLUMNS": "200",
    }


def orderpipe(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(ORDERPIPE), "--target", "aws", "--stack", STACK, *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, (
        f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    return result


def aws(endpoint: str, service: str) -> Any:
    import boto3

    return boto3.client(
        service, endpoint_url=endpoint, region_name=REGION,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip


def bucket(role: str) -> str:
    return f"{STACK}-{role}-{ACCOUNT}-{REGION}"


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    found = document["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def check_stack(endpoint: str) -> None:
    s3 = aws(endpoint, "s3")
    for role in ("raw", "lake", "scripts", "athena-results"):
        name = bucket(role)
        rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][
            0
        ]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        block = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
        assert any(
            s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements(policy)
        )
        rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        assert any("AbortIncompleteMultipartUpload" in r for r in rules)
        assert {"Key": "orderpipe:stack", "Value": STACK} in s3.get_bucket_tagging(Bucket=name)[
            "TagSet"
        ]
    raw_rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket("raw"))["Rules"]
    assert any(
        t["StorageClass"] == "STANDARD_IA" for r in raw_rules for t in r.get("Transitions", [])
    )
    results_rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket("athena-results"))["Rules"]
    assert any(r.get("Expiration", {}).get("Days") == 7 for r in results_rules)

    stream = aws(endpoint, "firehose").describe_delivery_stream(
        DeliveryStreamName=f"{STACK}-orders"
    )
    description = stream["DeliveryStreamDescription"]
    destination = description["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert description["DeliveryStreamType"] == "DirectPut"
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["Prefix"] == FIREHOSE_PREFIX
    assert destination["ErrorOutputPrefix"] == FIREHOSE_ERROR_PREFIX
    assert destination["CloudWatchLoggingOptions"]["Enabled"] is True

    glue = aws(endpoint, "glue")
    job = glue.get_job(JobName=f"{STACK}-transform-order-history")["Job"]
    assert job["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-enable"
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("6.0", "G.1X", 2)
    scripts = s3.list_objects_v2(Bucket=bucket("scripts"))["Contents"]
    assert {o["Key"] for o in scripts} == {
        "glue/transform_order_history.py",
        "glue/orderpipe_job.zip",
        "ec2/orderpipe.tar.gz",
    }
    assert glue.get_database(Name=STACK)["Database"]["Name"] == STACK
    assert glue.get_crawler(Name=f"{STACK}-raw-crawler")["Crawler"]["Targets"]["S3Targets"][0][
        "Path"
    ] == (f"s3://{bucket('raw')}/raw/")

    group = aws(endpoint, "athena").get_work_group(WorkGroup=f"{STACK}-workgroup")["WorkGroup"]
    assert group["Configuration"]["EnforceWorkGroupConfiguration"] is True
    assert group["Configuration"]["BytesScannedCutoffPerQuery"] == 10 * 1024**3
    assert (
        group["Configuration"]["ResultConfiguration"]["OutputLocation"]
        == f"s3://{bucket('athena-results')}/"
    )

    iam = aws(endpoint, "iam")
    for service in ("firehose", "glue", "ec2"):
        role = f"{STACK}-{service}-role"
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for statement in statements(document):
                actions = as_list(statement["Action"])
                assert "*" not in actions and not [a for a in actions if a.endswith(":*")]
                assert as_list(statement["Resource"]) != ["*"] or "Condition" in statement


def leftovers(endpoint: str) -> list[str]:
    left = [b["Name"] for b in aws(endpoint, "s3").list_buckets()["Buckets"]]
    left += [r["RoleName"] for r in aws(endpoint, "iam").list_roles()["Roles"]]
    left += [
        p["InstanceProfileName"]
        for p in aws(endpoint, "iam").list_instance_profiles()["InstanceProfiles"]
    ]
    left += aws(endpoint, "firehose").list_delivery_streams()["DeliveryStreamNames"]
    left += [d["Name"] for d in aws(endpoint, "glue").get_databases()["DatabaseList"]]
    left += aws(endpoint, "glue").list_crawlers()["CrawlerNames"]
    left += aws(endpoint, "glue").list_jobs()["JobNames"]
    left += [g["logGroupName"] for g in aws(endpoint, "logs").describe_log_groups()["logGroups"]]
    left += [
        w["Name"]
        for w in aws(endpoint, "athena").list_work_groups()["WorkGroups"]
        if w["Name"] != "primary"
    ]
    return [name for name in left if STACK in name]


def test_up_status_down_through_the_cli_against_a_moto_server(
    env: dict[str, str], endpoint: str
) -> None:
    dry = orderpipe(env, "up", "--dry-run")
    assert "nothing was changed" in dry.stderr
    for resource in (bucket("raw"), f"{STACK}-glue-role", f"{STACK}-orders", f"{STACK}-workgroup"):
        assert resource in dry.stderr
    assert leftovers(endpoint) == []

    orderpipe(env, "up")
    check_stack(endpoint)

    again = orderpipe(env, "up")
    assert "up to date" in again.stderr

    status = orderpipe(env, "status", "--format", "json")
    report = json.loads(status.stdout)
    assert {row["state"] for row in report["resources"]} == {"ok"}, report["resources"]

    aws(endpoint, "s3").put_object(Bucket=bucket("raw"), Key="raw/year=2026/x.gz", Body=b"data")
    orderpipe(env, "down", "--yes")
    assert leftovers(endpoint) == []
    second = orderpipe(env, "down", "--yes")
    assert "nothing to do" in second.stderr

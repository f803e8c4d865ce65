"""The CLI end to end as a user runs it: `orderpipe --target aws up/status/down` in a subprocess
against a plain moto server (`moto_server`, its own process, nothing patched), checked with plain
boto3 the way one would with the aws CLI. The server speaks plain HTTP, so the stack is built
without the TLS-only bucket policy, and the plan says so."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from moto_stack import STACK, aws, aws_cli, bucket, leftovers

from orderpipe.settings import FIREHOSE_ERROR_PREFIX, FIREHOSE_PREFIX


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
        with pytest.raises(s3.exceptions.ClientError, match="NoSuchBucketPolicy"):
            s3.get_bucket_policy(Bucket=name)  # plain HTTP: a TLS-only policy would deny all
        rules = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
        assert any("AbortIncompleteMultipartUpload" in r for r in rules)
        assert {"Key": "orderpipe:stack", "Value": STACK} in s3.get_bucket_tagging(Bucket=name)[
            "TagSet"
        ]
    raw_rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket("raw"))["Rules"]
    assert any(
        t["StorageClass"] == "STANDARD_IA" for r in raw_rules for t in r.get("Transitions", [])
    )
    lake_rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket("lake"))["Rules"]
    assert [t for r in lake_rules for t in r.get("Transitions", [])] == [
        {"Days": 0, "StorageClass": "INTELLIGENT_TIERING"}
    ]
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
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("6.0", "G.1X", 4)
    assert job["DefaultArguments"]["--enable-auto-scaling"] == "true"
    assert (job["Timeout"], job["ExecutionProperty"]["MaxConcurrentRuns"]) == (60, 1)
    scripts = s3.list_objects_v2(Bucket=bucket("scripts"))["Contents"]
    assert {o["Key"] for o in scripts} == {
        "glue/transform_order_history.py",
        "glue/orderpipe_job.zip",
        "ec2/orderpipe.tar.gz",
        "ec2/launch.json",
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
    ec2_policy = iam.get_role_policy(RoleName=f"{STACK}-ec2-role",
                                     PolicyName=f"{STACK}-ec2-least-privilege")  # fmt: skip
    assert "ssmmessages:OpenDataChannel" in json.dumps(ec2_policy["PolicyDocument"])
    for service in ("firehose", "glue", "ec2"):
        role = f"{STACK}-{service}-role"
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for statement in statements(document):
                actions = as_list(statement["Action"])
                assert "*" not in actions and not [a for a in actions if a.endswith(":*")]
                anywhere = as_list(statement["Resource"]) == ["*"]  # SSM has no resource ARNs
                assert (
                    not anywhere
                    or "Condition" in statement
                    or statement["Sid"].startswith("SessionManager")
                )


def test_up_status_down_through_the_cli_against_a_moto_server(
    env: dict[str, str], endpoint: str
) -> None:
    dry = aws_cli(env, "up", "--dry-run")
    assert "nothing was changed" in dry.stderr
    for resource in (bucket("raw"), f"{STACK}-glue-role", f"{STACK}-orders", f"{STACK}-workgroup",
                     f"{STACK}-generator"):  # fmt: skip
        assert resource in dry.stderr
    assert "no TLS-only policy: the endpoint is plain HTTP" in dry.stderr
    assert leftovers(endpoint) == []

    aws_cli(env, "up")
    check_stack(endpoint)

    # A managed policy attached by hand (say, for debugging) is the owner's: `up` keeps it.
    iam = aws(endpoint, "iam")
    arn = iam.create_policy(PolicyName=f"{STACK}-by-hand", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
    }))["Policy"]["Arn"]  # fmt: skip
    iam.attach_role_policy(RoleName=f"{STACK}-ec2-role", PolicyArn=arn)
    again = aws_cli(env, "up")
    assert "up to date" in again.stderr
    attached = iam.list_attached_role_policies(RoleName=f"{STACK}-ec2-role")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [arn]

    status = aws_cli(env, "status", "--format", "json")
    report = json.loads(status.stdout)
    assert {row["state"] for row in report["resources"]} == {"ok"}, report["resources"]

    aws(endpoint, "s3").put_object(Bucket=bucket("raw"), Key="raw/year=2026/x.gz", Body=b"data")
    aws_cli(env, "down", "--yes")
    assert leftovers(endpoint) == []
    second = aws_cli(env, "down", "--yes")
    assert "nothing to do" in second.stderr


def test_every_aws_option_comes_from_a_flag_the_environment_or_orderpipe_toml(
    env: dict[str, str], endpoint: str, tmp_path: Path
) -> None:
    """Same precedence as the global options: flag > ORDERPIPE_AWS_* > [aws] > default; each
    option is shown by `up --dry-run` with where it came from, and reaches the plan."""
    (tmp_path / "orderpipe.toml").write_text(
        '[aws]\nglue_version = "5.1"\nbuffer_seconds = 300\nalarm_email = "ops@example.com"\n'
    )
    env = {**env, "ORDERPIPE_AWS_BUFFER_SECONDS": "120", "ORDERPIPE_AWS_VERSIONING": "true",
           "COLUMNS": "250"}  # fmt: skip
    dry = aws_cli(env, "up", "--dry-run", "--flex", "--spot", "--glue-workers", "6", cwd=tmp_path)
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:4]]
            for line in dry.stderr.splitlines() if line.startswith("│ --")}  # fmt: skip
    assert rows["--flex"] == ["on", "flag --flex"]
    assert rows["--spot"] == ["on", "flag --spot"]
    assert rows["--glue-workers"] == ["6", "flag --glue-workers"]
    assert rows["--buffer-seconds"] == ["120", "ORDERPIPE_AWS_BUFFER_SECONDS"]
    assert rows["--versioning"] == ["on", "ORDERPIPE_AWS_VERSIONING"]
    assert rows["--glue-version"] == ["5.1", "orderpipe.toml"]
    assert rows["--alarm-email"] == ["ops@example.com", "orderpipe.toml"]
    assert rows["--kms-key"] == ["—", "default"]
    for planned in ("Glue 5.1, Flex, auto scaling up to 6 G.1X", "an object every 5 MiB or 120s",
                    "generator on Spot", "sns.subscribe", "s3.put_bucket_versioning",
                    "lake-to-intelligent-tiering"):  # fmt: skip
        assert planned in dry.stderr, planned

    bad = aws_cli({**env, "ORDERPIPE_AWS_BUFFER_SECONDS": "901"}, "up", "--dry-run", code=2,
                  cwd=tmp_path)  # fmt: skip
    assert "--buffer-seconds 901 must be between 0 and 900" in bad.stderr
    assert "(from ORDERPIPE_AWS_BUFFER_SECONDS)" in bad.stderr

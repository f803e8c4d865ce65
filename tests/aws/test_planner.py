"""The aws planner on plans as data: no AWS, no moto — a stand-in reader reports what exists."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orderpipe.errors import NotReadyError, UsageError
from orderpipe.settings import FIREHOSE_ERROR_PREFIX, FIREHOSE_PREFIX, Settings
from orderpipe.targets.aws.options import AwsOptions
from orderpipe.targets.aws.planner import (
    EMPTY_BUCKET,
    WAIT_STREAM_DELETED,
    WAIT_TERMINATED,
    Planner,
)
from orderpipe.targets.aws.resources import LAUNCH_KEY, PACKAGE_KEY, SCRIPT_KEY, Artifact, StackSpec
from orderpipe.targets.aws.teardown import Teardown
from orderpipe.targets.base import Action

ACCOUNT = "111122223333"


class StateReader:
    """Answers the planner's reads from a dict: what is not in it does not exist."""

    def __init__(self, spec: StackSpec, **state: Any) -> None:
        self.spec = spec
        self.state = state

    def __getattr__(self, name: str) -> Any:
        if name in {"instances", "security_groups"}:
            return lambda: self.state.get(name, [])

        def read(*args: Any) -> Any:
            value = self.state.get(name)
            return value(*args) if callable(value) else value

        return read

    def bucket_exists(self, role: str) -> bool:
        return self.state.get("bucket") is not None


def artifacts() -> list[Artifact]:
    return [
        Artifact(SCRIPT_KEY, b"print('job')", "text/x-python"),
        Artifact(PACKAGE_KEY, b"PK-package", "application/zip"),
    ]


def spec_for(region: str = "eu-west-1", **options: Any) -> StackSpec:
    return StackSpec(Settings(stack="shop"), ACCOUNT, region, "aws", AwsOptions(**options))


def plan_on_empty_account(**options: Any) -> list[Action]:
    spec = spec_for(**options)
    return Planner(StateReader(spec), artifacts).plan()  # type: ignore[arg-type]


def calls(plan: list[Action], api: str) -> list[dict[str, Any]]:
    return [a.kwargs for a in plan if a.api == api]


def test_empty_account_plan_lists_every_resource() -> None:
    plan = plan_on_empty_account()
    created = {a.api for a in plan if a.verb == "create"}
    assert created == {
        "s3.create_bucket",
        "iam.create_role",
        "iam.create_instance_profile",
        "logs.create_log_group",
        "logs.create_log_stream",
        "firehose.create_delivery_stream",
        "glue.create_database",
        "glue.create_table",
        "glue.create_crawler",
        "glue.create_job",
        "athena.create_work_group",
    }
    assert [c["Bucket"] for c in calls(plan, "s3.create_bucket")] == [
        f"shop-{role}-{ACCOUNT}-eu-west-1" for role in ("raw", "lake", "scripts", "athena-results")
    ]
    assert [c["RoleName"] for c in calls(plan, "iam.create_role")] == [
        "shop-firehose-role",
        "shop-glue-role",
        "shop-ec2-role",
    ]
    assert {c["TableInput"]["Name"] for c in calls(plan, "glue.create_table")} == {
        "transformed_orders",
        "quarantined_orders",
    }
    assert {c["Key"] for c in calls(plan, "s3.put_object")} == {SCRIPT_KEY, PACKAGE_KEY, LAUNCH_KEY}
    assert not [a for a in plan if a.api.startswith(("sns.", "cloudwatch.", "events."))]
    # dependency order: what a step uses is made before it
    order = [a.api for a in plan]
    assert order.index("iam.create_role") < order.index("firehose.create_delivery_stream")
    assert order.index("logs.create_log_stream") < order.index("firehose.create_delivery_stream")
    assert order.index("s3.put_object") < order.index("glue.create_job")
    assert order.index("glue.create_database") < order.index("glue.create_table")


def test_every_bucket_is_private_encrypted_tls_only_tagged_with_lifecycle() -> None:
    plan = plan_on_empty_account()
    for bucket in [c["Bucket"] for c in calls(plan, "s3.create_bucket")]:
        mine = [a.kwargs for a in plan if a.kwargs.get("Bucket") == bucket]
        apis = {a.api for a in plan if a.kwargs.get("Bucket") == bucket}
        assert {
            "s3.put_public_access_block",
            "s3.put_bucket_encryption",
            "s3.put_bucket_policy",
            "s3.put_bucket_lifecycle_configuration",
            "s3.put_bucket_tagging",
        } <= apis
        policy = json.loads(next(k["Policy"] for k in mine if "Policy" in k))
        (deny,) = policy["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert f"arn:aws:s3:::{bucket}/*" in deny["Resource"]
        tags = next(k["Tagging"]["TagSet"] for k in mine if "Tagging" in k)
        assert {"Key": "orderpipe:stack", "Value": "shop"} in tags
    lifecycle = {
        c["Bucket"].split("-")[1]: c["LifecycleConfiguration"]["Rules"]
        for c in calls(plan, "s3.put_bucket_lifecycle_configuration")
    }
    raw_rule = next(r for r in lifecycle["raw"] if r.get("Transitions"))
    assert [t["StorageClass"] for t in raw_rule["Transitions"]] == ["STANDARD_IA", "GLACIER_IR"]
    assert any(r.get("Expiration", {}).get("Days") == 7 for r in lifecycle["athena"])
    assert all(
        any("AbortIncompleteMultipartUpload" in r for r in rules) for rules in lifecycle.values()
    )


def test_us_east_1_buckets_take_no_location_constraint() -> None:
    spec = spec_for("us-east-1")
    plan = Planner(StateReader(spec), artifacts).plan()  # type: ignore[arg-type]
    assert all("CreateBucketConfiguration" not in c for c in calls(plan, "s3.create_bucket"))
    elsewhere = calls(plan_on_empty_account(), "s3.create_bucket")
    assert all(
        c["CreateBucketConfiguration"] == {"LocationConstraint": "eu-west-1"} for c in elsewhere
    )


def test_iam_is_least_privilege_on_the_stacks_own_arns() -> None:
    plan = plan_on_empty_account(alarm_email="ops@example.com")
    documents = [json.loads(c["PolicyDocument"]) for c in calls(plan, "iam.put_role_policy")]
    assert len(documents) == 3
    for document in documents:
        for statement in document["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            resources = (
                statement["Resource"]
                if isinstance(statement["Resource"], list)
                else [statement["Resource"]]
            )
            assert statement["Effect"] == "Allow"
            assert not [a for a in actions if a == "*" or a.endswith(":*")], statement
            if resources == ["*"]:  # only actions without resource-level permissions
                if statement["Sid"] == "SessionManagerInstance":  # SSM: no resource-level ARNs
                    assert {a.split(":")[0] for a in actions} == {"ssm", "ssmmessages",
                                                                 "ec2messages"}  # fmt: skip
                    continue
                assert actions == ["cloudwatch:PutMetricData"] and "Condition" in statement
            else:
                assert all(r.startswith(("arn:aws:s3:::shop-", f"arn:aws:logs:eu-west-1:{ACCOUNT}:",
                                         f"arn:aws:glue:eu-west-1:{ACCOUNT}:",
                                         f"arn:aws:firehose:eu-west-1:{ACCOUNT}:deliverystream/shop-"))
                           for r in resources), resources  # fmt: skip
    trusts = {
        c["RoleName"]: json.loads(c["AssumeRolePolicyDocument"])
        for c in calls(plan, "iam.create_role")
    }
    assert trusts["shop-firehose-role"]["Statement"][0]["Condition"] == {
        "StringEquals": {"sts:ExternalId": ACCOUNT}
    }
    assert trusts["shop-glue-role"]["Statement"][0]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT}
    }
    assert not calls(plan, "iam.attach_role_policy")


def test_a_kms_key_encrypts_buckets_and_results_and_lets_each_role_use_it_through_s3() -> None:
    key = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    plan = plan_on_empty_account(kms_key=key)
    for call in calls(plan, "s3.put_bucket_encryption"):
        (rule,) = call["ServerSideEncryptionConfiguration"]["Rules"]
        assert rule["ApplyServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}  # fmt: skip
    for call in calls(plan, "iam.put_role_policy"):
        (statement,) = [s for s in json.loads(call["PolicyDocument"])["Statement"]
                        if s["Sid"] == "BucketKey"]  # fmt: skip
        assert statement["Resource"] == key
        assert statement["Condition"]["StringEquals"] == {
            "kms:ViaService": "s3.eu-west-1.amazonaws.com"}  # fmt: skip
    (group,) = calls(plan, "athena.create_work_group")
    assert group["Configuration"]["ResultConfiguration"]["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS", "KmsKey": key}  # fmt: skip


def test_firehose_delivers_gzip_to_timestamp_prefixes_with_error_prefix_and_logging() -> None:
    (stream,) = calls(
        plan_on_empty_account(buffer_mb=8, buffer_seconds=120), "firehose.create_delivery_stream"
    )
    destination = stream["ExtendedS3DestinationConfiguration"]
    assert stream["DeliveryStreamType"] == "DirectPut"
    assert destination["CompressionFormat"] == "GZIP"
    assert destination["Prefix"] == FIREHOSE_PREFIX
    assert destination["ErrorOutputPrefix"] == FIREHOSE_ERROR_PREFIX
    assert destination["BufferingHints"] == {"SizeInMBs": 8, "IntervalInSeconds": 120}
    assert destination["CloudWatchLoggingOptions"] == {
        "Enabled": True,
        "LogGroupName": "/aws/kinesisfirehose/shop-orders",
        "LogStreamName": "S3Delivery",
    }
    assert destination["RoleARN"] == f"arn:aws:iam::{ACCOUNT}:role/shop-firehose-role"


def test_glue_job_defaults_and_options() -> None:
    (job,) = calls(plan_on_empty_account(), "glue.create_job")
    assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"]) == ("6.0", "G.1X", 4)
    assert job["ExecutionClass"] == "STANDARD"
    assert (job["Timeout"], job["ExecutionProperty"]) == (60, {"MaxConcurrentRuns": 1})
    args = job["DefaultArguments"]
    assert args["--job-bookmark-option"] == "job-bookmark-enable"
    assert args["--enable-metrics"] == "true"
    assert args["--enable-auto-scaling"] == "true"  # NumberOfWorkers is then the maximum
    assert "--enable-continuous-cloudwatch-log" not in args  # does nothing on Glue 5.0+
    assert args["--aws_region"] == "eu-west-1"
    assert args["--extra-py-files"] == f"s3://shop-scripts-{ACCOUNT}-eu-west-1/{PACKAGE_KEY}"
    assert args["--database"] == "shop"
    assert args["--fx_rate"] == "0.012"
    (flex,) = calls(plan_on_empty_account(glue_version="5.1", flex=True), "glue.create_job")
    assert (flex["GlueVersion"], flex["ExecutionClass"]) == ("5.1", "FLEX")


def test_workgroup_enforces_results_location_encryption_and_scan_cutoff() -> None:
    (group,) = calls(plan_on_empty_account(scan_cutoff_gb=2), "athena.create_work_group")
    config = group["Configuration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert config["BytesScannedCutoffPerQuery"] == 2 * 1024**3
    assert config["ResultConfiguration"] == {
        "OutputLocation": f"s3://shop-athena-results-{ACCOUNT}-eu-west-1/",
        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
    }


def test_alarm_email_adds_topic_subscription_alarm_and_glue_failure_rule() -> None:
    plan = plan_on_empty_account(alarm_email="ops@example.com")
    assert calls(plan, "sns.subscribe") == [
        {"TopicArn": f"arn:aws:sns:eu-west-1:{ACCOUNT}:shop-alarms", "Protocol": "email",
         "Endpoint": "ops@example.com"}
    ]  # fmt: skip
    (alarm,) = calls(plan, "cloudwatch.put_metric_alarm")
    assert (alarm["MetricName"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "DeliveryToS3.Success",
        "LessThanThreshold",
        1.0,
    )
    (rule,) = calls(plan, "events.put_rule")
    pattern = json.loads(rule["EventPattern"])
    assert pattern["detail"] == {"jobName": ["shop-transform-order-history"],
                                 "state": ["FAILED", "TIMEOUT", "ERROR"]}  # fmt: skip
    topic_policy = json.loads(calls(plan, "sns.create_topic")[0]["Attributes"]["Policy"])
    events = next(
        s
        for s in topic_policy["Statement"]
        if s["Principal"] == {"Service": "events.amazonaws.com"}
    )
    assert events["Condition"]["ArnEquals"]["aws:SourceArn"].endswith(":rule/shop-glue-job-failed")


@pytest.mark.parametrize(
    "options",
    [
        {"glue_version": "4.0"},
        {"scan_cutoff_gb": 0},
        {"buffer_mb": 0},
        {"alarm_email": "x"},
        {"buffer_seconds": 901},
        {"kms_key": "alias/mine"},
        {"glue_workers": 1},
    ],
)
def test_impossible_options_are_usage_errors(options: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        AwsOptions(**options)


def test_artifacts_upload_only_when_their_content_changed() -> None:
    spec = spec_for()
    stored = {SCRIPT_KEY: artifacts()[0].sha256, PACKAGE_KEY: "an older package"}
    reader = StateReader(spec, object_sha256=lambda role, key: stored.get(key))
    uploads = Planner(reader, artifacts).uploads()  # type: ignore[arg-type]
    assert [(a.kwargs["Key"], a.reason) for a in uploads] == [(PACKAGE_KEY, "content changed")]
    assert uploads[0].kwargs["Metadata"] == {"sha256": artifacts()[1].sha256}


def test_existing_bucket_with_drift_gets_only_the_missing_settings() -> None:
    spec = spec_for()
    current = {
        "public_access_block": spec.public_access_block,
        "encryption": {
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
        "policy": spec.bucket_policy("lake"),
        "lifecycle": [{"ID": "old-rule", "Status": "Enabled", "Filter": {"Prefix": ""}}],
        "tags": {"team": "data"},
        "versioning": None,
    }
    steps = Planner(StateReader(spec, bucket=current), artifacts).bucket("lake")  # type: ignore[arg-type]
    assert [a.api for a in steps] == [
        "s3.put_bucket_lifecycle_configuration",
        "s3.put_bucket_tagging",
    ]
    assert {"Key": "team", "Value": "data"} in steps[1].kwargs["Tagging"][
        "TagSet"
    ]  # others' tags kept


def test_the_generator_group_is_made_in_the_default_vpc_and_kept_tagged_without_inbound() -> None:
    spec = spec_for()
    made = Planner(StateReader(spec, default_vpc="vpc-1"), artifacts).security_group()  # type: ignore[arg-type]
    assert [(a.api, a.kwargs["VpcId"], a.kwargs["GroupName"]) for a in made] == [
        ("ec2.create_security_group", "vpc-1", "shop-generator")
    ]
    opened = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22}
    found = {"GroupId": "sg-1", "IpPermissions": [opened], "Tags": []}  # changed by hand
    reader = StateReader(spec, default_vpc="vpc-1", security_group=found)
    mend = Planner(reader, artifacts).security_group()  # type: ignore[arg-type]
    assert [(a.api, a.kwargs) for a in mend] == [
        ("ec2.revoke_security_group_ingress", {"GroupId": "sg-1", "IpPermissions": [opened]}),
        (
            "ec2.create_tags",
            {"Resources": ["sg-1"], "Tags": [{"Key": "orderpipe:stack", "Value": "shop"}]},
        ),
    ]
    assert Planner(StateReader(spec), artifacts).security_group() == []  # type: ignore[arg-type]


def test_a_stream_still_being_deleted_asks_to_wait() -> None:
    spec = spec_for()
    reader = StateReader(spec, stream={"status": "DELETING"})
    with pytest.raises(NotReadyError, match="still being deleted"):
        Planner(reader, artifacts).stream()  # type: ignore[arg-type]


def _everything(spec: StackSpec) -> StateReader:
    role = {"name": "", "policies": {"p": {}}, "managed": [], "instance_profiles": []}
    return StateReader(
        spec,
        instances=[{"InstanceId": "i-1"}],
        security_groups=[{"GroupId": "sg-1", "GroupName": "shop-generator"}],
        rule={"targets": {"alarm-topic": "arn"}},
        alarm={},
        topic={},
        workgroup={},
        crawler={"State": "RUNNING"},
        job={},
        database={},
        stream={"status": "ACTIVE"},
        log_group={},
        instance_profile={"roles": ["shop-ec2-role"]},
        role=lambda service: {**role, "name": f"shop-{service}-role"},
        bucket={},
    )


def test_down_deletes_in_dependency_order_and_empties_buckets_first() -> None:
    plan = Teardown(_everything(spec_for())).plan(keep_data=False)  # type: ignore[arg-type]
    order = [a.api for a in plan]
    assert order.index(WAIT_TERMINATED) < order.index("ec2.delete_security_group")
    assert order.index("ec2.terminate_instances") < order.index("iam.delete_instance_profile")
    assert order.index("glue.stop_crawler") < order.index("glue.delete_crawler")
    assert order.index("glue.delete_crawler") < order.index("iam.delete_role")
    assert order.index(WAIT_STREAM_DELETED) < order.index("logs.delete_log_group")
    assert order.index("iam.remove_role_from_instance_profile") < order.index("iam.delete_role")
    assert order.index("events.remove_targets") < order.index("events.delete_rule")
    for bucket in {a.kwargs["Bucket"] for a in plan if a.api == "s3.delete_bucket"}:
        assert order.index(EMPTY_BUCKET) < order.index("s3.delete_bucket")
        assert [a.api for a in plan if a.kwargs.get("Bucket") == bucket] == [
            EMPTY_BUCKET,
            "s3.delete_bucket",
        ]
    assert len(calls(plan, "s3.delete_bucket")) == 4
    assert len(calls(plan, "iam.delete_role")) == 3


def test_down_keep_data_keeps_buckets_and_removes_the_rest() -> None:
    plan = Teardown(_everything(spec_for())).plan(keep_data=True)  # type: ignore[arg-type]
    assert not [a for a in plan if a.api.startswith("s3.")]
    assert [a.verb for a in plan if a.resource.startswith("bucket ")] == ["keep"] * 4
    assert calls(plan, "glue.delete_database") and calls(plan, "iam.delete_role")
    nothing_else = StateReader(spec_for(), bucket={})
    assert Teardown(nothing_else).plan(keep_data=True) == []  # type: ignore[arg-type]

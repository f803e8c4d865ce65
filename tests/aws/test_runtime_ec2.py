"""The EC2 generator: launch (locked down, user-data that installs a correctly configured Kinesis
Agent), reuse, stop."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import shutil
import subprocess

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from orderpipe.errors import OrderpipeError
from orderpipe.settings import Settings, StackNames
from orderpipe.targets.aws.ec2 import (
    AGENT_KEYS,
    AMI_PARAMETER,
    FIREHOSE_FLOW_KEYS,
    FIREHOSE_FLOW_RANGES,
    ensure_security_group,
    launch_generator,
    recorded_launch_settings,
    stop_generator,
)
from orderpipe.targets.aws.executor import Executor
from orderpipe.targets.aws.reader import Reader
from orderpipe.targets.aws.resources import StackSpec
from orderpipe.targets.aws.session import AwsSession

NAMES = StackNames("rt")
REGION = "eu-west-1"
SCRIPTS = "rt-scripts-123456789012-eu-west-1"
SPEC = StackSpec(settings=Settings(stack="rt"), account="123456789012", region=REGION)


@pytest.fixture(scope="module")
def account():
    """One moto account for the module (moto's EC2 and SSM catalogues are slow to load), with
    the instance profile `up` makes, created here with plain boto3."""
    with pytest.MonkeyPatch.context() as env, mock_aws():
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.setenv(key, "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        env.delenv("AWS_PROFILE", raising=False)
        iam = boto3.client("iam")
        iam.create_role(RoleName=NAMES.role("ec2"), AssumeRolePolicyDocument="{}")
        iam.create_instance_profile(InstanceProfileName=NAMES.role("ec2"))
        iam.add_role_to_instance_profile(
            InstanceProfileName=NAMES.role("ec2"), RoleName=NAMES.role("ec2")
        )
        yield


@pytest.fixture
def reader(account):
    """Each test starts with no generator running."""
    reader = Reader(AwsSession(region=REGION), SPEC)
    stop_generator(reader, _executor(reader))
    yield reader


def _executor(reader):
    return Executor(reader.session, show=False)


def _launch(reader, **overrides):
    options = {"count": 5000, "rate": 20.0, "seed": 7, **overrides}
    return launch_generator(reader, **options)


def _instance(instance_id: str) -> dict:
    reservations = boto3.client("ec2").describe_instances(InstanceIds=[instance_id])
    return reservations["Reservations"][0]["Instances"][0]


def _user_data(instance_id: str) -> str:
    attribute = boto3.client("ec2").describe_instance_attribute(
        InstanceId=instance_id, Attribute="userData"
    )
    return base64.b64decode(attribute["UserData"]["Value"]).decode()


def _agent_json(user_data: str) -> dict:
    match = re.search(r"<<'ORDERPIPE_AGENT_JSON'\n(.*?)\nORDERPIPE_AGENT_JSON\n", user_data, re.S)
    assert match, "user-data writes no agent.json"
    return json.loads(match.group(1))


def test_the_generator_is_launched_locked_down_from_the_latest_al2023(reader):
    launched = _launch(reader)

    instance = _instance(launched.instance_id)
    ami = boto3.client("ssm").get_parameter(Name=AMI_PARAMETER)["Parameter"]["Value"]
    assert instance["ImageId"] == ami
    assert instance["MetadataOptions"]["HttpTokens"] == "required"  # IMDSv2 only
    assert "KeyName" not in instance  # no SSH key
    assert instance["IamInstanceProfile"]["Arn"].endswith(f"instance-profile/{NAMES.role('ec2')}")
    tags = {t["Key"]: t["Value"] for t in instance["Tags"]}
    assert tags["orderpipe:stack"] == "rt" and tags["orderpipe:role"] == "generator"
    assert tags["orderpipe:count"] == "5000"

    groups = boto3.client("ec2").describe_security_groups(
        GroupIds=[g["GroupId"] for g in instance["SecurityGroups"]]
    )["SecurityGroups"]
    assert [g["GroupName"] for g in groups] == ["rt-generator"]
    assert groups[0]["IpPermissions"] == []  # no inbound rules at all

    assert launched.reused is False
    assert (
        launched.connect
        == f"aws ssm start-session --target {instance['InstanceId']} --region {REGION}"
    )
    assert "journalctl -u orderpipe-generator -f" in launched.follow


def test_the_instance_terminates_itself_when_it_shuts_down(reader):
    launched = _launch(reader, count=36_000, rate=20.0)  # 30 minutes of orders

    behaviour = boto3.client("ec2").describe_instance_attribute(
        InstanceId=launched.instance_id, Attribute="instanceInitiatedShutdownBehavior"
    )
    assert behaviour["InstanceInitiatedShutdownBehavior"]["Value"] == "terminate"
    assert "shutdown -h +90 " in _user_data(launched.instance_id)  # plus an hour
    assert launched.tags["orderpipe:lifetime-minutes"] == "90"


def test_user_data_installs_the_agent_and_runs_the_generator_as_a_service(reader):
    script = _user_data(_launch(reader).instance_id)

    assert script.startswith("#!/bin/bash\n")
    assert "groupadd --system aws-kinesis-agent-user" in script
    assert script.index("groupadd") < script.index("dnf install -y aws-kinesis-agent")
    assert f"s3://{SCRIPTS}/ec2/orderpipe.tar.gz" in script
    assert "'pydantic>=2.7'" in script  # version specifiers quoted, not shell redirections
    exec_start = re.search(r"^ExecStart=(.*)$", script, re.M)
    assert exec_start is not None
    assert exec_start.group(1) == (
        "/opt/orderpipe/bin/orderpipe generate --no-ship --count 5000 --rate 20.0 --seed 7"
    )
    assert "systemctl enable --now orderpipe-generator.service" in script
    assert "{{" not in script
    if shutil.which("bash"):
        check = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
        assert check.returncode == 0, check.stderr


def test_agent_json_uses_only_keys_the_kinesis_agent_accepts(reader):
    config = _agent_json(_user_data(_launch(reader).instance_id))

    assert set(config) <= AGENT_KEYS, set(config) - AGENT_KEYS
    assert config["firehose.endpoint"] == f"https://firehose.{REGION}.amazonaws.com"
    assert config["cloudwatch.endpoint"] == f"https://monitoring.{REGION}.amazonaws.com"
    assert not config["checkpointFile"].startswith("/var/run")  # survives a reboot
    [flow] = config["flows"]
    assert set(flow) <= FIREHOSE_FLOW_KEYS, set(flow) - FIREHOSE_FLOW_KEYS
    assert flow["deliveryStream"] == NAMES.delivery_stream
    assert flow["filePattern"] == "/var/log/orderpipe/orders-*.ndjson"  # the generator's files
    assert flow["initialPosition"] in ("START_OF_FILE", "END_OF_FILE")
    assert 0 < flow["aggregatedRecordSizeBytes"] <= 1000 * 1024
    for key, (low, high) in FIREHOSE_FLOW_RANGES.items():
        if key in flow:
            assert low <= flow[key] <= high, key


def test_a_running_generator_is_reused(reader):
    first = _launch(reader)
    again = _launch(reader, count=10)

    assert again.instance_id == first.instance_id and again.reused is True
    assert again.tags["orderpipe:count"] == "5000"  # it keeps the settings it started with
    running = boto3.client("ec2").describe_instances(
        Filters=[{"Name": "instance-state-name", "Values": ["pending", "running"]}]
    )["Reservations"]
    assert sum(len(r["Instances"]) for r in running) == 1


def test_stop_terminates_the_generator_and_is_safe_to_repeat(reader):
    launched = _launch(reader)

    assert stop_generator(reader, _executor(reader), wait=True) == [launched.instance_id]
    assert _instance(launched.instance_id)["State"]["Name"] == "terminated"
    assert stop_generator(reader, _executor(reader)) == []
    assert _launch(reader).instance_id != launched.instance_id


def test_the_security_group_is_made_once_and_kept_free_of_inbound_rules(reader):
    group_id = ensure_security_group(reader, _executor(reader))
    ec2 = boto3.client("ec2")
    ec2.authorize_security_group_ingress(
        GroupId=group_id,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )

    assert ensure_security_group(reader, _executor(reader)) == group_id
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    assert group["IpPermissions"] == []
    assert group["IpPermissionsEgress"]  # outbound kept: dnf, S3, Firehose


def test_a_profile_still_propagating_is_retried_then_named(reader):
    ec2 = reader.session.client("ec2")
    slept: list[float] = []
    with Stubber(ec2) as stub:
        stub.add_response("describe_instances", {"Reservations": []})
        for _ in range(2):  # generate's look, then the plan's
            stub.add_response("describe_vpcs", {"Vpcs": [{"VpcId": "vpc-1"}]})
        group = {
            "GroupId": "sg-1",
            "GroupName": "x",
            "Tags": [{"Key": "orderpipe:stack", "Value": "rt"}],
        }
        for _ in range(2):  # the plan's look, then the group id
            stub.add_response("describe_security_groups", {"SecurityGroups": [group]})
        for _ in range(3):
            stub.add_client_error(
                "run_instances",
                service_error_code="InvalidParameterValue",
                service_message="Value (rt-ec2-role) for parameter iamInstanceProfile.name is "
                "invalid. Invalid IAM Instance Profile name",
            )
        with pytest.raises(
            OrderpipeError, match=r"rt-ec2-role is not usable.*orderpipe --target aws up"
        ):
            _launch(reader, sleep=slept.append, profile_attempts=3)
    assert slept == [5.0, 5.0]


def test_spot_launches_a_one_time_spot_instance_that_terminates(reader):
    instance = _instance(_launch(reader, spot=True).instance_id)
    assert instance.get("InstanceLifecycle") == "spot"
    stop_generator(reader, _executor(reader))
    assert _instance(_launch(reader).instance_id).get("InstanceLifecycle") is None


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_a_launch_record_that_up_did_not_write_is_one_sentence(reader, body):
    s3 = boto3.client("s3")
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):  # one account per module
        s3.create_bucket(Bucket=SCRIPTS, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=SCRIPTS, Key="ec2/launch.json", Body=body)
    with pytest.raises(OrderpipeError, match=r"ec2/launch\.json is not what `up` writes"):
        recorded_launch_settings(reader.session, SCRIPTS)
    s3.put_object(Bucket=SCRIPTS, Key="ec2/launch.json", Body=b'{"spot": true}')
    assert recorded_launch_settings(reader.session, SCRIPTS) == {"spot": True}

"""`up`, `down` and `status` of the aws target applied to moto in-process.

moto applies a bucket policy's Deny statements without their conditions, so S3 is reached over
plain HTTP here (moto's in-process mock answers http:// as well): the stack is then built as for
an emulator, without the TLS-only policy, exactly as a user with a plain-HTTP endpoint gets it.
The policy itself is checked in test_planner.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto_stack import leftovers

from orderpipe.errors import OrderpipeError
from orderpipe.paths import GLUE_SCRIPT
from orderpipe.settings import Settings
from orderpipe.targets.aws import AwsTarget
from orderpipe.targets.aws.executor import MAX_ATTEMPTS
from orderpipe.targets.aws.resources import PACKAGE_KEY, SCRIPT_KEY, Artifact
from orderpipe.targets.aws.session import AwsSession

REGION = "eu-west-1"


def artifacts(package: bytes = b"PK\x03\x04 job package") -> list[Artifact]:
    return [
        Artifact(SCRIPT_KEY, GLUE_SCRIPT.read_bytes(), "text/x-python"),
        Artifact(PACKAGE_KEY, package, "application/zip"),
    ]


@pytest.fixture(autouse=True)
def plain_http_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://s3.{REGION}.amazonaws.com")


@pytest.fixture
def moto(aws_credentials: None) -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_target(
    stack: str = "shop",
    package: bytes = b"PK\x03\x04 job package",
    session: AwsSession | None = None,
    **options: Any,
) -> AwsTarget:
    return AwsTarget(
        Settings(stack=stack, region=REGION),
        session=session,
        sleep=Sleeps(),
        artifacts=lambda: artifacts(package),
        show_progress=False,
        **options,
    )


def client(service: str) -> Any:
    import boto3

    return boto3.client(service, region_name=REGION)


def test_up_builds_the_stack_and_a_second_up_changes_nothing(moto: None) -> None:
    target = make_target(alarm_email="ops@example.com")
    target.apply(target.plan_up())

    assert target.plan_up() == []
    raw = f"shop-raw-123456789012-{REGION}"
    s3 = client("s3")
    assert s3.get_bucket_tagging(Bucket=raw)["TagSet"] == [
        {"Key": "orderpipe:stack", "Value": "shop"}
    ]
    head = s3.head_object(Bucket=f"shop-scripts-123456789012-{REGION}", Key=SCRIPT_KEY)
    assert head["Metadata"]["sha256"] == artifacts()[0].sha256
    job = client("glue").get_job(JobName="shop-transform-order-history")["Job"]
    assert job["DefaultArguments"]["--job-bookmark-option"] == "job-bookmark-enable"
    table = client("glue").get_table(DatabaseName="shop", Name="transformed_orders")["Table"]
    assert [k["Name"] for k in table["PartitionKeys"]] == ["country_partition", "date_partition"]
    assert "country_partition" not in [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    subscriptions = client("sns").list_subscriptions()["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]
    assert (
        client("events")
        .list_targets_by_rule(Rule="shop-glue-job-failed")["Targets"][0]["Arn"]
        .endswith(":shop-alarms")
    )


def test_up_interrupted_after_any_step_converges_when_run_again(
    aws_credentials: None,
) -> None:
    """Every kind of step (the first of each API call; the other buckets and roles go through
    the same code) is the last one done before the process dies; `up` again must converge."""
    from moto import mock_aws

    session = AwsSession(REGION)  # one botocore session: its clients outlive each mock
    with mock_aws():
        plan = make_target(alarm_email="ops@example.com", session=session).plan_up()
    cuts = sorted(
        {next(i for i, a in enumerate(plan) if a.api == api) for api in {a.api for a in plan}}
    )
    for k in [c + 1 for c in cuts if c + 1 < len(plan)]:
        with mock_aws():
            target = make_target(alarm_email="ops@example.com", session=session)
            target.apply(target.plan_up()[:k])  # the process died after step k

            rest = target.plan_up()
            assert rest, f"nothing left to do after step {k} of {len(plan)}"
            target.apply(rest)
            assert target.plan_up() == [], f"not converged after an interruption at step {k}"


def test_changed_options_and_content_update_in_place(moto: None) -> None:
    first = make_target()
    first.apply(first.plan_up())

    changed = make_target(package=b"PK new package", buffer_seconds=300)
    plan = changed.plan_up()
    assert [(a.verb, a.api, a.reason) for a in plan] == [
        ("update", "firehose.update_destination", "changed: BufferingHints"),
        ("upload", "s3.put_object", "content changed"),
    ]
    changed.apply(plan)
    assert changed.plan_up() == []
    # moto 5.2.5 has no UpdateJob: the job's update is checked as a plan only
    job_plan = make_target(
        package=b"PK new package", buffer_seconds=300, glue_version="5.1", flex=True
    ).plan_up()
    (update,) = job_plan
    assert (
        update.api == "glue.update_job" and update.reason == "changed: GlueVersion, ExecutionClass"
    )
    assert update.kwargs["JobUpdate"]["NumberOfWorkers"] == 4  # UpdateJob replaces the whole job


def test_fresh_role_refused_by_firehose_is_retried_within_a_bound(moto: None) -> None:
    target = make_target()
    refusals = {"left": 2}

    def refuse(**_: Any) -> Any:
        if refusals["left"]:
            refusals["left"] -= 1
            return _error(
                400, "InvalidArgumentException", "Firehose is unable to assume role arn:aws:iam::x"
            )
        return None

    target.session.client("firehose").meta.events.register(
        "before-call.firehose.CreateDeliveryStream", refuse
    )
    target.apply(target.plan_up())

    assert target.sleep == [1.0, 2.0]
    assert client("firehose").list_delivery_streams()["DeliveryStreamNames"] == ["shop-orders"]


def test_a_role_that_never_propagates_fails_with_the_reason(moto: None) -> None:
    target = make_target()
    target.session.client("glue").meta.events.register(
        "before-call.glue.CreateJob",
        lambda **_: _error(
            400, "InvalidInputException", "Service is unable to assume provided role"
        ),
    )
    with pytest.raises(OrderpipeError, match="InvalidInputException: Service is unable to assume"):
        target.apply(target.plan_up())
    assert len(target.sleep) == MAX_ATTEMPTS - 1
    assert sum(target.sleep) < 120


def test_access_denied_names_the_action_and_the_resource(moto: None) -> None:
    target = make_target()
    target.session.client("s3").meta.events.register(
        "before-call.s3.CreateBucket", lambda **_: _error(403, "AccessDenied", "Access Denied")
    )
    with pytest.raises(OrderpipeError) as caught:
        target.apply(target.plan_up())
    assert str(caught.value).startswith(
        f"AWS denied s3:CreateBucket on bucket shop-raw-123456789012-{REGION}"
    )


def test_down_removes_everything_including_versions_and_a_second_down_has_nothing(
    moto: None,
) -> None:
    target = make_target(versioning=True, alarm_email="ops@example.com")
    target.apply(target.plan_up())
    s3 = client("s3")
    raw = f"shop-raw-123456789012-{REGION}"
    for body in (b"one", b"two"):
        s3.put_object(Bucket=raw, Key="raw/year=2026/a.gz", Body=body)
    s3.delete_object(Bucket=raw, Key="raw/year=2026/a.gz")  # a delete marker on top
    s3.create_multipart_upload(Bucket=raw, Key="raw/unfinished.gz")
    ec2 = client("ec2")
    (made,) = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["shop-generator"]}]
    )["SecurityGroups"]  # `up` made the generator's group
    group = made["GroupId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ec2.run_instances(
        ImageId=image, MinCount=1, MaxCount=1, SecurityGroupIds=[group],
        TagSpecifications=[{"ResourceType": "instance",
                            "Tags": [{"Key": "orderpipe:stack", "Value": "shop"}]}],
    )  # fmt: skip

    plan = target.plan_down(keep_data=False)
    assert plan[0].api == "ec2.terminate_instances"
    target.apply(plan)

    assert leftovers(None, "shop") == []
    assert (
        ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": [group]}])[
            "SecurityGroups"
        ]
        == []
    )
    assert target.plan_down(keep_data=False) == []
    target.apply(target.plan_down(keep_data=False))


def test_the_generator_security_group_is_planned_made_by_up_and_removed_by_down(
    moto: None,
) -> None:
    target = make_target()
    ec2 = client("ec2")
    [vpc] = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
    [step] = [a for a in target.plan_up() if a.resource == "security group shop-generator"]
    assert (step.verb, step.api) == ("create", "ec2.create_security_group")  # `up --dry-run`

    target.apply(target.plan_up())
    (group,) = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["shop-generator"]}]
    )["SecurityGroups"]
    assert group["VpcId"] == vpc["VpcId"]
    assert {"Key": "orderpipe:stack", "Value": "shop"} in group["Tags"]
    assert group["IpPermissions"] == []
    ec2.authorize_security_group_ingress(
        GroupId=group["GroupId"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )  # fmt: skip
    [mend] = target.plan_up()  # an inbound rule added by hand is drift
    assert mend.api == "ec2.revoke_security_group_ingress"
    [row] = [r for r in target.status().resources if r.kind == "security group"]
    assert (row.name, row.state) == ("shop-generator", "drift: revoke_security_group_ingress")
    target.apply([mend])
    assert target.plan_up() == []

    target.apply(target.plan_down(keep_data=False))
    left = ec2.describe_security_groups(
        Filters=[{"Name": "group-id", "Values": [group["GroupId"]]}]
    )
    assert left["SecurityGroups"] == []


def test_down_keep_data_keeps_buckets_with_their_objects(moto: None) -> None:
    target = make_target()
    target.apply(target.plan_up())
    lake = f"shop-lake-123456789012-{REGION}"
    client("s3").put_object(Bucket=lake, Key="transformed_orders/part-0.parquet", Body=b"x")

    target.apply(target.plan_down(keep_data=True))

    left = leftovers(None, "shop")
    assert sorted(left) == sorted(
        f"shop-{r}-123456789012-{REGION}" for r in ("raw", "lake", "scripts", "athena-results")
    )
    assert client("s3").list_objects_v2(Bucket=lake)["KeyCount"] == 1
    assert target.plan_down(keep_data=True) == []
    # and `up` again rebuilds around the kept data
    target.apply(target.plan_up())
    assert target.plan_up() == []


def test_status_lists_every_resource_with_state_and_settings(moto: None) -> None:
    target = make_target()
    before = target.status()
    assert {r.state for r in before.resources} == {"missing"}
    assert before.message and "run `orderpipe --target aws up`" in before.message

    target.apply(target.plan_up())
    report = target.status()
    assert (report.target, report.stack, report.region) == ("aws", "shop", REGION)
    by_kind = {}
    for row in report.resources:
        by_kind.setdefault(row.kind, []).append(row.to_json())
    assert all(r.state == "ok" for r in report.resources), report.resources
    assert len(by_kind["bucket"]) == 4 and len(by_kind["iam role"]) == 3
    assert by_kind["bucket"][0]["settings"]["tls_only"] is False  # plain HTTP: see the top
    assert by_kind["glue job"][0]["settings"]["glue_version"] == "6.0"
    assert by_kind["athena workgroup"][0]["settings"]["scan_cutoff_bytes"] == 10 * 1024**3

    # A TLS-only policy put by hand would lock a plain-HTTP client out: it is drift.
    raw = f"shop-raw-123456789012-{REGION}"
    tls_only = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:GetBucketTagging",
        "Resource": f"arn:aws:s3:::{raw}", "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }]}  # fmt: skip
    client("s3").put_bucket_policy(Bucket=raw, Policy=json.dumps(tls_only))
    drifted = [r for r in target.status().resources if r.state != "ok"]
    assert [(r.name, r.state) for r in drifted] == [(raw, "drift: delete_bucket_policy")]


def _error(status: int, code: str, message: str) -> Any:
    """A response as AWS would send it, for botocore's before-call hook to return."""
    from botocore.awsrequest import AWSResponse

    return AWSResponse("https://aws", status, {}, None), {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


def test_up_spot_makes_generate_launch_the_generator_on_spot(moto: None) -> None:
    """`up --spot` is recorded in the scripts bucket; a later `generate` (which has no --spot
    of its own) launches what `up` was told."""
    target = make_target(spot=True)
    target.apply(target.plan_up())
    later = make_target()  # another command, without the flag
    later._refresh_job_artifacts()  # as `transform run` does: the job's files only
    launched = later.generate_remotely(count=100, rate=None, seed=1, requested=None)
    assert launched is not None
    (reservation,) = client("ec2").describe_instances(InstanceIds=[launched.instance_id])[
        "Reservations"
    ]
    assert reservation["Instances"][0].get("InstanceLifecycle") == "spot"

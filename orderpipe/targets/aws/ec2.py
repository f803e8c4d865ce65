"""The stack's generator instance: Amazon Linux 2023, the Kinesis Agent, `orderpipe generate`.

One instance per stack, found by its tags, so `generate` reuses a running one and `generate
--stop` / `down` find it from any machine. It is locked down — IMDSv2 only, no SSH key, a
security group with no inbound rules (reach it through SSM Session Manager) — and it bounds its
own cost: it shuts itself down after its lifetime (an hour beyond the time `--count` at `--rate`
takes) and shutting down terminates it.
"""

from __future__ import annotations

import json
import math
import re
import shlex
import time
import uuid
from collections.abc import Callable
from typing import Any

from orderpipe.errors import OrderpipeError
from orderpipe.paths import TEMPLATES
from orderpipe.results import RemoteGenerator
from orderpipe.settings import StackNames
from orderpipe.targets.aws.executor import Executor
from orderpipe.targets.aws.planner import Planner
from orderpipe.targets.aws.reader import STOPPABLE_STATES, Reader
from orderpipe.targets.aws.resources import GENERATOR_KEY, GENERATOR_ROLE, LAUNCH_KEY, ROLE_TAG
from orderpipe.targets.aws.session import RAISE, AwsSession
from orderpipe.targets.aws.teardown import terminate

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
LIVE_STATES = ("pending", "running")
LOG_DIR = "/var/log/orderpipe"
NOT_YET = "not yet"

# What `orderpipe generate --no-ship` imports (boto3, pyspark, duckdb stay off the instance).
GENERATOR_PACKAGES = (
    "typer>=0.12",
    "rich>=13",
    "pydantic>=2.7",
    "pydantic-settings>=2.3",
    "faker>=25",
)
USER_DATA_LIMIT = 16 * 1024  # bytes, before base64
# One-time Spot: if AWS reclaims it, it terminates (its lifetime shutdown does too).
SPOT = {
    "InstanceMarketOptions": {
        "MarketType": "spot",
        "SpotOptions": {
            "SpotInstanceType": "one-time",
            "InstanceInterruptionBehavior": "terminate",
        },
    }
}

# Keys the Kinesis Agent reads from /etc/aws-kinesis/agent.json (awslabs/amazon-kinesis-agent:
# config/AgentConfiguration.java, tailing/FileFlow.java + FirehoseFileFlow.java, and the Firehose
# developer guide's "Agent Configuration Settings"). The agent ignores unknown keys silently, so a
# misspelt key would be a setting that never applies: tests check the rendered file against these.
AGENT_KEYS = frozenset(
    {
        "assumeRoleARN",
        "assumeRoleExternalId",
        "awsAccessKeyId",
        "awsSecretAccessKey",
        "checkpointFile",
        "checkpointTimeToLiveDays",
        "cloudwatch.emitMetrics",
        "cloudwatch.endpoint",
        "cloudwatch.metricsBufferTimeMillis",
        "cloudwatch.metricsQueueSize",
        "cloudwatch.namespace",
        "cloudwatch.tagInstance",
        "connectionTimeoutMillis",
        "connectionTTLMillis",
        "firehose.endpoint",
        "kinesis.endpoint",
        "kinesis.region",
        "log.emitInternalMetrics",
        "log.emitMetrics",
        "log.statusReportingPeriodSeconds",
        "maxConnections",
        "maxSendingThreads",
        "maxSendingThreadsPerCore",
        "sendingThreadsKeepAliveMillis",
        "sendingThreadsMaxQueueSize",
        "shutdownTimeoutMillis",
        "socketTimeoutMillis",
        "sts.endpoint",
        "useHttpGzip",
        "useTcpKeepAlive",
        "userDefinedCredentialsProvider.classname",
        "userDefinedCredentialsProvider.location",
        "flows",
    }
)
FIREHOSE_FLOW_KEYS = frozenset(
    {
        "filePattern",
        "deliveryStream",
        "aggregatedRecordSizeBytes",
        "dataProcessingOptions",
        "fileFooterPattern",
        "initialPosition",
        "log.emitInternalMetrics",
        "maxBufferAgeMillis",
        "maxBufferSizeBytes",
        "maxBufferSizeRecords",
        "maxTimeBetweenFileTrackerRefreshMillis",
        "minTimeBetweenFilePollsMillis",
        "multiLineStartPattern",
        "publishQueueCapacity",
        "retryInitialBackoffMillis",
        "retryMaxBackoffMillis",
        "skipHeaderLines",
        "truncatedRecordTerminator",
        "waitOnEmptyPublishQueueMillis",
        "waitOnFullPublishQueueMillis",
    }
)
# The ranges FirehoseFileFlow validates (the agent refuses to start outside them).
FIREHOSE_FLOW_RANGES = {
    "maxBufferAgeMillis": (1_000, 900_000),
    "maxBufferSizeRecords": (1, 500),
    "maxBufferSizeBytes": (1, 4 * 1024 * 1024),
}

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def _fill(template: str, values: dict[str, str]) -> str:
    """Replace each `{{name}}`; a placeholder without a value is a bug, not a blank."""

    def value(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise KeyError(f"no value for template placeholder {match.group(0)}")
        return values[match.group(1)]

    return _PLACEHOLDER.sub(value, template)


def _endpoint(service: str, region: str) -> str:
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{service}.{region}.{suffix}"


def render_agent_config(
    names: StackNames, region: str, *, file_pattern: str = f"{LOG_DIR}/orders-*.ndjson"
) -> dict[str, Any]:
    """templates/agent.json with the stack's values (filled inside JSON strings only)."""

    def fill(node: Any) -> Any:
        if isinstance(node, str):
            return _fill(node, values)
        if isinstance(node, list):
            return [fill(item) for item in node]
        if isinstance(node, dict):
            return {key: fill(item) for key, item in node.items()}
        return node

    values = {
        "firehose_endpoint": _endpoint("firehose", region),
        "cloudwatch_endpoint": _endpoint("monitoring", region),
        "delivery_stream": names.delivery_stream,
        "file_pattern": file_pattern,
    }
    config: dict[str, Any] = fill(json.loads((TEMPLATES / "agent.json").read_text("utf-8")))
    return config


def lifetime_minutes(count: int, rate: float | None) -> int:
    """How long the instance lives: the generation time plus an hour to install, let the agent
    drain, and look around."""
    generating = math.ceil(count / rate / 60) if rate else 0
    return 60 + generating


def render_user_data(
    names: StackNames,
    region: str,
    *,
    count: int,
    rate: float | None,
    seed: int | None,
    scripts_bucket: str,
    lifetime: int | None = None,
) -> str:
    """templates/user_data.sh with the stack's values, every shell value quoted; `lifetime`
    in minutes (default: lifetime_minutes(count, rate))."""
    generate = ["generate", "--no-ship", "--count", str(int(count))]
    if rate is not None:
        generate += ["--rate", repr(float(rate))]
    if seed is not None:
        generate += ["--seed", str(int(seed))]
    agent = json.dumps(render_agent_config(names, region), indent=2)
    script = _fill(
        (TEMPLATES / "user_data.sh").read_text("utf-8"),
        {
            "stack": shlex.quote(names.stack),
            "region": shlex.quote(region),
            "generator_url": shlex.quote(f"s3://{scripts_bucket}/{GENERATOR_KEY}"),
            "lifetime_minutes": str(int(lifetime or lifetime_minutes(count, rate))),
            "agent_json": agent,  # inside a quoted heredoc: no shell expansion
            "pip_packages": " ".join(shlex.quote(p) for p in GENERATOR_PACKAGES),
            "generate_args": " ".join(generate),  # numbers and flags only
        },
    )
    if len(script.encode()) > USER_DATA_LIMIT:
        raise OrderpipeError("the generator's user-data is over EC2's 16 KB limit")
    return script


def _tags(names: StackNames, extra: dict[str, str]) -> list[dict[str, str]]:
    tags = {**names.tag, ROLE_TAG: GENERATOR_ROLE, "Name": f"{names.stack}-generator", **extra}
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def ensure_security_group(reader: Reader, executor: Executor) -> str:
    """The generator's security group: the step `up` plans for it (create, or revoke any
    inbound rule), applied through the same executor, so `generate` also works on a stack made
    before `up` made the group, or after someone changed it."""
    vpc_id = reader.default_vpc()
    if vpc_id is None:
        raise OrderpipeError(
            f"region {reader.spec.region} has no default VPC for the generator: create one with "
            "`aws ec2 create-default-vpc`."
        )
    executor.run(Planner(reader, list).security_group())
    group = reader.security_group(vpc_id)
    assert group is not None, "the plan just made it"
    return str(group["GroupId"])


def _summary(instance: dict[str, Any], region: str, reused: bool) -> RemoteGenerator:
    instance_id = instance["InstanceId"]
    return RemoteGenerator(
        instance_id=instance_id,
        state=instance["State"]["Name"],
        reused=reused,
        image_id=instance.get("ImageId"),
        instance_type=instance.get("InstanceType"),
        tags={tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])},
        connect=f"aws ssm start-session --target {instance_id} --region {region}",
        follow="sudo journalctl -u orderpipe-generator -f "
        "(agent: sudo tail -f /var/log/aws-kinesis-agent/aws-kinesis-agent.log)",
    )


def recorded_launch_settings(session: AwsSession, scripts_bucket: str) -> dict[str, Any]:
    """What `up` recorded about launching the generator (ec2/launch.json); {} if nothing."""
    found = session.call(
        "s3",
        "get_object",
        resource=f"s3://{scripts_bucket}/{LAUNCH_KEY}",
        missing=None,
        Bucket=scripts_bucket,
        Key=LAUNCH_KEY,
    )
    try:
        settings = json.loads(found["Body"].read()) if found else {}
    except ValueError:
        settings = None
    if not isinstance(settings, dict):
        raise OrderpipeError(
            f"s3://{scripts_bucket}/{LAUNCH_KEY} is not what `up` writes: run "
            "`orderpipe --target aws up` again to rewrite it."
        )
    return settings


def launch_generator(
    reader: Reader,
    *,
    count: int,
    rate: float | None,
    seed: int | None,
    executor: Executor | None = None,
    instance_type: str = "t3.micro",
    spot: bool = False,
    lifetime: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    profile_attempts: int = 8,
) -> RemoteGenerator:
    """Reuse the stack's running generator, or launch one. A reused instance keeps the
    count/rate/seed it was launched with (see its tags); stop it first to change them."""
    session, names = reader.session, reader.spec.names
    running = reader.instances(LIVE_STATES, role=GENERATOR_ROLE)
    if running:
        return _summary(running[0], session.region, reused=True)

    found = session.call("ssm", "get_parameter", resource=AMI_PARAMETER, Name=AMI_PARAMETER)
    image_id = found["Parameter"]["Value"]
    group_id = ensure_security_group(reader, executor or Executor(session, sleep, show=False))
    lifetime = lifetime or lifetime_minutes(count, rate)
    user_data = render_user_data(
        names,
        session.region,
        count=count,
        rate=rate,
        seed=seed,
        scripts_bucket=reader.spec.bucket("scripts"),
        lifetime=lifetime,
    )
    settings = {
        "orderpipe:lifetime-minutes": str(lifetime),
        "orderpipe:count": str(count),
        "orderpipe:rate": str(rate or "unlimited"),
        "orderpipe:seed": str(seed if seed is not None else "random"),
    }
    request = {
        "ImageId": image_id,
        "InstanceType": instance_type,
        "MinCount": 1,
        "MaxCount": 1,
        "IamInstanceProfile": {"Name": names.role("ec2")},
        "SecurityGroupIds": [group_id],
        "MetadataOptions": {
            "HttpTokens": "required",
            "HttpEndpoint": "enabled",
            "HttpPutResponseHopLimit": 1,
        },
        "InstanceInitiatedShutdownBehavior": "terminate",
        "UserData": user_data,
        "ClientToken": uuid.uuid4().hex,  # one launch even if the call is retried
        **(SPOT if spot else {}),
        "TagSpecifications": [
            {"ResourceType": "instance", "Tags": _tags(names, settings)},
            {"ResourceType": "volume", "Tags": _tags(names, {})},
        ],
    }

    def unusable(message: str) -> OrderpipeError:
        return OrderpipeError(
            f"instance profile {names.role('ec2')} is not usable ({message}): run "
            "`orderpipe --target aws up`."
        )

    for attempt in range(1, profile_attempts + 1):
        last = attempt == profile_attempts

        def propagating(message: str, last: bool = last) -> Any:
            """A freshly made instance profile takes a few seconds to reach EC2 (IAM)."""
            if "iaminstanceprofile" not in message.lower():
                return RAISE
            return unusable(message) if last else NOT_YET

        launched = session.call(
            "ec2",
            "run_instances",
            resource=f"the {names.stack} generator",
            answers={"InvalidParameterValue": propagating, "NoSuchEntity": unusable},
            **request,
        )
        if launched != NOT_YET:
            return _summary(launched["Instances"][0], session.region, reused=False)
        sleep(5.0)
    raise AssertionError("unreachable")  # pragma: no cover


def stop_generator(reader: Reader, executor: Executor, *, wait: bool = False) -> list[str]:
    """Terminate the stack's generator instances (with `wait`, until they are gone), as `down`
    does; returns their ids (none: nothing to do)."""
    found = reader.instances(STOPPABLE_STATES, role=GENERATOR_ROLE)
    ids = sorted(i["InstanceId"] for i in found)
    if ids:
        steps = terminate(ids)
        executor.run(steps if wait else steps[:1])
    return ids

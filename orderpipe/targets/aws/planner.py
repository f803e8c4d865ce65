"""`up` as data: compare the desired stack with what exists and list the calls that close the gap.

The planner reads only (describe/get/list, through `Reader`); each Action names the boto3 call
and its exact parameters, so the executor stays dumb and `--dry-run` is the same list printed.
Steps are ordered so that an `up` interrupted after any of them converges when run again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from orderpipe.errors import NotReadyError
from orderpipe.settings import BUCKET_ROLES
from orderpipe.targets.aws.artifacts import launch_settings
from orderpipe.targets.aws.reader import Reader
from orderpipe.targets.aws.resources import SERVICES, Artifact, StackSpec, tag_list
from orderpipe.targets.base import Action

# Composite steps (several calls each, run by the executor), named so no one takes them for a
# single boto3 call in a plan.
EMPTY_BUCKET = "empty bucket (delete every object version)"
WAIT_STREAM_ACTIVE = "wait until the stream is ACTIVE"
WAIT_STREAM_DELETED = "wait until the stream is deleted"
WAIT_TERMINATED = "wait until the instances are terminated"


def act(verb: str, resource: str, api: str, reason: str, **params: Any) -> Action:
    return Action(
        verb=verb, resource=resource, api=api, params=tuple(params.items()), reason=reason
    )


def delete_if(found: Any, resource: str, api: str, reason: str, **params: Any) -> list[Action]:
    """The step deleting what a reader `found` (nothing when it found nothing: None)."""
    return [] if found is None else [act("delete", resource, api, reason, **params)]


def _lifecycle_key(rules: Iterable[dict[str, Any]] | None) -> list[tuple[Any, ...]]:
    """What matters of lifecycle rules, independent of how AWS echoes defaults back."""
    key = []
    for rule in rules or []:
        prefix = (rule.get("Filter") or {}).get("Prefix", rule.get("Prefix", ""))
        key.append(
            (
                rule.get("ID"),
                rule.get("Status"),
                prefix or "",
                tuple(
                    (t.get("Days"), t.get("StorageClass")) for t in rule.get("Transitions") or []
                ),
                (rule.get("Expiration") or {}).get("Days"),
                (rule.get("AbortIncompleteMultipartUpload") or {}).get("DaysAfterInitiation"),
                (rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays"),
            )
        )
    return sorted(key, key=repr)


def _encryption_key(config: dict[str, Any] | None) -> list[tuple[Any, ...]]:
    rules = (config or {}).get("Rules") or []
    key = []
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        kms = default.get("SSEAlgorithm") == "aws:kms"
        key.append(
            (
                default.get("SSEAlgorithm"),
                default.get("KMSMasterKeyID") if kms else None,
                bool(rule.get("BucketKeyEnabled")) if kms else False,
            )
        )
    return key


def _differs(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """Names of the desired keys whose current value is different."""
    return [k for k, v in desired.items() if current.get(k) != v]


class Planner:
    """Plans `up` for one stack. `artifacts` are the files for the scripts bucket."""

    def __init__(self, reader: Reader, artifacts: Callable[[], list[Artifact]]) -> None:
        self.reader = reader
        self.spec: StackSpec = reader.spec
        self.artifacts = artifacts

    def plan(self) -> list[Action]:
        """Dependency order: buckets and roles first, then what uses them."""
        steps: list[Action] = []
        for role in BUCKET_ROLES:
            steps += self.bucket(role)
        for service in SERVICES:
            steps += self.role(service)
        steps += self.instance_profile()
        steps += self.security_group()
        steps += self.log_group()
        steps += self.stream()
        steps += self.uploads([*self.artifacts(), launch_settings(self.spec.options)])
        steps += self.database()
        steps += self.tables()
        steps += self.crawler()
        steps += self.job()
        steps += self.workgroup()
        if self.spec.options.alarm_email:
            steps += self.alarms(self.spec.options.alarm_email)
        return steps

    # S3 ------------------------------------------------------------------------------------
    def bucket(self, role: str) -> list[Action]:
        spec = self.spec
        name = spec.bucket(role)
        label = f"bucket {name}"
        current = self.reader.bucket(role)
        policy = spec.bucket_policy(role)
        steps = []
        if current is None:
            no_tls = "" if policy else "; no TLS-only policy: the endpoint is plain HTTP"
            steps.append(
                act(
                    "create",
                    label,
                    "s3.create_bucket",
                    f"{role} bucket is missing{no_tls}",
                    **spec.create_bucket_params(role),
                )
            )
            current = {}
        if current.get("public_access_block") != spec.public_access_block:
            steps.append(
                act(
                    "update",
                    label,
                    "s3.put_public_access_block",
                    "block all public access",
                    Bucket=name,
                    PublicAccessBlockConfiguration=spec.public_access_block,
                )
            )
        if _encryption_key(current.get("encryption")) != _encryption_key(spec.encryption):
            steps.append(
                act(
                    "update",
                    label,
                    "s3.put_bucket_encryption",
                    f"default encryption SSE-KMS with {spec.options.kms_key}"
                    if spec.options.kms_key
                    else "default encryption SSE-S3",
                    Bucket=name,
                    ServerSideEncryptionConfiguration=spec.encryption,
                )
            )
        if policy is not None and current.get("policy") != policy:
            steps.append(
                act(
                    "update",
                    label,
                    "s3.put_bucket_policy",
                    "deny requests without TLS",
                    Bucket=name,
                    Policy=json.dumps(policy),
                )
            )
        if policy is None and current.get("policy") is not None:
            steps.append(
                act(
                    "update",
                    label,
                    "s3.delete_bucket_policy",
                    "the endpoint is plain HTTP: a TLS-only policy would deny every request",
                    Bucket=name,
                )
            )
        rules = spec.lifecycle_rules(role)
        if _lifecycle_key(current.get("lifecycle")) != _lifecycle_key(rules):
            steps.append(
                act(
                    "update",
                    label,
                    "s3.put_bucket_lifecycle_configuration",
                    ", ".join(r["ID"] for r in rules),
                    Bucket=name,
                    LifecycleConfiguration={"Rules": rules},
                )
            )
        tags = current.get("tags") or {}
        if any(tags.get(k) != v for k, v in spec.tags.items()):
            steps.append(
                act(
                    "update",
                    label,
                    "s3.put_bucket_tagging",
                    "tag with the stack",
                    Bucket=name,
                    Tagging={"TagSet": tag_list({**tags, **spec.tags})},
                )
            )
        if spec.options.versioning and current.get("versioning") != "Enabled":
            steps.append(
                act(
                    "update",
                    label,
                    "s3.put_bucket_versioning",
                    "keep object versions",
                    Bucket=name,
                    VersioningConfiguration={"Status": "Enabled"},
                )
            )
        return steps

    # IAM -----------------------------------------------------------------------------------
    def role(self, service: str) -> list[Action]:
        spec = self.spec
        name = spec.role_name(service)
        label = f"role {name}"
        trust = spec.trust_policy(service)
        current = self.reader.role(service)
        steps = []
        if current is None:
            steps.append(
                act(
                    "create",
                    label,
                    "iam.create_role",
                    f"{service} assumes it",
                    RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(trust),
                    Description=f"orderpipe {spec.stack}: {service}",
                    Tags=tag_list(spec.tags),
                )
            )
            current = {"trust": trust, "tags": spec.tags, "policies": {}, "managed": []}
        if current["trust"] != trust:
            steps.append(
                act(
                    "update",
                    label,
                    "iam.update_assume_role_policy",
                    f"only {service} may assume it",
                    RoleName=name,
                    PolicyDocument=json.dumps(trust),
                )
            )
        if any(current["tags"].get(k) != v for k, v in spec.tags.items()):
            steps.append(
                act(
                    "update",
                    label,
                    "iam.tag_role",
                    "tag with the stack",
                    RoleName=name,
                    Tags=tag_list(spec.tags),
                )
            )
        policy_name = spec.policy_name(service)
        policy = spec.role_policy(service)
        if current["policies"].get(policy_name) != policy:
            steps.append(
                act(
                    "update",
                    label,
                    "iam.put_role_policy",
                    "least privilege on the stack's own resources"
                    + ("; Session Manager" if service == "ec2" else ""),
                    RoleName=name,
                    PolicyName=policy_name,
                    PolicyDocument=json.dumps(policy),
                )
            )
        for other in sorted(set(current["policies"]) - {policy_name}):
            steps.append(
                act(
                    "delete",
                    label,
                    "iam.delete_role_policy",
                    f"inline policy {other} is not the stack's",
                    RoleName=name,
                    PolicyName=other,
                )
            )
        # Managed policies attached by hand (e.g. for debugging) are the account owner's: kept.
        return steps

    def instance_profile(self) -> list[Action]:
        spec = self.spec
        name = spec.instance_profile
        label = f"instance profile {name}"
        role = spec.role_name("ec2")
        current = self.reader.instance_profile()
        steps = []
        if current is None:
            steps.append(
                act(
                    "create",
                    label,
                    "iam.create_instance_profile",
                    "the generator instance's identity",
                    InstanceProfileName=name,
                    Tags=tag_list(spec.tags),
                )
            )
            current = {"roles": []}
        for other in current["roles"]:
            if other != role:
                steps.append(
                    act(
                        "update",
                        label,
                        "iam.remove_role_from_instance_profile",
                        f"{other} is not the stack's",
                        InstanceProfileName=name,
                        RoleName=other,
                    )
                )
        if role not in current["roles"]:
            steps.append(
                act(
                    "update",
                    label,
                    "iam.add_role_to_instance_profile",
                    f"carry role {role}",
                    InstanceProfileName=name,
                    RoleName=role,
                )
            )
        return steps

    # EC2 -----------------------------------------------------------------------------------
    def security_group(self) -> list[Action]:
        """The generator's: no inbound rules, the default all-outbound rule kept (dnf, S3,
        Firehose). A region without a default VPC gets none (`generate` says so)."""
        spec = self.spec
        vpc_id = self.reader.default_vpc()
        if vpc_id is None:
            return []
        label = f"security group {spec.security_group}"
        current = self.reader.security_group(vpc_id)
        if current is None:
            return [
                act(
                    "create",
                    label,
                    "ec2.create_security_group",
                    f"the generator's, in the default VPC {vpc_id}: no inbound rules",
                    **spec.create_security_group_params(vpc_id),
                )
            ]
        steps = []
        if current.get("IpPermissions"):
            steps.append(
                act(
                    "update",
                    label,
                    "ec2.revoke_security_group_ingress",
                    "no inbound rules: reach the generator through Session Manager",
                    GroupId=current["GroupId"],
                    IpPermissions=current["IpPermissions"],
                )
            )
        tags = {t["Key"]: t["Value"] for t in current.get("Tags") or []}
        if any(tags.get(k) != v for k, v in spec.tags.items()):
            steps.append(
                act(
                    "update",
                    label,
                    "ec2.create_tags",
                    "tag with the stack",
                    Resources=[current["GroupId"]],
                    Tags=tag_list(spec.tags),
                )
            )
        return steps

    # Firehose ------------------------------------------------------------------------------
    def log_group(self) -> list[Action]:
        spec = self.spec
        label = f"log group {spec.log_group}"
        current = self.reader.log_group()
        steps = []
        if current is None:
            steps.append(
                act(
                    "create",
                    label,
                    "logs.create_log_group",
                    "Firehose delivery errors",
                    logGroupName=spec.log_group,
                    tags=spec.tags,
                )
            )
            current = {"retention_days": None, "streams": []}
        days = spec.options.log_retention_days
        if current["retention_days"] != days:
            steps.append(
                act(
                    "update",
                    label,
                    "logs.put_retention_policy",
                    f"keep logs {days} days",
                    logGroupName=spec.log_group,
                    retentionInDays=days,
                )
            )
        if spec.log_stream not in current["streams"]:
            steps.append(
                act(
                    "create",
                    f"{label} stream {spec.log_stream}",
                    "logs.create_log_stream",
                    "Firehose writes its errors there",
                    logGroupName=spec.log_group,
                    logStreamName=spec.log_stream,
                )
            )
        return steps

    def stream(self) -> list[Action]:
        spec = self.spec
        label = f"delivery stream {spec.stream}"
        current = self.reader.stream()
        if current is None:
            return [
                act(
                    "create",
                    label,
                    "firehose.create_delivery_stream",
                    "Direct PUT to the raw bucket, GZIP, hourly prefixes, an object every "
                    f"{spec.options.buffer_mb} MiB or {spec.options.buffer_seconds}s",
                    **spec.create_stream_params(),
                ),
                act(
                    "wait",
                    label,
                    WAIT_STREAM_ACTIVE,
                    "it takes a minute to become ACTIVE",
                    DeliveryStreamName=spec.stream,
                ),
            ]
        status = current["status"]
        if status.startswith("DELETING"):
            raise NotReadyError(
                f"Delivery stream {spec.stream} is still being deleted; run `up` again in a minute."
            )
        if status == "CREATING":
            return [
                act(
                    "wait",
                    label,
                    WAIT_STREAM_ACTIVE,
                    "still CREATING",
                    DeliveryStreamName=spec.stream,
                )
            ]
        steps = []
        desired = spec.firehose_destination
        changed = _differs(current["destination"], desired)
        if changed:
            steps.append(
                act(
                    "update",
                    label,
                    "firehose.update_destination",
                    "changed: " + ", ".join(changed),
                    DeliveryStreamName=spec.stream,
                    CurrentDeliveryStreamVersionId=current["version_id"],
                    DestinationId=current["destination_id"],
                    ExtendedS3DestinationUpdate=desired,
                )
            )
        if current["encryption"] not in {"ENABLED", "ENABLING"}:
            steps.append(
                act(
                    "update",
                    label,
                    "firehose.start_delivery_stream_encryption",
                    "encrypt buffered records",
                    DeliveryStreamName=spec.stream,
                    DeliveryStreamEncryptionConfigurationInput={"KeyType": "AWS_OWNED_CMK"},
                )
            )
        return steps

    # Glue ----------------------------------------------------------------------------------
    def uploads(self, artifacts: list[Artifact] | None = None) -> list[Action]:
        """Uploads of `artifacts` (default: the job's files) whose content is not in S3 yet."""
        bucket = self.spec.bucket("scripts")
        steps = []
        for artifact in self.artifacts() if artifacts is None else artifacts:
            stored = self.reader.object_sha256("scripts", artifact.key)
            if stored == artifact.sha256:
                continue
            steps.append(
                act(
                    "upload",
                    f"s3://{bucket}/{artifact.key}",
                    "s3.put_object",
                    ("missing" if stored is None else "content changed")
                    + (f": {artifact.reason}" if artifact.reason else ""),
                    Bucket=bucket,
                    Key=artifact.key,
                    Body=artifact.body,
                    ContentType=artifact.content_type,
                    Metadata={"sha256": artifact.sha256},
                )
            )
        return steps

    def database(self) -> list[Action]:
        spec = self.spec
        if self.reader.database() is not None:
            return []
        return [
            act(
                "create",
                f"database {spec.database}",
                "glue.create_database",
                "the catalog of the stack",
                DatabaseInput={"Name": spec.database, "Description": f"orderpipe {spec.stack}"},
                Tags=spec.tags,
            )
        ]

    def tables(self) -> list[Action]:
        return [step for table in self.spec.tables for step in self.table(table)]

    def table(self, table: str) -> list[Action]:
        """The model-defined tables; the job only adds partitions (no MSCK REPAIR TABLE)."""
        spec = self.spec
        label = f"table {spec.database}.{table}"
        desired = spec.table_input(table)
        current = self.reader.table(table)
        if current is None:
            return [
                act(
                    "create",
                    label,
                    "glue.create_table",
                    "defined from the models",
                    DatabaseName=spec.database,
                    TableInput=desired,
                )
            ]
        have = current.get("StorageDescriptor") or {}
        want = desired["StorageDescriptor"]
        serde = (have.get("SerdeInfo") or {}).get("SerializationLibrary")
        if (
            _columns(have.get("Columns")) == _columns(want["Columns"])
            and _columns(current.get("PartitionKeys")) == _columns(desired["PartitionKeys"])
            and have.get("Location") == want["Location"]
            and serde == want["SerdeInfo"]["SerializationLibrary"]
        ):
            return []
        return [
            act(
                "update",
                label,
                "glue.update_table",
                "schema differs from the models",
                DatabaseName=spec.database,
                TableInput=desired,
            )
        ]

    def crawler(self) -> list[Action]:
        spec = self.spec
        desired = spec.crawler_definition
        label = f"crawler {spec.crawler}"
        current = self.reader.crawler()
        if current is None:
            return [
                act(
                    "create",
                    label,
                    "glue.create_crawler",
                    "discovers raw partitions",
                    **desired,
                    Tags=spec.tags,
                )
            ]
        have = {
            **current,
            "Role": _role_arn(current.get("Role", ""), desired["Role"]),
            "Targets": {
                "S3Targets": [
                    {"Path": t.get("Path")} for t in current.get("Targets", {}).get("S3Targets", [])
                ]
            },
            "Configuration": _canonical_json(current.get("Configuration")),
        }
        changed = _differs(
            have, {**desired, "Configuration": _canonical_json(desired["Configuration"])}
        )
        if not changed:
            return []
        return [
            act("update", label, "glue.update_crawler", "changed: " + ", ".join(changed), **desired)
        ]

    def job(self) -> list[Action]:
        spec = self.spec
        desired = spec.job_definition
        label = f"job {spec.job}"
        current = self.reader.job()
        if current is None:
            return [
                act(
                    "create",
                    label,
                    "glue.create_job",
                    job_summary(spec),
                    Name=spec.job,
                    **desired,
                    Tags=spec.tags,
                )
            ]
        have = {
            **current,
            "Role": _role_arn(current.get("Role", ""), desired["Role"]),
            "ExecutionClass": current.get("ExecutionClass") or "STANDARD",
            "DefaultArguments": {
                k: v
                for k, v in (current.get("DefaultArguments") or {}).items()
                if k in desired["DefaultArguments"]
            },
        }
        changed = _differs(have, desired)
        if not changed:
            return []
        return [
            act(
                "update",
                label,
                "glue.update_job",
                "changed: " + ", ".join(changed),
                JobName=spec.job,
                JobUpdate=desired,
            )
        ]

    # Athena --------------------------------------------------------------------------------
    def workgroup(self) -> list[Action]:
        spec = self.spec
        label = f"workgroup {spec.workgroup}"
        desired = spec.workgroup_configuration
        current = self.reader.workgroup()
        if current is None:
            return [
                act(
                    "create",
                    label,
                    "athena.create_work_group",
                    f"scan cutoff {desired['BytesScannedCutoffPerQuery']:,} bytes per query",
                    Name=spec.workgroup,
                    Configuration=desired,
                    Description=f"orderpipe {spec.stack}",
                    Tags=tag_list(spec.tags),
                )
            ]
        have = current.get("Configuration") or {}
        result = have.get("ResultConfiguration") or {}
        changed = _differs(have, {k: v for k, v in desired.items() if k != "ResultConfiguration"})
        if result.get("OutputLocation") != desired["ResultConfiguration"]["OutputLocation"] or (
            (result.get("EncryptionConfiguration") or {}) != spec.results_encryption
        ):
            changed.append("ResultConfiguration")
        if current.get("State") != "ENABLED":
            changed.append("State")
        if not changed:
            return []
        return [
            act(
                "update",
                label,
                "athena.update_work_group",
                "changed: " + ", ".join(changed),
                WorkGroup=spec.workgroup,
                ConfigurationUpdates=spec.workgroup_update,
                State="ENABLED",
            )
        ]

    # alarms --------------------------------------------------------------------------------
    def alarms(self, email: str) -> list[Action]:
        spec = self.spec
        label = f"topic {spec.topic}"
        policy = spec.topic_policy()
        steps = []
        topic = self.reader.topic()
        if topic is None:
            steps.append(
                act(
                    "create",
                    label,
                    "sns.create_topic",
                    "alarm notifications",
                    Name=spec.topic,
                    Attributes={"Policy": json.dumps(policy)},
                    Tags=tag_list(spec.tags),
                )
            )
            topic = {"policy": policy, "subscriptions": []}
        if topic["policy"] != policy:
            steps.append(
                act(
                    "update",
                    label,
                    "sns.set_topic_attributes",
                    "CloudWatch and the Glue rule may publish",
                    TopicArn=spec.topic_arn,
                    AttributeName="Policy",
                    AttributeValue=json.dumps(policy),
                )
            )
        if not any(p == "email" and e == email for p, e, _ in topic["subscriptions"]):
            steps.append(
                act(
                    "create",
                    f"{label} subscription {email}",
                    "sns.subscribe",
                    "AWS e-mails a confirmation link",
                    TopicArn=spec.topic_arn,
                    Protocol="email",
                    Endpoint=email,
                )
            )
        alarm = self.reader.alarm()
        desired = spec.firehose_alarm_params
        if alarm is None or _differs(alarm, desired):
            steps.append(
                act(
                    "create" if alarm is None else "update",
                    f"alarm {spec.firehose_alarm}",
                    "cloudwatch.put_metric_alarm",
                    "Firehose DeliveryToS3.Success < 1",
                    **desired,
                    Tags=tag_list(spec.tags),
                )
            )
        rule = self.reader.rule()
        if rule is None or rule["pattern"] != spec.glue_rule_pattern or rule["state"] != "ENABLED":
            steps.append(
                act(
                    "create" if rule is None else "update",
                    f"rule {spec.glue_rule}",
                    "events.put_rule",
                    "a Glue job run FAILED, TIMEOUT or ERROR",
                    Name=spec.glue_rule,
                    EventPattern=json.dumps(spec.glue_rule_pattern),
                    State="ENABLED",
                    Description=f"orderpipe {spec.stack}: Glue job failures",
                    Tags=tag_list(spec.tags),
                )
            )
        if (rule or {}).get("targets", {}).get("alarm-topic") != spec.topic_arn:
            steps.append(
                act(
                    "update",
                    f"rule {spec.glue_rule}",
                    "events.put_targets",
                    f"notify {spec.topic}",
                    Rule=spec.glue_rule,
                    Targets=[{"Id": "alarm-topic", "Arn": spec.topic_arn}],
                )
            )
        return steps


def job_summary(spec: StackSpec) -> str:
    options = spec.options
    return (
        f"Glue {options.glue_version}, {'Flex' if options.flex else 'standard'}, auto scaling "
        f"up to {options.glue_workers} G.1X, timeout {options.job_timeout_minutes} min, "
        "1 run at a time, bookmarks on"
    )


def _columns(columns: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in columns or []]


def _canonical_json(text: str | None) -> Any:
    return json.loads(text) if text else None


def _role_arn(current: str, desired_arn: str) -> str:
    """Glue echoes a role as it was given, name or ARN; same name means same role here."""
    return desired_arn if current.split("/")[-1] == desired_arn.split("/")[-1] else current

"""Current state of a stack's resources, read with describe/get/list calls only.

Each reader returns plain data, or None when the resource does not exist; the planner,
the teardown planner and `status` share them. Every list call is paginated.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from orderpipe.errors import OrderpipeError
from orderpipe.targets.aws.resources import ROLE_TAG, StackSpec
from orderpipe.targets.aws.session import AwsSession

# A bucket without that setting answers with these codes: "not set", not an error.
ABSENT_BUCKET_CONFIG = dict.fromkeys(
    (
        "NoSuchPublicAccessBlockConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchBucketPolicy",
        "NoSuchLifecycleConfiguration",
        "NoSuchTagSet",
        "NoSuchTagSetError",
    )
)
FORBIDDEN = ("403", "AccessDenied", "Forbidden")
STOPPABLE_STATES = ("pending", "running", "stopping", "stopped")


def policy_document(value: Any) -> dict[str, Any]:
    """IAM returns policies URL-encoded (botocore usually decodes them already)."""
    if isinstance(value, dict):
        return value
    return dict(json.loads(unquote(value)))


class Reader:
    """Reads one stack's resources; `None` means "does not exist"."""

    def __init__(self, session: AwsSession, spec: StackSpec) -> None:
        self.session = session
        self.spec = spec

    def _get(self, service: str, method: str, resource: str, **kwargs: Any) -> Any:
        """The response of a describe/get call, or None when AWS says it does not exist."""
        return self.session.call(service, method, resource=resource, missing=None, **kwargs)

    def _list(self, service: str, method: str, key: str, resource: str, **kwargs: Any) -> list[Any]:
        items: list[Any] = self.session.items(service, method, key, resource=resource, **kwargs)
        return items

    # S3 ------------------------------------------------------------------------------------
    def bucket_exists(self, role: str) -> bool:
        name = self.spec.bucket(role)
        taken = OrderpipeError(
            f"Bucket {name} exists but this identity cannot use it: it belongs to another "
            "account, or your credentials lack s3:ListBucket on it. Use another --stack."
        )
        found = self.session.call(
            "s3",
            "head_bucket",
            resource=f"bucket {name}",
            missing=None,
            answers=dict.fromkeys(FORBIDDEN, taken),
            Bucket=name,
        )
        return found is not None

    def bucket(self, role: str) -> dict[str, Any] | None:
        """The bucket's security settings, lifecycle, tags and versioning, or None."""
        if not self.bucket_exists(role):
            return None
        name = self.spec.bucket(role)
        return {
            "name": name,
            "public_access_block": self._bucket_config(
                "get_public_access_block", name, "PublicAccessBlockConfiguration"
            ),
            "encryption": self._bucket_config(
                "get_bucket_encryption", name, "ServerSideEncryptionConfiguration"
            ),
            "policy": _json_or_none(self._bucket_config("get_bucket_policy", name, "Policy")),
            "lifecycle": self._bucket_config("get_bucket_lifecycle_configuration", name, "Rules"),
            "tags": {
                t["Key"]: t["Value"]
                for t in self._bucket_config("get_bucket_tagging", name, "TagSet") or []
            },
            "versioning": self._bucket_config("get_bucket_versioning", name, "Status"),
        }

    def _bucket_config(self, method: str, bucket: str, key: str) -> Any:
        found = self.session.call(
            "s3", method, resource=f"bucket {bucket}", answers=ABSENT_BUCKET_CONFIG, Bucket=bucket
        )
        return None if found is None else found.get(key)

    def object_sha256(self, role: str, key: str) -> str | None:
        """The sha256 we stored in the object's metadata when we uploaded it."""
        name = self.spec.bucket(role)
        head = self._get("s3", "head_object", f"s3://{name}/{key}", Bucket=name, Key=key)
        return None if head is None else head.get("Metadata", {}).get("sha256")

    # IAM -----------------------------------------------------------------------------------
    def role(self, service: str) -> dict[str, Any] | None:
        name = self.spec.role_name(service)
        found = self._get("iam", "get_role", f"role {name}", RoleName=name)
        if found is None:
            return None
        role = found["Role"]
        policies = {}
        for policy in self._list(
            "iam", "list_role_policies", "PolicyNames", f"role {name}", RoleName=name
        ):
            got = self._get(
                "iam", "get_role_policy", f"role {name}", RoleName=name, PolicyName=policy
            )
            if got is not None:
                policies[policy] = policy_document(got["PolicyDocument"])
        attached = self._list(
            "iam", "list_attached_role_policies", "AttachedPolicies", f"role {name}", RoleName=name
        )
        profiles = self._list(
            "iam",
            "list_instance_profiles_for_role",
            "InstanceProfiles",
            f"role {name}",
            RoleName=name,
        )
        return {
            "name": name,
            "arn": role["Arn"],
            "trust": policy_document(role["AssumeRolePolicyDocument"]),
            "tags": {t["Key"]: t["Value"] for t in role.get("Tags") or []},
            "policies": policies,
            "managed": [p["PolicyArn"] for p in attached],
            "instance_profiles": [p["InstanceProfileName"] for p in profiles],
        }

    def instance_profile(self) -> dict[str, Any] | None:
        name = self.spec.instance_profile
        found = self._get(
            "iam", "get_instance_profile", f"instance profile {name}", InstanceProfileName=name
        )
        if found is None:
            return None
        return {"name": name, "roles": [r["RoleName"] for r in found["InstanceProfile"]["Roles"]]}

    # CloudWatch Logs -----------------------------------------------------------------------
    def log_group(self) -> dict[str, Any] | None:
        name = self.spec.log_group
        groups = self._list(
            "logs", "describe_log_groups", "logGroups", f"log group {name}", logGroupNamePrefix=name
        )
        group = next((g for g in groups if g["logGroupName"] == name), None)
        if group is None:
            return None
        streams = self._list(
            "logs",
            "describe_log_streams",
            "logStreams",
            f"log group {name}",
            logGroupName=name,
            logStreamNamePrefix=self.spec.log_stream,
        )
        return {
            "name": name,
            "retention_days": group.get("retentionInDays"),
            "streams": [s["logStreamName"] for s in streams],
        }

    # Firehose ------------------------------------------------------------------------------
    def stream(self) -> dict[str, Any] | None:
        name = self.spec.stream
        found = self._get(
            "firehose",
            "describe_delivery_stream",
            f"delivery stream {name}",
            DeliveryStreamName=name,
        )
        if found is None:
            return None
        description = found["DeliveryStreamDescription"]
        destinations = description.get("Destinations") or [{}]
        destination = destinations[0]
        return {
            "name": name,
            "status": description.get("DeliveryStreamStatus", ""),
            "type": description.get("DeliveryStreamType", ""),
            "version_id": description.get("VersionId", ""),
            "destination_id": destination.get("DestinationId", ""),
            "destination": destination.get("ExtendedS3DestinationDescription") or {},
            "encryption": _stream_encryption(description),
        }

    # Glue ----------------------------------------------------------------------------------
    def database(self) -> dict[str, Any] | None:
        found = self._get(
            "glue", "get_database", f"database {self.spec.database}", Name=self.spec.database
        )
        return None if found is None else found["Database"]

    def crawler(self) -> dict[str, Any] | None:
        found = self._get(
            "glue", "get_crawler", f"crawler {self.spec.crawler}", Name=self.spec.crawler
        )
        return None if found is None else found["Crawler"]

    def job(self) -> dict[str, Any] | None:
        found = self._get("glue", "get_job", f"job {self.spec.job}", JobName=self.spec.job)
        return None if found is None else found["Job"]

    def last_job_run(self) -> dict[str, Any] | None:
        found = self._get(
            "glue", "get_job_runs", f"job {self.spec.job}", JobName=self.spec.job, MaxResults=1
        )
        runs = (found or {}).get("JobRuns") or []
        return runs[0] if runs else None

    def table(self, name: str) -> dict[str, Any] | None:
        found = self._get(
            "glue",
            "get_table",
            f"table {self.spec.database}.{name}",
            DatabaseName=self.spec.database,
            Name=name,
        )
        return None if found is None else found["Table"]

    def partition_count(self, table: str) -> int:
        database = self.spec.database
        partitions = self._list(
            "glue",
            "get_partitions",
            "Partitions",
            f"table {database}.{table}",
            DatabaseName=database,
            TableName=table,
            ExcludeColumnSchema=True,
        )
        return len(partitions)

    def crawled_partitions(self) -> dict[str, int]:
        """Partition count per crawler-made table of the stack's database (the models' own
        tables are left out: the crawler never writes them); {} without the database."""
        database = self.spec.database
        tables = self.session.items(
            "glue",
            "get_tables",
            "TableList",
            resource=f"database {database}",
            missing=[],
            DatabaseName=database,
        )
        return {
            table["Name"]: self.partition_count(table["Name"]) if table.get("PartitionKeys") else 0
            for table in tables
            if table["Name"] not in self.spec.tables
        }

    def workflow(self, name: str) -> dict[str, Any] | None:
        found = self._get("glue", "get_workflow", f"workflow {name}", Name=name)
        return None if found is None else found["Workflow"]

    def trigger(self, name: str) -> dict[str, Any] | None:
        found = self._get("glue", "get_trigger", f"trigger {name}", Name=name)
        return None if found is None else found["Trigger"]

    def workflow_runs(self, name: str, limit: int = 5) -> list[dict[str, Any]]:
        found = self._get(
            "glue", "get_workflow_runs", f"workflow {name}", Name=name, MaxResults=limit
        )
        return list((found or {}).get("Runs") or [])[:limit]

    # Athena --------------------------------------------------------------------------------
    def workgroup(self) -> dict[str, Any] | None:
        found = self._get(
            "athena",
            "get_work_group",
            f"workgroup {self.spec.workgroup}",
            WorkGroup=self.spec.workgroup,
        )
        return (found or {}).get("WorkGroup")  # moto answers a missing one with null

    # alarms --------------------------------------------------------------------------------
    def topic(self) -> dict[str, Any] | None:
        arn = self.spec.topic_arn
        found = self._get("sns", "get_topic_attributes", f"topic {self.spec.topic}", TopicArn=arn)
        if found is None:
            return None
        subscriptions = self._list(
            "sns",
            "list_subscriptions_by_topic",
            "Subscriptions",
            f"topic {self.spec.topic}",
            TopicArn=arn,
        )
        attributes = found.get("Attributes", {})
        return {
            "arn": arn,
            "policy": _json_or_none(attributes.get("Policy")),
            "subscriptions": [
                (s["Protocol"], s["Endpoint"], s["SubscriptionArn"]) for s in subscriptions
            ],
        }

    def alarm(self) -> dict[str, Any] | None:
        alarms = self._list(
            "cloudwatch",
            "describe_alarms",
            "MetricAlarms",
            f"alarm {self.spec.firehose_alarm}",
            AlarmNames=[self.spec.firehose_alarm],
        )
        return alarms[0] if alarms else None

    def rule(self) -> dict[str, Any] | None:
        name = self.spec.glue_rule
        found = self._get("events", "describe_rule", f"rule {name}", Name=name)
        if found is None:
            return None
        targets = self._list("events", "list_targets_by_rule", "Targets", f"rule {name}", Rule=name)
        return {
            "name": name,
            "state": found.get("State"),
            "pattern": _json_or_none(found.get("EventPattern")),
            "targets": {t["Id"]: t["Arn"] for t in targets},
        }

    # EC2 (the generator `generate` launches in the security group `up` makes) --------------
    def _tag_filter(self) -> list[dict[str, Any]]:
        key, value = next(iter(self.spec.tags.items()))
        return [{"Name": f"tag:{key}", "Values": [value]}]

    def instances(
        self, states: tuple[str, ...] = STOPPABLE_STATES, role: str | None = None
    ) -> list[dict[str, Any]]:
        """The stack's instances in `states` (with `role`: those tagged orderpipe:role=role)."""
        filters = [*self._tag_filter(), {"Name": "instance-state-name", "Values": list(states)}]
        if role is not None:
            filters.append({"Name": f"tag:{ROLE_TAG}", "Values": [role]})
        reservations = self._list(
            "ec2",
            "describe_instances",
            "Reservations",
            f"instances of stack {self.spec.stack}",
            Filters=filters,
        )
        return [i for r in reservations for i in r.get("Instances", [])]

    def default_vpc(self) -> str | None:
        """The region's default VPC, where the generator runs (None: the region has none)."""
        vpcs = self._list(
            "ec2",
            "describe_vpcs",
            "Vpcs",
            "the default VPC",
            Filters=[{"Name": "isDefault", "Values": ["true"]}],
        )
        return str(vpcs[0]["VpcId"]) if vpcs else None

    def security_group(self, vpc_id: str) -> dict[str, Any] | None:
        """The generator's security group (by name, in the default VPC `vpc_id`)."""
        name = self.spec.security_group
        groups = self._list(
            "ec2",
            "describe_security_groups",
            "SecurityGroups",
            f"security group {name}",
            Filters=[
                {"Name": "group-name", "Values": [name]},
                {"Name": "vpc-id", "Values": [vpc_id]},
            ],
        )
        return groups[0] if groups else None

    def security_groups(self) -> list[dict[str, Any]]:
        """Every security group tagged with the stack (in any VPC): what `down` deletes."""
        return self._list(
            "ec2",
            "describe_security_groups",
            "SecurityGroups",
            f"security groups of stack {self.spec.stack}",
            Filters=self._tag_filter(),
        )


def _json_or_none(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _stream_encryption(description: dict[str, Any]) -> str | None:
    """ENABLED, ENABLING, DISABLED...; an emulator may echo only the KeyType it was given."""
    config = description.get("DeliveryStreamEncryptionConfiguration") or {}
    return config.get("Status") or ("ENABLED" if config.get("KeyType") else None)

"""`down` as data: what of the stack exists, deleted in dependency order.

Users of a resource go before the resource: instances before their profile and security group,
the schedule's triggers before the crawler and job they start, the crawler and job before the
role they assume, the stream before its log group and role,
and the buckets last (emptied of every object version first, or kept with `--keep-data`).
Only what exists is listed, so a second `down` finds nothing to do.
"""

from __future__ import annotations

from orderpipe.settings import BUCKET_ROLES
from orderpipe.targets.aws.planner import (
    EMPTY_BUCKET,
    WAIT_STREAM_DELETED,
    WAIT_TERMINATED,
    act,
    delete_if,
)
from orderpipe.targets.aws.reader import Reader
from orderpipe.targets.aws.resources import SERVICES
from orderpipe.targets.aws.schedule import plan_teardown
from orderpipe.targets.base import Action


def terminate(ids: list[str]) -> list[Action]:
    """Terminate instances and wait until they are gone (`down`, `generate --stop`)."""
    label = f"instances {', '.join(ids)}"
    return [
        act("delete", label, "ec2.terminate_instances", "the order generator", InstanceIds=ids),
        act(
            "wait",
            label,
            WAIT_TERMINATED,
            "their security group is in use until then",
            InstanceIds=ids,
        ),
    ]


class Teardown:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.spec = reader.spec

    def plan(self, keep_data: bool) -> list[Action]:
        plan = [
            *self.instances(),
            *self.alarms(),
            *self.workgroup(),
            *plan_teardown(self.reader),
            *self.glue(),
            *self.stream(),
            *self.roles(),
            *self.buckets(keep_data),
        ]
        # Kept buckets alone are no work: a repeated `down --keep-data` has nothing to do.
        return plan if any(a.verb != "keep" for a in plan) else []

    def instances(self) -> list[Action]:
        ids = sorted(i["InstanceId"] for i in self.reader.instances())
        steps = terminate(ids) if ids else []
        for group in self.reader.security_groups():
            steps.append(
                act(
                    "delete",
                    f"security group {group['GroupId']} ({group.get('GroupName', '')})",
                    "ec2.delete_security_group",
                    "the generator's",
                    GroupId=group["GroupId"],
                )
            )
        return steps

    def alarms(self) -> list[Action]:
        spec, read = self.spec, self.reader
        rule = read.rule()
        steps = []
        if rule is not None and rule["targets"]:
            steps.append(
                act("delete", f"rule {spec.glue_rule} targets", "events.remove_targets",
                    "a rule with targets cannot be deleted", Rule=spec.glue_rule,
                    Ids=sorted(rule["targets"]))
            )  # fmt: skip
        return [
            *steps,
            *delete_if(
                rule, f"rule {spec.glue_rule}", "events.delete_rule", "Glue failure alerts",
                Name=spec.glue_rule,
            ),
            *delete_if(
                read.alarm(), f"alarm {spec.firehose_alarm}", "cloudwatch.delete_alarms",
                "Firehose failure alerts", AlarmNames=[spec.firehose_alarm],
            ),
            *delete_if(
                read.topic(), f"topic {spec.topic}", "sns.delete_topic", "with its subscriptions",
                TopicArn=spec.topic_arn,
            ),
        ]  # fmt: skip

    def workgroup(self) -> list[Action]:
        spec = self.spec
        return delete_if(
            self.reader.workgroup(), f"workgroup {spec.workgroup}", "athena.delete_work_group",
            "with its saved queries", WorkGroup=spec.workgroup, RecursiveDeleteOption=True,
        )  # fmt: skip

    def glue(self) -> list[Action]:
        spec, read = self.spec, self.reader
        crawler = read.crawler()
        label = f"crawler {spec.crawler}"
        steps = []
        if (crawler or {}).get("State") == "RUNNING":
            steps.append(
                act("update", label, "glue.stop_crawler", "a running crawler cannot be deleted",
                    Name=spec.crawler)
            )  # fmt: skip
        return [
            *steps,
            *delete_if(crawler, label, "glue.delete_crawler", "", Name=spec.crawler),
            *delete_if(
                read.job(), f"job {spec.job}", "glue.delete_job", "with its bookmarks",
                JobName=spec.job,
            ),
            *delete_if(
                read.database(), f"database {spec.database}", "glue.delete_database",
                "with its tables; the data stays in S3 until its bucket goes", Name=spec.database,
            ),
        ]  # fmt: skip

    def stream(self) -> list[Action]:
        spec = self.spec
        steps = []
        stream = self.reader.stream()
        if stream is not None and not stream["status"].startswith("DELETING"):
            label = f"delivery stream {spec.stream}"
            steps += [
                act("delete", label, "firehose.delete_delivery_stream", "stops ingestion",
                    DeliveryStreamName=spec.stream),
                act("wait", label, WAIT_STREAM_DELETED, "it still writes until gone",
                    DeliveryStreamName=spec.stream),
            ]  # fmt: skip
        return steps + delete_if(
            self.reader.log_group(), f"log group {spec.log_group}", "logs.delete_log_group",
            "Firehose's delivery log", logGroupName=spec.log_group,
        )  # fmt: skip

    def roles(self) -> list[Action]:
        spec = self.spec
        steps = []
        profile = self.reader.instance_profile()
        if profile is not None:
            label = f"instance profile {spec.instance_profile}"
            for role in profile["roles"]:
                steps.append(
                    act(
                        "delete",
                        label,
                        "iam.remove_role_from_instance_profile",
                        f"detach {role}",
                        InstanceProfileName=spec.instance_profile,
                        RoleName=role,
                    )
                )
            steps.append(
                act(
                    "delete",
                    label,
                    "iam.delete_instance_profile",
                    "",
                    InstanceProfileName=spec.instance_profile,
                )
            )
        for service in SERVICES:
            role = self.reader.role(service)
            if role is None:
                continue
            name, label = role["name"], f"role {role['name']}"
            for other in role["instance_profiles"]:
                if other != spec.instance_profile:
                    steps.append(
                        act(
                            "delete",
                            label,
                            "iam.remove_role_from_instance_profile",
                            f"detach from {other}",
                            InstanceProfileName=other,
                            RoleName=name,
                        )
                    )
            for policy in sorted(role["policies"]):
                steps.append(
                    act(
                        "delete",
                        label,
                        "iam.delete_role_policy",
                        f"inline policy {policy}",
                        RoleName=name,
                        PolicyName=policy,
                    )
                )
            for arn in role["managed"]:
                steps.append(
                    act(
                        "delete",
                        label,
                        "iam.detach_role_policy",
                        f"managed {arn}",
                        RoleName=name,
                        PolicyArn=arn,
                    )
                )
            steps.append(
                act("delete", label, "iam.delete_role", f"{service}'s identity", RoleName=name)
            )
        return steps

    def buckets(self, keep_data: bool) -> list[Action]:
        steps = []
        for role in BUCKET_ROLES:
            name = self.spec.bucket(role)
            if self.reader.bucket_exists(role) is False:
                continue
            label = f"bucket {name}"
            if keep_data:
                steps.append(act("keep", label, "", "--keep-data"))
                continue
            steps += [
                act(
                    "empty",
                    label,
                    EMPTY_BUCKET,
                    "every object version and delete marker",
                    Bucket=name,
                ),
                act("delete", label, "s3.delete_bucket", f"{role} bucket", Bucket=name),
            ]
        return steps

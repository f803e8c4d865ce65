"""Desired state of an AWS stack, derived from the settings, the account and the region only.

Nothing here calls AWS: every name, ARN and configuration is computed, so `up`, `status` and
`down` find the same resources from any machine, and planner tests run with no AWS at all.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from string import Template
from typing import Any

from orderpipe.job.job_io import PARQUET_STORAGE
from orderpipe.models import TABLE_MODELS, glue_columns
from orderpipe.paths import TEMPLATES
from orderpipe.settings import (
    FIREHOSE_ERROR_PREFIX,
    FIREHOSE_PREFIX,
    RAW_PREFIX,
    Settings,
    StackNames,
)
from orderpipe.targets.aws.options import AwsOptions

SERVICES = ("firehose", "glue", "ec2")  # one IAM role each
SCRIPT_KEY = "glue/transform_order_history.py"
PACKAGE_KEY = "glue/orderpipe_job.zip"
GENERATOR_KEY = "ec2/orderpipe.tar.gz"  # the generator the EC2 instance installs
LAUNCH_KEY = "ec2/launch.json"  # how `generate` launches it (`up --spot`)
ROLE_TAG = "orderpipe:role"  # on the generator's instance and security group
GENERATOR_ROLE = "generator"


@dataclass(frozen=True)
class Artifact:
    """A file uploaded to the scripts bucket; re-uploaded only when its sha256 changes."""

    key: str
    body: bytes = field(repr=False)
    content_type: str
    reason: str = ""  # why `up` uploads it, beyond "missing" or "content changed"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


def render_policy(name: str, **values: str) -> dict[str, Any]:
    """An IAM document from templates/iam/<name>.json with ${placeholders} filled in."""
    text = (TEMPLATES / "iam" / f"{name}.json").read_text(encoding="utf-8")
    return json.loads(Template(text).substitute(values))


def tag_list(tags: dict[str, str], key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    return [{key: k, value: v} for k, v in tags.items()]


@dataclass(frozen=True)
class StackSpec:
    """Every name, ARN and configuration of one stack in one account and region."""

    settings: Settings
    account: str
    region: str
    partition: str = "aws"
    options: AwsOptions = field(default_factory=AwsOptions)
    tls_only: bool = True  # False when the endpoint is an emulator over plain HTTP

    # names ---------------------------------------------------------------------------------
    @property
    def names(self) -> StackNames:
        return self.settings.names

    @property
    def stack(self) -> str:
        return self.settings.stack

    @property
    def tags(self) -> dict[str, str]:
        return self.names.tag

    def bucket(self, role: str) -> str:
        return self.names.bucket(role, self.account, self.region)

    def bucket_arn(self, role: str) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket(role)}"

    def s3_url(self, role: str, key: str = "") -> str:
        return f"s3://{self.bucket(role)}/{key}"

    def role_name(self, service: str) -> str:
        return self.names.role(service)

    def role_arn(self, service: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{self.role_name(service)}"

    def policy_name(self, service: str) -> str:
        return f"{self.stack}-{service}-least-privilege"

    @property
    def instance_profile(self) -> str:
        """Named like its role, as the console does (ec2.py launches with this name)."""
        return self.role_name("ec2")

    @property
    def security_group(self) -> str:
        """The generator's, in the default VPC: made by `up`, used by `generate`."""
        return f"{self.stack}-generator"

    def create_security_group_params(self, vpc_id: str) -> dict[str, Any]:
        tags = {**self.tags, ROLE_TAG: GENERATOR_ROLE, "Name": self.security_group}
        return {
            "GroupName": self.security_group,
            "Description": "orderpipe generator: no inbound rules (use SSM Session Manager)",
            "VpcId": vpc_id,
            "TagSpecifications": [{"ResourceType": "security-group", "Tags": tag_list(tags)}],
        }

    @property
    def stream(self) -> str:
        return self.names.delivery_stream

    @property
    def log_group(self) -> str:
        return f"/aws/kinesisfirehose/{self.stream}"

    log_stream = "S3Delivery"

    @property
    def database(self) -> str:
        return self.names.database

    @property
    def crawler(self) -> str:
        return self.names.crawler

    @property
    def job(self) -> str:
        return self.names.job

    @property
    def workgroup(self) -> str:
        return self.names.workgroup

    @property
    def topic(self) -> str:
        return f"{self.stack}-alarms"

    @property
    def topic_arn(self) -> str:
        return f"arn:{self.partition}:sns:{self.region}:{self.account}:{self.topic}"

    @property
    def firehose_alarm(self) -> str:
        return f"{self.stack}-firehose-delivery-failures"

    @property
    def glue_rule(self) -> str:
        return f"{self.stack}-glue-job-failed"

    @property
    def glue_rule_arn(self) -> str:
        return f"arn:{self.partition}:events:{self.region}:{self.account}:rule/{self.glue_rule}"

    # S3 ------------------------------------------------------------------------------------
    def create_bucket_params(self, role: str) -> dict[str, Any]:
        params: dict[str, Any] = {
            "Bucket": self.bucket(role),
            "ObjectOwnership": "BucketOwnerEnforced",
        }
        if self.region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        return params

    @property
    def public_access_block(self) -> dict[str, bool]:
        return {
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        }

    @property
    def encryption(self) -> dict[str, Any]:
        if self.options.kms_key is None:
            return {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
        default = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.options.kms_key}
        # A bucket key makes S3 call KMS far less often (KMS requests are billed).
        return {
            "Rules": [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": True}]
        }

    def bucket_policy(self, role: str) -> dict[str, Any] | None:
        """Deny plain-HTTP requests; none over a plain-HTTP emulator, which it would lock out."""
        if not self.tls_only:
            return None
        return render_policy("bucket-tls-only", partition=self.partition, bucket=self.bucket(role))

    def lifecycle_rules(self, role: str) -> list[dict[str, Any]]:
        """Raw ages to cheaper storage, Athena results expire, no bucket keeps dead uploads."""
        rules: list[dict[str, Any]] = [
            {
                "ID": "abort-incomplete-uploads",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            }
        ]
        if role == "raw":
            rules.append(
                {
                    "ID": "raw-to-cheaper-storage",
                    "Status": "Enabled",
                    "Filter": {"Prefix": RAW_PREFIX},
                    "Transitions": [
                        {"Days": 30, "StorageClass": "STANDARD_IA"},
                        {"Days": 90, "StorageClass": "GLACIER_IR"},
                    ],
                }
            )
        if role == "lake":
            rules.append(
                {
                    "ID": "lake-to-intelligent-tiering",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Transitions": [{"Days": 0, "StorageClass": "INTELLIGENT_TIERING"}],
                }
            )
        if role == "athena-results":
            rules.append(
                {
                    "ID": "expire-query-results",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Expiration": {"Days": 7},
                }
            )
        if self.options.versioning:
            rules.append(
                {
                    "ID": "expire-old-versions",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
                }
            )
        return rules

    # IAM -----------------------------------------------------------------------------------
    def _policy_values(self) -> dict[str, str]:
        return {
            "partition": self.partition,
            "account": self.account,
            "region": self.region,
            "raw_bucket": self.bucket("raw"),
            "lake_bucket": self.bucket("lake"),
            "scripts_bucket": self.bucket("scripts"),
            "log_group": self.log_group,
            "stream": self.stream,
            "database": self.database,
        }

    def trust_policy(self, service: str) -> dict[str, Any]:
        return render_policy(f"{service}-trust", **self._policy_values())

    def role_policy(self, service: str) -> dict[str, Any]:
        policy = render_policy(f"{service}-policy", **self._policy_values())
        if self.options.kms_key is not None:  # the buckets' key, only through S3
            policy["Statement"].append(
                {
                    "Sid": "BucketKey",
                    "Effect": "Allow",
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": self.options.kms_key,
                    "Condition": {
                        "StringEquals": {"kms:ViaService": f"s3.{self.region}.amazonaws.com"}
                    },
                }
            )
        return policy

    def topic_policy(self) -> dict[str, Any]:
        return render_policy(
            "alarm-topic-policy",
            partition=self.partition,
            account=self.account,
            topic_arn=self.topic_arn,
            rule_arn=self.glue_rule_arn,
        )

    # Firehose ------------------------------------------------------------------------------
    @property
    def firehose_destination(self) -> dict[str, Any]:
        """The fields of the extended S3 destination we own (create and update share them)."""
        return {
            "RoleARN": self.role_arn("firehose"),
            "BucketARN": self.bucket_arn("raw"),
            "Prefix": FIREHOSE_PREFIX,
            "ErrorOutputPrefix": FIREHOSE_ERROR_PREFIX,
            "BufferingHints": {
                "SizeInMBs": self.options.buffer_mb,
                "IntervalInSeconds": self.options.buffer_seconds,
            },
            "CompressionFormat": "GZIP",
            "CloudWatchLoggingOptions": {
                "Enabled": True,
                "LogGroupName": self.log_group,
                "LogStreamName": self.log_stream,
            },
        }

    def create_stream_params(self) -> dict[str, Any]:
        return {
            "DeliveryStreamName": self.stream,
            "DeliveryStreamType": "DirectPut",
            "DeliveryStreamEncryptionConfigurationInput": {"KeyType": "AWS_OWNED_CMK"},
            "ExtendedS3DestinationConfiguration": {
                **self.firehose_destination,
                "S3BackupMode": "Disabled",
            },
            "Tags": tag_list(self.tags),
        }

    # Glue ----------------------------------------------------------------------------------
    @property
    def crawler_definition(self) -> dict[str, Any]:
        """Crawler settings (update_crawler takes the same keys). New folders only, and one
        table for the whole prefix: the hourly folders become partitions of `raw`."""
        return {
            "Name": self.crawler,
            "Role": self.role_arn("glue"),
            "DatabaseName": self.database,
            "Description": f"orderpipe {self.stack}: raw orders delivered by Firehose",
            "Targets": {"S3Targets": [{"Path": self.s3_url("raw", RAW_PREFIX)}]},
            "SchemaChangePolicy": {"UpdateBehavior": "LOG", "DeleteBehavior": "LOG"},
            "RecrawlPolicy": {"RecrawlBehavior": "CRAWL_NEW_FOLDERS_ONLY"},
            "Configuration": json.dumps(
                {
                    "Version": 1.0,
                    "Grouping": {"TableGroupingPolicy": "CombineCompatibleSchemas"},
                    "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
                },
                sort_keys=True,
            ),
        }

    @property
    def job_arguments(self) -> dict[str, str]:
        return {
            "--job-language": "python",
            "--job-bookmark-option": "job-bookmark-enable",
            "--enable-metrics": "true",
            "--enable-observability-metrics": "true",
            "--enable-auto-scaling": "true",
            "--extra-py-files": self.s3_url("scripts", PACKAGE_KEY),
            "--TempDir": self.s3_url("scripts", "glue-temp/"),
            "--raw_path": self.s3_url("raw", RAW_PREFIX),
            "--lake_path": self.s3_url("lake"),
            "--database": self.database,
            "--aws_region": self.region,
            "--fx_rate": str(self.settings.fx_rate),
            "--high_value_threshold": str(self.settings.high_value_threshold),
        }

    @property
    def job_definition(self) -> dict[str, Any]:
        """The job as update_job's JobUpdate (which replaces the whole definition)."""
        return {
            "Description": f"orderpipe {self.stack}: raw orders to partitioned Parquet",
            "Role": self.role_arn("glue"),
            "Command": {
                "Name": "glueetl",
                "ScriptLocation": self.s3_url("scripts", SCRIPT_KEY),
                "PythonVersion": "3",
            },
            "DefaultArguments": self.job_arguments,
            "GlueVersion": self.options.glue_version,
            "WorkerType": "G.1X",
            "NumberOfWorkers": self.options.glue_workers,
            "ExecutionClass": "FLEX" if self.options.flex else "STANDARD",
            "ExecutionProperty": {"MaxConcurrentRuns": 1},
            "MaxRetries": 0,
            "Timeout": self.options.job_timeout_minutes,
        }

    def table_input(self, table: str) -> dict[str, Any]:
        columns, partition_keys = glue_columns(TABLE_MODELS[table])
        return {
            "Name": table,
            "Description": f"orderpipe {self.stack}: written by the transform job",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {
                "classification": "parquet",
                "EXTERNAL": "TRUE",
                "parquet.compression": "ZSTD",
                "orderpipe:stack": self.stack,
            },
            "PartitionKeys": partition_keys,
            "StorageDescriptor": {
                "Columns": columns,
                "Location": self.s3_url("lake", f"{table}/"),
                **PARQUET_STORAGE,
            },
        }

    @property
    def tables(self) -> tuple[str, ...]:
        return tuple(TABLE_MODELS)

    # Athena --------------------------------------------------------------------------------
    @property
    def workgroup_configuration(self) -> dict[str, Any]:
        return {
            "ResultConfiguration": {
                "OutputLocation": self.s3_url("athena-results"),
                "EncryptionConfiguration": self.results_encryption,
            },
            "EnforceWorkGroupConfiguration": True,
            "PublishCloudWatchMetricsEnabled": True,
            "BytesScannedCutoffPerQuery": self.options.scan_cutoff_gb * 1024**3,
        }

    @property
    def results_encryption(self) -> dict[str, str]:
        if self.options.kms_key is None:
            return {"EncryptionOption": "SSE_S3"}
        return {"EncryptionOption": "SSE_KMS", "KmsKey": self.options.kms_key}

    @property
    def workgroup_update(self) -> dict[str, Any]:
        config = self.workgroup_configuration
        return {
            "ResultConfigurationUpdates": config["ResultConfiguration"],
            "EnforceWorkGroupConfiguration": config["EnforceWorkGroupConfiguration"],
            "PublishCloudWatchMetricsEnabled": config["PublishCloudWatchMetricsEnabled"],
            "BytesScannedCutoffPerQuery": config["BytesScannedCutoffPerQuery"],
        }

    # alarms --------------------------------------------------------------------------------
    @property
    def firehose_alarm_params(self) -> dict[str, Any]:
        """DeliveryToS3.Success is the share of successful S3 puts: its minimum below 1 in a
        5-minute period means Firehose failed to write some data (missing data = idle = ok)."""
        return {
            "AlarmName": self.firehose_alarm,
            "AlarmDescription": f"orderpipe {self.stack}: Firehose failed to deliver to S3",
            "Namespace": "AWS/Firehose",
            "MetricName": "DeliveryToS3.Success",
            "Dimensions": [{"Name": "DeliveryStreamName", "Value": self.stream}],
            "Statistic": "Minimum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1.0,
            "ComparisonOperator": "LessThanThreshold",
            "TreatMissingData": "notBreaching",
            "ActionsEnabled": True,
            "AlarmActions": [self.topic_arn],
        }

    @property
    def glue_rule_pattern(self) -> dict[str, Any]:
        """Every failed, timed-out or errored run of our job (EventBridge sees each run's end,
        which no Spark metric does when a job dies before Spark starts)."""
        return {
            "source": ["aws.glue"],
            "detail-type": ["Glue Job State Change"],
            "detail": {"jobName": [self.job], "state": ["FAILED", "TIMEOUT", "ERROR"]},
        }

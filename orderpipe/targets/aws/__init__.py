"""The aws target: the pipeline on S3, Firehose, Glue and Athena; boto3 stays in this package."""

from orderpipe.targets.aws.target import AwsTarget

__all__ = ["AwsTarget"]

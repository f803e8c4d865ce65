"""The local target: folders for buckets, a built-in Firehose, local Spark, DuckDB."""

from orderpipe.targets.local.target import LocalTarget

__all__ = ["LocalTarget"]

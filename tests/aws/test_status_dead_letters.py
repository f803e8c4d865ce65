"""`status --target aws` counts the lines this machine's agent set aside (over Firehose's record
limit) and says where they are kept."""

from __future__ import annotations

from pathlib import Path

from moto import mock_aws

from orderpipe.settings import Settings
from orderpipe.targets import get_target


def test_aws_status_counts_dead_lettered_lines(aws_credentials: None, home: Path) -> None:
    with mock_aws():
        target = get_target(Settings(target="aws", stack="dl", home=home, region="eu-west-1"))
        assert not [r for r in target.status().resources if r.name == "dead-letter"]
        folder = target.state_dir / "agent" / "dead-letter"
        folder.mkdir(parents=True)
        for offset in (0, 2_000_000):
            (folder / f"orders-1.ndjson.{offset}.line").write_bytes(b"x" * 10 + b"\n")
        (row,) = [r for r in target.status().resources if r.name == "dead-letter"]
    assert row.state == "2 line(s)" and str(folder) in row.detail

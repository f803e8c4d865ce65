"""Every path under `--home`, named once (design.md §3.5). The local target, its status, the
agent's callers and the aws target's local state take their paths from a HomeLayout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class HomeLayout:
    root: Path

    @classmethod
    def of(cls, home: str | Path) -> HomeLayout:
        return cls(Path(home).expanduser().absolute())

    @property
    def logs(self) -> Path:
        """Order logs: `generate` writes them, the agent ships them."""
        return self.root / "logs"

    @property
    def marker(self) -> Path:
        """The file `up` writes to mark a home as orderpipe's (see targets/local/home.py)."""
        return self.root / ".orderpipe-home"

    @property
    def buckets(self) -> Path:
        """The local target's object store: a folder per bucket."""
        return self.root / "buckets"

    def bucket(self, name: str) -> Path:
        return self.buckets / name

    @property
    def state(self) -> Path:
        """The local target's state: agent, catalog, crawler, spool, bookmarks, scratch."""
        return self.root / "state"

    @property
    def aws_states(self) -> Path:
        """What the aws target keeps on this machine (the agent of `generate --here`), by stack."""
        return self.root / "aws-state"

    def aws_state(self, stack: str) -> Path:
        return self.aws_states / stack

    @property
    def made(self) -> frozenset[Path]:
        """Everything orderpipe itself creates directly in a home."""
        return frozenset({self.marker, self.logs, self.buckets, self.state, self.aws_states})


@dataclass(frozen=True)
class StateLayout:
    """The files in one target's state folder."""

    root: Path

    @property
    def agent(self) -> Path:
        """The agent's checkpoints, lock and dead letters."""
        return self.root / "agent"

    @property
    def firehose_spool(self) -> Path:
        return self.root / "firehose"

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.json"

    @property
    def crawler(self) -> Path:
        return self.root / "crawler.json"

    def bookmark(self, job: str) -> Path:
        return self.root / "bookmarks" / f"{job}.json"

    @property
    def spark_scratch(self) -> Path:
        return self.root / "spark"

    @property
    def duckdb_scratch(self) -> Path:
        return self.root / "duckdb-tmp"

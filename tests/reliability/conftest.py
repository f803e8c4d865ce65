"""Real faulty disks for the reliability tests: small and read-only tmpfs mounts (needs root;
skipped otherwise), so a full disk is a real ENOSPC from the kernel, not a mock."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


def _mount(where: Path, options: str) -> Iterator[Path]:
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB file system."""
    yield from _mount(tmp_path / "disk", "size=1m")


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mount(tmp_path / "ro", "ro,size=64k")


def _fill(disk: Path) -> Path:
    """Take every free byte of `disk`; delete the returned file to free them again."""
    filler = disk / "filler"
    with filler.open("wb", buffering=0) as handle:
        for block in (65536, 1):  # big blocks, then the last partial one
            try:
                while True:
                    handle.write(b"\0" * block)
            except OSError:
                pass
    return filler


@pytest.fixture
def fill() -> Callable[[Path], Path]:
    return _fill

"""The job package that travels to Glue: complete, reproducible, and importable without pydantic."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from orderpipe.job.job_package import build_job_package
from orderpipe.models import table_specs

JOB_DIR = Path(__file__).resolve().parents[2] / "orderpipe" / "job"
EXPECTED = {
    "orderpipe/__init__.py",
    "orderpipe/errors.py",
    "orderpipe/fsutil.py",
    "orderpipe/job/schema.json",
    *(f"orderpipe/job/{p.name}" for p in JOB_DIR.glob("*.py")),
}


def test_package_holds_the_job_modules_and_the_schema() -> None:
    archive = zipfile.ZipFile(io.BytesIO(build_job_package()))
    assert set(archive.namelist()) == EXPECTED
    assert json.loads(archive.read("orderpipe/job/schema.json")) == table_specs()


def test_same_sources_give_the_same_bytes_an_hour_later(monkeypatch: pytest.MonkeyPatch) -> None:
    """Zip timestamps have a 2-second grain: move the clock well past it between the builds."""
    first = build_job_package()
    later, localtime = time.time() + 3600, time.localtime
    monkeypatch.setattr(time, "time", lambda: later)
    monkeypatch.setattr(
        time, "localtime", lambda secs=None: localtime(later if secs is None else secs)
    )
    assert hashlib.sha256(build_job_package()).hexdigest() == hashlib.sha256(first).hexdigest()


def test_job_modules_import_from_the_zip_without_pydantic(tmp_path: Path) -> None:
    """As on Glue 6.0: only the zip on the path, pydantic not importable."""
    package = tmp_path / "job.zip"
    package.write_bytes(build_job_package())
    probe = f"""
import json, sys
class NoPydantic:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pydantic", "pydantic_settings", "typer", "rich"):
            raise ImportError("not on Glue: " + name)
sys.meta_path.insert(0, NoPydantic())
sys.path.insert(0, {str(package)!r})
import orderpipe.job.job_io, orderpipe.job.transform
module = orderpipe.job.transform
assert module.__file__.startswith({str(package)!r}), module.__file__
print(json.dumps(orderpipe.job.transform.table_specs()))
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == table_specs()

"""Files `up` keeps in the scripts bucket: the Glue script, its package, the EC2 generator.

Each is built to the same bytes every time, so `up` re-uploads only when its sha256 changes.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile

from orderpipe import __version__
from orderpipe.errors import NotReadyError
from orderpipe.paths import GLUE_SCRIPT, PACKAGE, TEMPLATES
from orderpipe.targets.aws.options import AwsOptions
from orderpipe.targets.aws.resources import (
    GENERATOR_KEY,
    LAUNCH_KEY,
    PACKAGE_KEY,
    SCRIPT_KEY,
    Artifact,
)

# The generator's package as the instance installs it (dependencies come from user-data).
GENERATOR_PYPROJECT = f"""[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "orderpipe"
version = "{__version__}"
requires-python = ">=3.11"

[project.scripts]
orderpipe = "orderpipe.cli:main"

[tool.setuptools.packages.find]
include = ["orderpipe*"]

[tool.setuptools.package-data]
"*" = ["*.json", "*.sql", "*.sh", "*.csv", "*.md", "py.typed"]
"""


SHIPPED_APART = {"templates", "glue_scripts"}  # in a wheel: templates come from TEMPLATES


def source_tarball() -> bytes:
    """orderpipe (with its templates) as a pip-installable, deterministic .tar.gz, built from
    the installed package as well as from a checkout."""
    members: dict[str, bytes] = {"pyproject.toml": GENERATOR_PYPROJECT.encode()}
    for path in PACKAGE.rglob("*"):
        relative = path.relative_to(PACKAGE)
        skipped = relative.parts[0] in SHIPPED_APART or "__pycache__" in relative.parts
        if path.is_file() and not skipped:
            members[f"orderpipe/{relative.as_posix()}"] = path.read_bytes()
    for path in TEMPLATES.rglob("*"):
        if path.is_file():
            members[f"orderpipe/templates/{path.relative_to(TEMPLATES).as_posix()}"] = (
                path.read_bytes()
            )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(f"orderpipe/{name}")
            info.size, info.mtime, info.mode = len(members[name]), 0, 0o644
            tar.addfile(info, io.BytesIO(members[name]))
    return gzip.compress(raw.getvalue(), mtime=0)


def job_artifacts() -> list[Artifact]:
    """The Glue entry script, the package of modules it imports, and the generator."""
    if not GLUE_SCRIPT.is_file():
        raise NotReadyError(f"The Glue script {GLUE_SCRIPT} is missing from this checkout.")
    from orderpipe.job.job_package import build_job_package

    return [
        Artifact(SCRIPT_KEY, GLUE_SCRIPT.read_bytes(), "text/x-python"),
        Artifact(PACKAGE_KEY, build_job_package(), "application/zip"),
        Artifact(GENERATOR_KEY, source_tarball(), "application/gzip"),
    ]


def launch_settings(options: AwsOptions) -> Artifact:
    """How `generate` launches the generator, as `up` was told (read back by ec2.py)."""
    body = json.dumps({"spot": options.spot}, sort_keys=True).encode()
    market = "on Spot (cheaper; AWS may reclaim it)" if options.spot else "on demand"
    return Artifact(LAUNCH_KEY, body, "application/json", reason=f"generator {market}")

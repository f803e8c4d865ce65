"""Files `up` keeps in the scripts bucket: the Glue script, its package, the EC2 generator.

Each is built to the same bytes every time, so `up` re-uploads only when its sha256 changes.
"""

from __future__ import annotations

import gzip
import io
import tarfile

from orderpipe.errors import NotReadyError
from orderpipe.paths import GLUE_SCRIPT, PROJECT_ROOT
from orderpipe.targets.aws.resources import GENERATOR_KEY, PACKAGE_KEY, SCRIPT_KEY, Artifact


def source_tarball() -> bytes:
    """The orderpipe source tree as a pip-installable, deterministic .tar.gz."""
    files = [PROJECT_ROOT / "pyproject.toml", PROJECT_ROOT / "README.md"]
    for folder, pattern in (("orderpipe", "*.py"), ("orderpipe", "py.typed"), ("templates", "*")):
        files += (p for p in (PROJECT_ROOT / folder).rglob(pattern) if p.is_file())
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for path in sorted(set(files)):
            if "__pycache__" in path.parts:
                continue
            info = tarfile.TarInfo(f"orderpipe/{path.relative_to(PROJECT_ROOT)}")
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def job_artifacts() -> list[Artifact]:
    """The Glue entry script, the package of modules it imports, and the generator."""
    if not GLUE_SCRIPT.is_file():
        raise NotReadyError(f"The Glue script {GLUE_SCRIPT} is missing from this checkout.")
    from orderpipe.job_package import build_job_package

    return [
        Artifact(SCRIPT_KEY, GLUE_SCRIPT.read_bytes(), "text/x-python"),
        Artifact(PACKAGE_KEY, build_job_package(), "application/zip"),
        Artifact(GENERATOR_KEY, source_tarball(), "application/gzip"),
    ]

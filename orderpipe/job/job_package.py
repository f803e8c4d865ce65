"""The zip that travels to Glue as `--extra-py-files`: the `orderpipe.job` package folder as it
is (every module in it) with the stdlib-only modules it shares (errors, fsutil), plus the schema
rendered as `orderpipe/job/schema.json` (Glue has no pydantic).

The zip is byte-for-byte reproducible (fixed order and timestamps), so its SHA-256 changes only
when its content does: the aws target re-uploads it only then.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from orderpipe.job.transform import SCHEMA_NAME, table_specs

JOB_DIR = Path(__file__).resolve().parent
# Standard-library modules outside the package that the job imports (state files, errors).
SHARED = ("__init__.py", "errors.py", "fsutil.py")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def schema_json() -> bytes:
    return json.dumps(table_specs(), indent=1, sort_keys=True).encode()


def build_job_package() -> bytes:
    """The job zip's bytes: orderpipe/{__init__,errors,fsutil}.py, orderpipe/job/*.py and
    orderpipe/job/schema.json. Same sources, same bytes (and so the same sha256)."""
    members = {f"orderpipe/{name}": (JOB_DIR.parent / name).read_bytes() for name in SHARED}
    members |= {f"orderpipe/job/{p.name}": p.read_bytes() for p in JOB_DIR.glob("*.py")}
    members[f"orderpipe/job/{SCHEMA_NAME}"] = schema_json()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, members[name])
    return buffer.getvalue()

"""The zip that travels to Glue as `--extra-py-files`: the pydantic-free modules the job imports,
plus the schema rendered as `orderpipe/schema.json` (Glue 6.0 has no pydantic).

The zip is byte-for-byte reproducible (fixed order and timestamps), so its SHA-256 changes only
when its content does: the aws target re-uploads it only then.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from orderpipe.models import table_specs

PACKAGE_DIR = Path(__file__).resolve().parent
MODULES = ("__init__.py", "errors.py", "fsutil.py", "transform.py", "job_io.py", "localcatalog.py")
SCHEMA_NAME = "schema.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def schema_json() -> bytes:
    return json.dumps(table_specs(), indent=1, sort_keys=True).encode()


def build_job_package() -> bytes:
    """The job zip's bytes: orderpipe/{__init__,errors,fsutil,transform,job_io,localcatalog}.py and
    orderpipe/schema.json. Same sources, same bytes (and so the same sha256)."""
    members = {f"orderpipe/{name}": (PACKAGE_DIR / name).read_bytes() for name in MODULES}
    members[f"orderpipe/{SCHEMA_NAME}"] = schema_json()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, members[name])
    return buffer.getvalue()

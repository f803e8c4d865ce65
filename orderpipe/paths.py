"""Where the project's non-Python files live (templates, the Glue script, the sample data).

Installed from a wheel, templates/ and glue_scripts/ sit inside the package (orderpipe/templates,
orderpipe/glue_scripts); in a checkout (an editable install) they are the repo's top-level folders.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE = Path(str(files("orderpipe")))


def _shipped(folder: str) -> Path:
    """`orderpipe/<folder>` in an installed wheel, else the checkout's top-level `<folder>`."""
    inside = PACKAGE / folder
    return inside if inside.is_dir() else PACKAGE.parent / folder


TEMPLATES = _shipped("templates")
GLUE_SCRIPT = _shipped("glue_scripts") / "transform_order_history.py"
DATA = PACKAGE / "data"
SAMPLE_CSV = DATA / "online_retail_sample.csv"

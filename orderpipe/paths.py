"""Where the project's non-Python files live (templates, the Glue script)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = PROJECT_ROOT / "templates"
GLUE_SCRIPT = PROJECT_ROOT / "glue_scripts" / "transform_order_history.py"


def load_glue_script() -> ModuleType:
    """The Glue entry point, imported from its file as Glue runs it (it is not a package)."""
    spec = importlib.util.spec_from_file_location("transform_order_history", GLUE_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

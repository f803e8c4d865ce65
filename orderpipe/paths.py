"""Where the project's non-Python files live (templates, the Glue script)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = PROJECT_ROOT / "templates"
GLUE_SCRIPT = PROJECT_ROOT / "glue_scripts" / "transform_order_history.py"

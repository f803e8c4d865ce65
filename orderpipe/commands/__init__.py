"""Command groups: thin — parse options, call a target or the core, render the result."""

from __future__ import annotations

import typer

from orderpipe.settings import Settings


def settings_of(ctx: typer.Context) -> Settings:
    """The merged settings the root callback stored on the context."""
    root = ctx.find_root()
    assert isinstance(root.obj, Settings)
    return root.obj

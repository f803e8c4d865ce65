"""Command groups: thin — parse options, call a target or the core, render the result."""

from __future__ import annotations

import math

import typer

from orderpipe.settings import Settings


def settings_of(ctx: typer.Context) -> Settings:
    """The merged settings the root callback stored on the context."""
    root = ctx.find_root()
    assert isinstance(root.obj, Settings)
    return root.obj


def finite_rate(value: float | None) -> float | None:
    """A `--rate` option: a positive, finite number of lines per second (not inf, nan or 0)."""
    if value is not None and not (math.isfinite(value) and value >= 0.001):
        raise typer.BadParameter(
            f"{value} is not a rate: give a positive number of lines per second (at least 0.001),"
            " or leave --rate out to go as fast as possible."
        )
    return value

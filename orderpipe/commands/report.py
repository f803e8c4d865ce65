"""report: the named queries as one static HTML dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from orderpipe import console
from orderpipe.commands import settings_of


def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(dir_okay=False, help="Where to write the HTML.")] = Path(
        "orderpipe-report.html"
    ),
) -> None:
    """Write an HTML dashboard of the named queries, with charts."""
    from orderpipe import queries
    from orderpipe.fsutil import atomic_write
    from orderpipe.report import html_report
    from orderpipe.targets import get_target

    target = get_target(settings_of(ctx))
    sections = []
    with console.stage("report") as stage:
        for named in queries.load().values():
            sql, values = queries.resolve(named, {})
            sections.append((named.name, named.help, target.query(sql, values)))
        title = f"orderpipe — {target.names.stack} ({target.name})"
        atomic_write(out, html_report(title, sections).encode())
        stage["detail"] = f"{len(sections)} queries → {out}"


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Analysis")(report)

"""report: one self-contained HTML dashboard of the named queries."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from orderpipe import console
from orderpipe.commands import settings_of

if TYPE_CHECKING:
    from orderpipe.results import Lag
    from orderpipe.targets.base import Target


def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(dir_okay=False, help="Where to write the HTML.")] = Path(
        "orderpipe-report.html"
    ),
    open_: Annotated[
        bool, typer.Option("--open", help="Open the page in the default browser.")
    ] = False,
) -> None:
    """Write an HTML dashboard: headline figures and interactive charts, viewable offline."""
    from orderpipe import report as core
    from orderpipe.fsutil import atomic_write
    from orderpipe.targets import get_target

    target = get_target(settings_of(ctx))
    with console.stage("report") as stage:
        results = core.run_queries(target.query)
        data = core.ReportData(
            title=f"orderpipe — {target.names.stack} ({target.name})",
            results=results,
            lag=_lag(target),
        )
        page = core.render(data).encode()
        atomic_write(out, page)
        detail = f"{len(results)} queries, {len(page) / 1024:,.0f} KB → {out}"
        if data.scan_summary:
            detail += f"; {data.scan_summary}"
        stage["detail"] = detail  # plain text: the stage escapes it
    if open_:
        import webbrowser

        webbrowser.open(out.resolve().as_uri())


def _lag(target: Target) -> Lag | None:
    """The lag card's figures; when they cannot be read the card stays blank, not the report."""
    from orderpipe.errors import OrderpipeError

    try:
        return target.lag()
    except OrderpipeError as exc:
        console.warn(f"lag unknown ({exc})")
        return None


def register(app: typer.Typer) -> None:
    app.command(rich_help_panel="Analysis")(report)

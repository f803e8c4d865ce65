"""query: the named queries of templates/queries.sql, or ad-hoc SQL, on the target's engine."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from orderpipe import console
from orderpipe.commands import settings_of
from orderpipe.render import OutputFormat, bar_chart, byte_size, print_result, text_table


class NamedQueryGroup(TyperGroup):
    """`query NAME …` runs a named query; `query list` and `query sql` are subcommands."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


query_app = typer.Typer(
    cls=NamedQueryGroup,
    help="Run a named query (`orderpipe query top-orders`), list them, or run ad-hoc SQL.",
    no_args_is_help=True,
)

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", help="table, csv or json (one array of objects).")
]
ReuseOption = Annotated[
    int | None,
    typer.Option(
        "--reuse",
        metavar="MINUTES",
        min=1,
        max=10080,
        help="aws target: Athena may answer with the result of the same query run at most "
        "MINUTES ago (no scan, no cost).",
    ),
]


def _run(ctx: typer.Context, sql: str, params: list[Any], fmt: OutputFormat, title: str,
         chart: bool = False, reuse: int | None = None) -> None:  # fmt: skip
    from orderpipe.targets import get_target

    target = get_target(settings_of(ctx))
    result = target.query(sql, params, reuse_minutes=reuse)
    print_result(result, fmt, title)
    if chart and fmt is OutputFormat.table:
        bar_chart(result, title)
    scanned = ""
    if result.bytes_scanned is not None:
        scanned = f", {byte_size(result.bytes_scanned)} scanned (${result.cost_usd or 0:.4f})"
    console.info(f"{len(result.rows):,} row(s) in {result.seconds:.2f}s{scanned}", style="dim")


@query_app.command("run", hidden=True)
def run_named(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A named query; see `orderpipe query list`.")],
    fmt: FormatOption = OutputFormat.table,
    chart: Annotated[bool, typer.Option("--chart", help="Also draw a bar chart.")] = False,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="k=v, bound as a query parameter.")
    ] = None,
    reuse: ReuseOption = None,
) -> None:
    """Run a named query."""
    from orderpipe import queries
    from orderpipe.errors import UsageError

    known = queries.load()
    if name not in known:
        raise UsageError(
            f"there is no query named {name!r}; the named queries are: {', '.join(known)}."
        )
    sql, values = queries.resolve(known[name], queries.parse_params(param or []))
    _run(ctx, sql, values, fmt, name, chart, reuse)


@query_app.command("list")
def list_queries() -> None:
    """The named queries and their parameters."""
    from orderpipe import queries

    rows = [
        (q.name, q.help, ", ".join(f"{k}={v}" for k, v in q.defaults.items()))
        for q in queries.load().values()
    ]
    console.out.print(text_table("Named queries", ("name", "what", "params"), rows))


@query_app.command("sql")
def adhoc_sql(
    ctx: typer.Context,
    sql: Annotated[str, typer.Argument(help="SQL for the target's engine (DuckDB or Athena).")],
    fmt: FormatOption = OutputFormat.table,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="k=v, bound to :k in the SQL.")
    ] = None,
    reuse: ReuseOption = None,
) -> None:
    """Run ad-hoc SQL over transformed_orders and quarantined_orders."""
    from orderpipe import queries
    from orderpipe.errors import UsageError

    if not sql.replace(";", " ").strip():
        raise UsageError(
            "the SQL is empty: give one statement, e.g. "
            '`orderpipe query sql "SELECT count(*) FROM transformed_orders"`.'
        )

    text, values = queries.bind(sql, queries.parse_params(param or []))
    _run(ctx, text, values, fmt, "query", reuse=reuse)


def register(app: typer.Typer) -> None:
    app.add_typer(query_app, name="query", rich_help_panel="Analysis")

"""Turning results into what a person (table, chart) or a program (CSV, JSON) reads."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

from orderpipe import console

if TYPE_CHECKING:  # annotations only: `orderpipe --help` loads no target code
    from orderpipe.results import ResourceRow
    from orderpipe.targets.base import Action, QueryResult


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class ReportFormat(StrEnum):
    """`--format` of a command that prints one report (status): no CSV shape for it."""

    table = "table"
    json = "json"


def byte_size(n: float) -> str:
    """A size as people read it: 512 B, 1.5 KB, 12.3 MB, 2.0 GB (binary units)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def plain(value: Any) -> Any:
    """A value as JSON wants it: numbers as numbers, dates as YYYY-MM-DD, times ISO-8601,
    intervals as ISO-8601 durations (`P1DT2H`), bytes as text; anything else JSON lacks as text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return _duration(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)  # UUID, Interval objects, …: their text


def _duration(value: dt.timedelta) -> str:
    """ISO-8601 duration, e.g. `P1DT2H30M`, `-PT5S`, `PT0S`."""
    sign, value = ("-", -value) if value < dt.timedelta(0) else ("", value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    second = f"{seconds}.{value.microseconds:06d}".rstrip("0").rstrip(".")
    time_part = "".join(f"{n}{unit}" for n, unit in ((hours, "H"), (minutes, "M")) if n) + (
        f"{second}S" if seconds or value.microseconds else ""
    )
    days = f"{value.days}D" if value.days else ""
    if not days and not time_part:
        return "PT0S"
    return f"{sign}P{days}" + (f"T{time_part}" if time_part else "")


def records(result: QueryResult) -> list[dict[str, Any]]:
    names = [c.lower() for c in result.columns]
    return [{n: plain(v) for n, v in zip(names, row, strict=True)} for row in result.rows]


def _cell(value: Any) -> str:
    value = plain(value)
    if value is None:
        return "[dim]∅[/]"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return escape(str(value))


def result_table(result: QueryResult, title: str | None = None) -> Table:
    table = Table(title=_text(title), title_justify="left", title_style="bold")
    numeric = {"bigint", "integer", "double", "decimal", "float", "real", "smallint", "tinyint"}
    for name, kind in zip(result.columns, result.types, strict=True):
        table.add_column(escape(name.lower()), justify="right" if kind in numeric else "left")
    for row in result.rows:
        table.add_row(*(_cell(v) for v in row))
    return table


def print_result(result: QueryResult, fmt: OutputFormat, title: str | None = None) -> None:
    if fmt is OutputFormat.json:
        console.out.file.write(json.dumps(records(result), ensure_ascii=False, default=str) + "\n")
    elif fmt is OutputFormat.csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([c.lower() for c in result.columns])
        writer.writerows([["" if v is None else plain(v) for v in row] for row in result.rows])
        console.out.file.write(buffer.getvalue())
    else:
        console.out.print(result_table(result, title))


def bar_chart(result: QueryResult, title: str | None = None, width: int = 40) -> None:
    """Horizontal bars: the first column as label, the last numeric column as value."""
    if not result.rows:
        return
    numeric = [i for i, v in enumerate(result.rows[0]) if isinstance(plain(v), int | float)]
    if not numeric:
        return
    value_at = numeric[-1]
    values = [float(plain(r[value_at]) or 0) for r in result.rows]
    top = max(values) or 1.0
    label_width = max(len(str(r[0])) for r in result.rows)
    if title:
        column = escape(result.columns[value_at].lower())
        console.out.print(f"[bold]{escape(title)}[/] [dim]({column})[/]", highlight=False)
    for row, value in zip(result.rows, values, strict=True):
        bar = "█" * max(1, round(width * value / top)) if value > 0 else ""
        label = escape(f"{row[0]!s:>{label_width}}")
        console.out.print(f"{label} [cyan]{bar}[/] {value:,.2f}", highlight=False)


def key_values(title: str, items: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Table:
    """A two-column table of labelled numbers (run summaries, stage results)."""
    table = Table(title=_text(title), title_justify="left", title_style="bold", show_header=False)
    table.add_column(style="dim")
    table.add_column(justify="right")
    pairs = items.items() if isinstance(items, Mapping) else items
    for key, value in pairs:
        table.add_row(escape(key), _cell(value))
    return table


def _text(value: str | None) -> str | None:
    return None if value is None else escape(value)


def text_table(title: str, columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> Table:
    """A table of text: every cell is printed as it is (escaped), never read as markup."""
    table = Table(title=escape(title), title_justify="left", title_style="bold")
    for column in columns:
        table.add_column(escape(column))
    for row in rows:
        table.add_row(*(escape("" if v is None else str(v)) for v in row))
    return table


def plan_table(plan: list[Action], title: str) -> Table:
    """A plan (`up`, `down`, `dashboard`, `schedule set`): each step, its call and why."""
    table = Table(title=escape(title), title_justify="left", title_style="bold")
    for column in ("", "resource", "call", "why"):
        table.add_column(column)
    style = {"create": "green", "update": "yellow", "upload": "yellow", "delete": "red"}
    for action in plan:
        color = style.get(action.verb, "dim")
        cells = (escape(str(v)) for v in (action.resource, action.api, action.reason))
        table.add_row(f"[{color}]{escape(action.verb)}[/]", *cells)
    return table


STATE_COLORS = {"ok": "green", "missing": "red", "drift": "yellow"}


def resources_table(title: str, rows: Iterable[ResourceRow]) -> Table:
    """Resources and their states (`status`, `dashboard status`): ok green, missing red, drift
    yellow; every cell printed as it is."""
    table = Table(title=escape(title), title_justify="left", title_style="bold")
    for column in ("kind", "name", "state", "detail"):
        table.add_column(column)
    for row in rows:
        color = STATE_COLORS.get(row.state.split(":", 1)[0])
        state = f"[{color}]{escape(row.state)}[/]" if color else escape(row.state)
        table.add_row(escape(row.kind), escape(row.name), state, escape(row.detail))
    return table

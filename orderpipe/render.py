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
from typing import Any

from rich.table import Table

from orderpipe import console
from orderpipe.targets.base import QueryResult


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def plain(value: Any) -> Any:
    """A value as JSON wants it: numbers as numbers, dates as YYYY-MM-DD, times ISO-8601."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


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
    return str(value)


def result_table(result: QueryResult, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    numeric = {"bigint", "integer", "double", "decimal", "float", "real", "smallint", "tinyint"}
    for name, kind in zip(result.columns, result.types, strict=True):
        table.add_column(name.lower(), justify="right" if kind in numeric else "left")
    for row in result.rows:
        table.add_row(*(_cell(v) for v in row))
    return table


def print_result(result: QueryResult, fmt: OutputFormat, title: str | None = None) -> None:
    if fmt is OutputFormat.json:
        console.out.file.write(json.dumps(records(result), ensure_ascii=False) + "\n")
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
        console.out.print(f"[bold]{title}[/] [dim]({result.columns[value_at].lower()})[/]")
    for row, value in zip(result.rows, values, strict=True):
        bar = "█" * max(1, round(width * value / top)) if value > 0 else ""
        console.out.print(f"{row[0]!s:>{label_width}} [cyan]{bar}[/] {value:,.2f}", highlight=False)


def key_values(title: str, items: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Table:
    """A two-column table of labelled numbers (run summaries, stage results)."""
    table = Table(title=title, title_justify="left", title_style="bold", show_header=False)
    table.add_column(style="dim")
    table.add_column(justify="right")
    pairs = items.items() if isinstance(items, Mapping) else items
    for key, value in pairs:
        table.add_row(key, _cell(value))
    return table

"""The one place output goes through. Library code logs; commands print here."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape

# Results go to stdout, everything else (progress, stages, errors) to stderr, so
# `--format json` output can be piped untouched.
out = Console(soft_wrap=True, width=int(os.environ["COLUMNS"]) if "COLUMNS" in os.environ else None)
err = Console(stderr=True)


# Messages are plain text: they carry paths, names and values from users and data, so they are
# escaped here and no value can change the output's markup (a Country `Evil[/]` prints as is).
def info(message: str, style: str | None = None) -> None:
    err.print(escape(message), style=style, highlight=False)


def success(message: str) -> None:
    err.print(f"[green]✓[/] {escape(message)}", highlight=False)


def warn(message: str) -> None:
    err.print(f"[yellow]![/] {escape(message)}", highlight=False)


def error(message: str) -> None:
    err.print(f"[bold red]Error:[/] {escape(message)}", highlight=False, soft_wrap=True)


@contextmanager
def stage(title: str) -> Iterator[dict[str, str]]:
    """Show a spinner while a stage runs, then one line with its timing and numbers.

    The caller fills the yielded dict with a `detail` string (plain text) describing what happened.
    """
    result: dict[str, str] = {"detail": ""}
    started = time.perf_counter()
    title = escape(title)
    with err.status(f"[bold]{title}[/] …"):
        yield result
    seconds = time.perf_counter() - started
    detail = f" — {escape(result['detail'])}" if result["detail"] else ""
    err.print(f"[green]✓[/] [bold]{title}[/] [dim]({seconds:.1f}s)[/]{detail}", highlight=False)


@contextmanager
def progress_bar(title: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
    """A Rich progress bar on stderr; the yielded callback takes the count done so far."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = [SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
               MofNCompleteColumn(), TimeElapsedColumn()]  # fmt: skip
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(escape(title), total=total)

        def advance(done: int) -> None:
            progress.update(task, completed=done)

        yield advance

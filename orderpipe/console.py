"""The one place output goes through. Library code logs; commands print here."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console

# Results go to stdout, everything else (progress, stages, errors) to stderr, so
# `--format json` output can be piped untouched.
out = Console(soft_wrap=True, width=int(os.environ["COLUMNS"]) if "COLUMNS" in os.environ else None)
err = Console(stderr=True)


def info(message: str) -> None:
    err.print(message, highlight=False)


def success(message: str) -> None:
    err.print(f"[green]✓[/] {message}", highlight=False)


def warn(message: str) -> None:
    err.print(f"[yellow]![/] {message}", highlight=False)


def error(message: str) -> None:
    err.print(f"[bold red]Error:[/] {message}", highlight=False, soft_wrap=True)


@contextmanager
def stage(title: str) -> Iterator[dict[str, str]]:
    """Show a spinner while a stage runs, then one line with its timing and numbers.

    The caller fills the yielded dict with a `detail` string describing what happened.
    """
    result: dict[str, str] = {"detail": ""}
    started = time.perf_counter()
    with err.status(f"[bold]{title}[/] …"):
        yield result
    seconds = time.perf_counter() - started
    detail = f" — {result['detail']}" if result["detail"] else ""
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
        task = progress.add_task(title, total=total)

        def advance(done: int) -> None:
            progress.update(task, completed=done)

        yield advance

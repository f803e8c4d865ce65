"""Running orderpipe as a user types it, for every test: `cli` in-process (Typer's CliRunner),
`orderpipe` as a subprocess. Both assert the exit code and the error contract, and return what
was printed, stdout and stderr apart."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV = {"COLUMNS": "200", "TERM": "dumb"}  # wide enough that Rich wraps no sentence we look for
ORDERPIPE = Path(sys.executable).with_name("orderpipe")
FIRST_ORDER = {  # the first line of the Online Retail data set, as a raw record
    "InvoiceNo": "536365",
    "StockCode": "85123A",
    "Description": "WHITE HANGING HEART T-LIGHT HOLDER",
    "Quantity": 6,
    "InvoiceDate": "2010-12-01 08:26:00",
    "UnitPrice": 2.55,
    "CustomerID": "17850",
    "Country": "United Kingdom",
}


@dataclass(frozen=True)
class Ran:
    """One finished command: its exit code and what it printed."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """Everything on the terminal, stdout then stderr."""
        return self.stdout + self.stderr

    @property
    def said(self) -> str:
        """Everything printed, as one line (Rich wraps long sentences)."""
        return " ".join(self.output.split())

    def json(self) -> Any:
        return json.loads(self.stdout)


def _checked(args: list[str], ran: Ran, code: int) -> Ran:
    """The exit code is `code`; no traceback without --debug; no message says "unexpected"."""
    assert ran.code == code, (
        f"orderpipe {' '.join(args)}: exit {ran.code}, not {code}\n{ran.output}"
    )
    if "--debug" not in args:
        assert "Traceback" not in ran.stderr, ran.stderr
    assert "unexpected" not in ran.stderr, ran.stderr
    return ran


def cli(
    home: Path | None,
    *args: str | Path,
    code: int = 0,
    input: str | None = None,
    env: dict[str, str] | None = None,
) -> Ran:
    """`orderpipe [--home HOME] ARGS` in this process. A crash (any exception but the exit the
    CLI chose) fails the test with its own traceback, whatever code was expected."""
    from typer.testing import CliRunner

    from orderpipe.cli import app

    words = ([] if home is None else ["--home", str(home)]) + [str(a) for a in args]
    result = CliRunner().invoke(app, words, input=input, env={**ENV, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return _checked(words, Ran(result.exit_code, result.stdout, result.stderr), code)


def orderpipe(
    *args: str | Path,
    code: int = 0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
) -> Ran:
    """`orderpipe ARGS` as a subprocess of its own (signals, concurrency, a real environment).
    `env` replaces the environment, as subprocess does."""
    words = [str(a) for a in args]
    done = subprocess.run(
        [str(ORDERPIPE), *words], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    return _checked(words, Ran(done.returncode, done.stdout, done.stderr), code)


def orderpipe_until(
    *args: str | Path,
    ready: Callable[[], bool],
    signal: int,
    code: int = 0,
    env: dict[str, str] | None = None,
    wait: float = 60,
) -> Ran:
    """`orderpipe ARGS` as a subprocess, sent `signal` once `ready()` (or after `wait` seconds),
    as a user presses Ctrl-C or a service manager stops it."""
    words = [str(a) for a in args]
    process = subprocess.Popen([str(ORDERPIPE), *words], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not ready():
            time.sleep(0.2)
        process.send_signal(signal)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    return _checked(words, Ran(process.returncode, out, err), code)


def query_json(home: Path, sql: str) -> list[dict[str, Any]]:
    """The rows of `query sql SQL --format json`."""
    return cli(home, "query", "sql", sql, "--format", "json").json()

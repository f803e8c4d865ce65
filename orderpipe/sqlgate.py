"""The read-only gate every query passes before an engine sees it: one read statement, by parsing.

Accepted: a query (SELECT, WITH, FROM-first, VALUES, set operations, PIVOT), DESCRIBE, SHOW,
SUMMARIZE and EXPLAIN of any of those. Anything that could write, change settings or reach
outside (COPY, ATTACH, CREATE, DROP, SET, INSTALL, CALL, PRAGMA, …) is refused, wherever in the
statement it hides. The engines add their own fence behind this one (see targets/local/duck.py).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from orderpipe.errors import QueryFailed

ALLOWED = "SELECT, WITH, DESCRIBE, SHOW, EXPLAIN or SUMMARIZE"


class QueryRefused(QueryFailed):
    """The SQL is not one read statement; the message says why."""


def check_read_only(sql: str, dialect: str) -> None:
    """Raise QueryRefused unless `sql` is exactly one read statement in `dialect`."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError

    logger = logging.getLogger("sqlglot")  # it warns when it falls back to a bare Command
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        statements = [
            s
            for s in sqlglot.parse(sql, read=dialect)
            if s is not None and not isinstance(s, exp.Semicolon)
        ]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        reason = re.sub(r" but got <Token .*", "", str(first.get("description", exc)))
        near = f" near {first['highlight']!r}" if first.get("highlight") else ""
        where = f" (line {first['line']}, column {first['col']})" if "line" in first else ""
        raise QueryRefused(
            f"the query failed: SQL syntax error{near}{where}: {reason.rstrip('.').lower()}."
        ) from None
    finally:
        logger.setLevel(level)
    if not statements:
        raise QueryRefused(f"there is no SQL statement to run; give one {ALLOWED} statement.")
    if len(statements) > 1:
        raise QueryRefused(
            f"only one statement is run at a time, and this SQL holds {len(statements)}; "
            "run them one by one."
        )
    _check_statement(statements[0], dialect)


def _check_statement(tree: Any, dialect: str) -> None:
    from sqlglot import exp

    reads = (exp.Query, exp.Subquery, exp.Values, exp.Describe, exp.Show, exp.Summarize, exp.Pivot)
    if isinstance(tree, exp.Command):
        rest = tree.expression  # the text after the keyword: a Literal, or a bare str
        rest = rest.name if isinstance(rest, exp.Expression) else str(rest or "")
        _check_command(str(tree.this).upper(), rest, dialect)
        return
    if not isinstance(tree, reads):
        raise _refusal(_keyword(tree, dialect))
    writes = (exp.DML, exp.DDL, exp.Copy, exp.Attach, exp.Detach, exp.Set, exp.Pragma, exp.Use,
              exp.Transaction, exp.Commit, exp.Rollback, exp.Command, exp.Install, exp.LoadData,
              exp.Into, exp.Export, exp.Refresh, exp.Cache, exp.Uncache, exp.Grant, exp.Revoke,
              exp.Comment, exp.Analyze, exp.Merge)  # fmt: skip
    hidden = tree.find(*writes)
    if hidden is not None:
        raise _refusal(_keyword(hidden, dialect), inside=True)


def _check_command(keyword: str, rest: str, dialect: str) -> None:
    """Statements the parser keeps as text: EXPLAIN [ANALYZE] <read>, SHOW <names>."""
    if keyword == "EXPLAIN":  # EXPLAIN [ANALYZE] [VERBOSE] [(TYPE x, FORMAT y)] <statement>
        options = (
            r"^\s*(?:ANALY[SZ]E\s+)?(?:VERBOSE\s+)?(?:\((?:\s*(?:TYPE|FORMAT)\s+\w+\s*,?)+\))?"
        )
        check_read_only(re.sub(options, "", rest, flags=re.I), dialect)
    elif not (keyword == "SHOW" and re.fullmatch(r'[\w." ]+', rest)):
        raise _refusal(keyword)


def _keyword(node: Any, dialect: str) -> str:
    """The statement's first word as the user wrote it (CREATE, COPY, BEGIN, …)."""
    words = node.sql(dialect=dialect).split(maxsplit=1)
    return words[0].upper() if words else type(node).__name__.upper()


def _refusal(keyword: str, inside: bool = False) -> QueryRefused:
    where = "inside a query " if inside else ""
    return QueryRefused(
        f"queries only read: {keyword} {where}is refused (use one {ALLOWED} statement)."
    )

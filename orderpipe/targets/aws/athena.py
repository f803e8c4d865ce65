"""Run SQL on Athena in the stack's workgroup and database; typed rows back, cost known.

Parameters never touch the SQL text: the SQL holds `?` placeholders and `params` fills them in
order through ExecutionParameters (Athena's prepared-statement values, each a SQL literal).
`queries.bind()` turns a named query's `:name` placeholders into `?` and gives the values in
order; a dict is taken in its insertion order. A value's Python type decides its literal:
`--param min_total=100` arrives as 100 → `100`, a text value as 'text' → `'text'`.

Values come back as strings; they are converted by the column types Athena reports, so JSON
output matches the local (DuckDB) target exactly.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from orderpipe.errors import OrderpipeError, QueryFailed
from orderpipe.settings import StackNames
from orderpipe.targets.aws.session import AwsSession
from orderpipe.targets.base import QueryResult

PRICE_PER_TB_USD = 5.0
BYTES_PER_TB = 1024**4
MINIMUM_BILLED_BYTES = 10 * 1024**2
PAGE_SIZE = 1000  # get_query_results' maximum

# Athena (Trino) type → engine-neutral type of QueryResult.types.
NEUTRAL_TYPES = {
    "varchar": "varchar",
    "char": "varchar",
    "string": "varchar",
    "tinyint": "integer",
    "smallint": "integer",
    "integer": "integer",
    "int": "integer",
    "bigint": "bigint",
    "double": "double",
    "float": "double",
    "real": "double",
    "decimal": "decimal",
    "boolean": "boolean",
    "date": "date",
    "timestamp": "timestamp",
}


def _timestamp(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _boolean(text: str) -> bool:
    return text.lower() == "true"


CONVERTERS: dict[str, Callable[[str], Any]] = {
    "varchar": str,
    "integer": int,
    "bigint": int,
    "double": float,
    "decimal": float,
    "boolean": _boolean,
    "date": date.fromisoformat,
    "timestamp": _timestamp,
}


def sql_literal(value: Any) -> str:
    """One ExecutionParameters value: a SQL literal (numbers plain, strings quoted with ''
    doubled, dates and timestamps typed, None → NULL)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise OrderpipeError(f"query parameter {value!r} is not a finite number")
        return repr(value)
    if isinstance(value, datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, date):
        return f"DATE '{value.isoformat()}'"
    text = str(value)
    return "'" + text.replace("'", "''") + "'"


def query_cost_usd(bytes_scanned: int | None) -> float:
    """What Athena bills for a query: $5 per TB scanned, each query rounded up to the next MB
    with a 10 MB minimum. A query that scanned nothing (DDL, a failed query) costs nothing."""
    if not bytes_scanned:
        return 0.0
    billed = max(MINIMUM_BILLED_BYTES, math.ceil(bytes_scanned / 1024**2) * 1024**2)
    return billed / BYTES_PER_TB * PRICE_PER_TB_USD


def run_query(
    session: AwsSession,
    names: StackNames,
    sql: str,
    params: Mapping[str, Any] | Sequence[Any] | None = None,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    timeout: float = 300,
    reuse_minutes: int | None = None,
) -> QueryResult:
    """Run `sql` in the stack's workgroup and database, wait (bounded), return typed rows.
    `reuse_minutes`: Athena may answer with the result of the same query run that recently."""
    started = clock()
    query_id = _start(session, names, sql, params, reuse_minutes)
    execution = _wait(session, query_id, sleep=sleep, clock=clock, started=started, timeout=timeout)
    columns, types, rows = _results(session, query_id, execution.get("StatementType") == "DML")
    statistics = execution.get("Statistics", {})
    millis = statistics.get("TotalExecutionTimeInMillis")
    return QueryResult(
        columns=columns,
        types=types,
        rows=rows,
        bytes_scanned=statistics.get("DataScannedInBytes"),
        seconds=millis / 1000 if millis else clock() - started,
        cost_usd=query_cost_usd(statistics.get("DataScannedInBytes")),
    )


def _start(
    session: AwsSession,
    names: StackNames,
    sql: str,
    params: Mapping[str, Any] | Sequence[Any] | None,
    reuse_minutes: int | None = None,
) -> str:
    request: dict[str, Any] = {
        "QueryString": sql,
        "QueryExecutionContext": {"Catalog": "AwsDataCatalog", "Database": names.database},
        "WorkGroup": names.workgroup,
    }
    if params:
        values = params.values() if isinstance(params, Mapping) else params
        request["ExecutionParameters"] = [sql_literal(value) for value in values]
    if reuse_minutes:
        request["ResultReuseConfiguration"] = {
            "ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": reuse_minutes}
        }

    def refused(message: str) -> OrderpipeError:  # Athena says why in the message
        if "workgroup" in message.lower():
            return OrderpipeError(
                f"Athena workgroup {names.workgroup} is not usable ({message}): "
                "run `orderpipe --target aws up`."
            )
        return QueryFailed(f"Athena rejected the query: {message}")

    started = session.call(
        "athena",
        "start_query_execution",
        resource=f"workgroup {names.workgroup}",
        answers={"InvalidRequestException": refused},
        **request,
    )
    return str(started["QueryExecutionId"])


def _wait(
    session: AwsSession,
    query_id: str,
    *,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    started: float,
    timeout: float,
) -> dict[str, Any]:
    delay = 0.25
    while True:
        found = session.call(
            "athena",
            "get_query_execution",
            resource=f"query {query_id}",
            QueryExecutionId=query_id,
        )
        execution: dict[str, Any] = found["QueryExecution"]
        status = execution["Status"]
        state = status["State"]
        if state == "SUCCEEDED":
            return execution
        if state in ("FAILED", "CANCELLED"):
            reason = status.get("StateChangeReason") or status.get("AthenaError", {}).get(
                "ErrorMessage", "Athena gave no reason"
            )
            raise QueryFailed(f"Athena query {query_id} {state}: {reason}")
        if clock() - started >= timeout:
            session.call(
                "athena",
                "stop_query_execution",
                resource=f"query {query_id}",
                QueryExecutionId=query_id,
            )
            raise QueryFailed(
                f"Athena query {query_id} was still {state} after {timeout:.0f}s and was stopped."
            )
        sleep(delay)
        delay = min(delay * 2, 5.0)


def _results(
    session: AwsSession, query_id: str, has_header: bool
) -> tuple[list[str], list[str], list[tuple[Any, ...]]]:
    columns: list[str] = []
    types: list[str] = []
    converters: list[Callable[[str], Any]] = []
    rows: list[tuple[Any, ...]] = []
    pages = session.pages(
        "athena",
        "get_query_results",
        resource=f"query {query_id}",
        QueryExecutionId=query_id,
        PaginationConfig={"PageSize": PAGE_SIZE},
    )
    for number, page in enumerate(pages):
        result_set = page["ResultSet"]
        if number == 0:
            for info in result_set["ResultSetMetadata"]["ColumnInfo"]:
                neutral = NEUTRAL_TYPES.get(info["Type"].lower(), info["Type"].lower())
                columns.append(info["Name"])
                types.append(neutral)
                converters.append(CONVERTERS.get(neutral, str))
        data_rows = result_set["Rows"][1:] if number == 0 and has_header else result_set["Rows"]
        for row in data_rows:
            rows.append(
                tuple(
                    None if "VarCharValue" not in datum else convert(datum["VarCharValue"])
                    for convert, datum in zip(converters, row["Data"], strict=True)
                )
            )
    return columns, types, rows

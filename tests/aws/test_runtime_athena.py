"""Athena queries: canned results through moto's results queue, typed values, pagination,
parameters, failures and cost."""

from __future__ import annotations

from datetime import date, datetime

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.athena.models import QueryResults, athena_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_api import state_manager

from orderpipe.errors import OrderpipeError, QueryFailed
from orderpipe.settings import StackNames
from orderpipe.targets.aws.athena import query_cost_usd, run_query, sql_literal
from orderpipe.targets.aws.session import AwsSession

NAMES = StackNames("rt")
REGION = "eu-west-1"


@pytest.fixture
def session(aws_credentials):
    with mock_aws():
        boto3.client("athena").create_work_group(
            Name=NAMES.workgroup,
            Configuration={"ResultConfiguration": {"OutputLocation": "s3://rt-athena-results/"}},
        )
        yield AwsSession(region=REGION)
    state_manager.unset_transition("athena::execution")


def _backend():
    return athena_backends[DEFAULT_ACCOUNT_ID][REGION]


def _column(name: str, kind: str) -> dict:
    return {"Name": name, "Label": name, "Type": kind, "CatalogName": "hive", "SchemaName": "",
            "TableName": "", "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN",
            "CaseSensitive": False}  # fmt: skip


def _row(*values: str | None) -> dict:
    return {"Data": [{} if v is None else {"VarCharValue": v} for v in values]}


def _can(columns: list[tuple[str, str]], rows: list[tuple[str | None, ...]]) -> None:
    """Queue the next query's result as Athena returns it: a header row, then the data."""
    header = _row(*(name for name, _ in columns))
    _backend().query_results_queue.append(
        QueryResults(
            rows=[header, *(_row(*r) for r in rows)],
            column_info=[_column(name, kind) for name, kind in columns],
        )
    )


TYPED = [
    ("invoiceno", "varchar"),
    ("quantity", "integer"),
    ("orders", "bigint"),
    ("totalamountusd", "double"),
    ("share", "decimal"),
    ("high", "boolean"),
    ("invoicedateonly", "date"),
    ("invoicetimestamp", "timestamp"),
]


def test_values_are_converted_by_the_column_types_athena_reports(session):
    _can(
        TYPED,
        [
            ("536365", "6", "12345678901", "30.6", "0.25", "true", "2010-12-01",
             "2010-12-01 08:26:00.000"),
            ("", None, None, None, None, "false", None, None),
        ],
    )  # fmt: skip

    result = run_query(session, NAMES, "SELECT * FROM transformed_orders")

    assert result.columns == [name for name, _ in TYPED]
    assert result.types == [kind for _, kind in TYPED]
    assert result.rows == [
        ("536365", 6, 12345678901, 30.6, 0.25, True, date(2010, 12, 1),
         datetime(2010, 12, 1, 8, 26)),
        ("", None, None, None, None, False, None, None),
    ]  # fmt: skip


def test_large_results_keep_every_row_and_drop_only_the_header(session):
    _can([("n", "integer")], [(str(i),) for i in range(2500)])

    result = run_query(session, NAMES, "SELECT n FROM t")

    assert [r[0] for r in result.rows] == list(range(2500))


def test_results_are_read_page_by_page(session):
    """Athena pages results by 1,000 rows (moto returns one page, so the pages are stubbed)."""
    query_id = "11111111-2222-3333-4444-555555555555"
    header = _row("n")
    with Stubber(session.client("athena")) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": query_id})
        stub.add_response(
            "get_query_execution",
            {"QueryExecution": {"QueryExecutionId": query_id, "StatementType": "DML",
                                "Status": {"State": "SUCCEEDED"},
                                "Statistics": {"DataScannedInBytes": 123456789,
                                               "TotalExecutionTimeInMillis": 2500}}},
        )  # fmt: skip
        for rows, token, sent in (
            ([header] + [_row(str(i)) for i in range(999)], "page-2", None),
            ([_row(str(i)) for i in range(999, 1999)], "page-3", "page-2"),
            ([_row("1999")], None, "page-3"),
        ):
            metadata = {"ColumnInfo": [_column("n", "bigint")]}
            page = {"ResultSet": {"Rows": rows, "ResultSetMetadata": metadata}}
            if token:
                page["NextToken"] = token
            expected = {"QueryExecutionId": query_id, "MaxResults": 1000}
            if sent:
                expected["NextToken"] = sent
            stub.add_response("get_query_results", page, expected)

        result = run_query(session, NAMES, "SELECT n FROM t")

    assert [r[0] for r in result.rows] == list(range(2000))
    assert result.bytes_scanned == 123456789
    assert result.seconds == 2.5


def test_the_query_runs_in_the_stack_s_workgroup_and_database_with_bound_parameters(session):
    _can([("n", "bigint")], [("1",)])
    sql = "SELECT count(*) AS n FROM transformed_orders WHERE country = ? AND totalamountusd > ?"

    run_query(session, NAMES, sql, {"country": "Cote d'Ivoire", "min_total": 100})

    athena = boto3.client("athena")
    query_id = athena.list_query_executions(WorkGroup=NAMES.workgroup)["QueryExecutionIds"][0]
    execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
    assert execution["Query"] == sql  # the values never touch the SQL text
    assert execution["QueryExecutionContext"]["Database"] == NAMES.database
    assert execution["WorkGroup"] == NAMES.workgroup
    assert execution["ExecutionParameters"] == ["'Cote d''Ivoire'", "100"]


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("it's", "'it''s'"),
        ("100", "'100'"),
        (100, "100"),
        (2.5, "2.5"),
        (True, "TRUE"),
        (None, "NULL"),
        (date(2011, 12, 9), "DATE '2011-12-09'"),
        (datetime(2011, 12, 9, 12, 50), "TIMESTAMP '2011-12-09 12:50:00'"),
    ],
)
def test_parameters_are_sql_literals(value, literal):
    assert sql_literal(value) == literal


def test_a_failed_query_carries_athena_s_reason(session):
    query_id = "11111111-2222-3333-4444-555555555555"
    reason = "COLUMN_NOT_FOUND: line 1:8: Column 'nope' cannot be resolved"
    with Stubber(session.client("athena")) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": query_id})
        stub.add_response(
            "get_query_execution",
            {"QueryExecution": {"QueryExecutionId": query_id,
                                "Status": {"State": "FAILED", "StateChangeReason": reason}}},
        )  # fmt: skip
        with pytest.raises(QueryFailed, match="COLUMN_NOT_FOUND: line 1:8"):
            run_query(session, NAMES, "SELECT nope FROM transformed_orders")


def test_polling_backs_off_and_a_query_past_the_timeout_is_stopped(session):
    state_manager.set_transition("athena::execution", {"progression": "manual", "times": 10**6})
    now = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    with pytest.raises(QueryFailed, match="still QUEUED after 60s and was stopped"):
        run_query(session, NAMES, "SELECT 1", sleep=sleep, clock=lambda: now[0], timeout=60)

    assert sleeps[:3] == [0.25, 0.5, 1.0] and max(sleeps) == 5.0
    states = [e.status for e in _backend().executions.values()]
    assert states == ["CANCELLED"]  # nothing left running (and billing)


def test_a_query_cancelled_while_waiting_is_a_failure(session):
    state_manager.set_transition("athena::execution", {"progression": "manual", "times": 10**6})

    def someone_cancels(_seconds: float) -> None:
        for execution in _backend().executions.values():
            execution.status = "CANCELLED"

    with pytest.raises(QueryFailed, match="CANCELLED"):
        run_query(session, NAMES, "SELECT 1", sleep=someone_cancels)


def test_a_missing_workgroup_says_to_run_up(session):
    boto3.client("athena").delete_work_group(WorkGroup=NAMES.workgroup)
    with pytest.raises(OrderpipeError, match=r"rt-workgroup.*orderpipe --target aws up"):
        run_query(session, NAMES, "SELECT 1")


@pytest.mark.parametrize(
    ("scanned", "dollars"),
    [
        (None, 0.0),
        (0, 0.0),
        (1, 10 * 1024**2 / 1024**4 * 5),  # the 10 MB minimum
        (10 * 1024**2 + 1, 11 * 1024**2 / 1024**4 * 5),  # rounded up to the next MB
        (1024**4, 5.0),
    ],
)
def test_cost_is_five_dollars_a_terabyte_with_a_ten_megabyte_minimum(scanned, dollars):
    assert query_cost_usd(scanned) == pytest.approx(dollars)


def test_reuse_asks_athena_for_a_recent_identical_result(session):
    """`query --reuse MINUTES` reaches StartQueryExecution; without it no reuse is asked."""
    sent: list[dict] = []
    session.client("athena").meta.events.register(
        "provide-client-params.athena.StartQueryExecution",
        lambda params, **_: sent.append(dict(params)),
    )
    run_query(session, NAMES, "SELECT 1", reuse_minutes=60)
    run_query(session, NAMES, "SELECT 1")
    assert sent[0]["ResultReuseConfiguration"] == {
        "ResultReuseByAgeConfiguration": {"Enabled": True, "MaxAgeInMinutes": 60}
    }
    assert "ResultReuseConfiguration" not in sent[1]

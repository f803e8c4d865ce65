"""The one way the aws target calls AWS (`AwsSession.call`): real botocore clients, no AWS."""

from __future__ import annotations

import socket

import pytest
from botocore.stub import Stubber

from orderpipe.errors import OrderpipeError, TransientError
from orderpipe.targets.aws.session import AwsSession


@pytest.fixture
def session(aws_credentials: None) -> AwsSession:
    return AwsSession(region="eu-west-1", max_attempts=1)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the block ends


def test_an_unreachable_endpoint_is_one_sentence_naming_the_call_and_resource(
    session: AwsSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(TransientError) as caught:
        session.call("glue", "get_crawler", resource="crawler shop-raw", Name="shop-raw")
    message = str(caught.value)
    assert message.startswith("Cannot reach AWS for glue:GetCrawler on crawler shop-raw (")
    assert "\n" not in message and message.endswith("retry.")


def test_declared_answers_come_back_and_anything_else_is_one_sentence(
    session: AwsSession,
) -> None:
    glue = session.client("glue")
    with Stubber(glue) as stub:
        stub.add_client_error("get_crawler", "EntityNotFoundException", "Crawler not found")
        assert session.call("glue", "get_crawler", missing=None, Name="x") is None

        stub.add_client_error("start_crawler", "CrawlerRunningException", "already running")
        answers = {"CrawlerRunningException": "running"}
        assert session.call("glue", "start_crawler", answers=answers, Name="x") == "running"

        stub.add_client_error("get_crawler", "EntityNotFoundException", "Crawler not found")
        with pytest.raises(OrderpipeError) as caught:  # "missing" not declared: an error
            session.call("glue", "get_crawler", resource="crawler x", Name="x")
        assert str(caught.value) == (
            "AWS GetCrawler on crawler x failed: EntityNotFoundException: Crawler not found"
        )

        stub.add_client_error("get_crawler", "InvalidInputException", "bad name")
        with pytest.raises(OrderpipeError, match=r"^AWS GetCrawler on crawler x failed: Invalid"):
            session.call("glue", "get_crawler", resource="crawler x", missing=None, Name="x")


def test_an_answer_can_depend_on_what_aws_said_and_can_be_an_error(session: AwsSession) -> None:
    def refused(message: str) -> OrderpipeError:
        return OrderpipeError(f"refused: {message}")

    with Stubber(session.client("athena")) as stub:
        stub.add_client_error("get_work_group", "InvalidRequestException", "no such workgroup")
        with pytest.raises(OrderpipeError, match=r"^refused: no such workgroup$"):
            session.call(
                "athena",
                "get_work_group",
                answers={"InvalidRequestException": refused},
                WorkGroup="w",
            )


def test_every_page_of_a_list_call_is_read(session: AwsSession) -> None:
    with Stubber(session.client("glue")) as stub:
        stub.add_response("get_tables", {"TableList": [{"Name": "a"}], "NextToken": "t"})
        stub.add_response("get_tables", {"TableList": [{"Name": "b"}]})
        tables = session.items("glue", "get_tables", "TableList", DatabaseName="d")
    assert [t["Name"] for t in tables] == ["a", "b"]


def test_an_error_the_cli_edge_catches_outside_a_call_says_so_without_a_made_up_call() -> None:
    import botocore.exceptions as bx

    from orderpipe.targets.aws.errors import translate

    offline = translate(bx.EndpointConnectionError(endpoint_url="https://s3.example"))
    assert isinstance(offline, TransientError)
    assert str(offline).startswith('Cannot reach AWS (Could not connect to the endpoint URL: "')
    broken = translate(bx.IncompleteReadError(actual_bytes=3, expected_bytes=9))
    assert str(broken) == (
        "An AWS call failed: IncompleteReadError: 3 read, but total bytes expected is 9."
    )

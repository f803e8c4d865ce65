"""FirehoseStream against a moto delivery stream, and its error mapping."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from orderpipe.errors import OrderpipeError, TransientError
from orderpipe.settings import StackNames
from orderpipe.targets.aws.firehose import FirehoseStream
from orderpipe.targets.aws.session import AwsSession

NAMES = StackNames("rt")
BUCKET = "rt-raw-123456789012-eu-west-1"


@pytest.fixture
def session(aws_credentials):
    with mock_aws():
        yield AwsSession(region="eu-west-1")


@pytest.fixture
def stream(session):
    """A Direct PUT stream into the raw bucket, made with plain boto3 (not `up`)."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    boto3.client("firehose").create_delivery_stream(
        DeliveryStreamName=NAMES.delivery_stream,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/rt-firehose-role",
            "BucketARN": f"arn:aws:s3:::{BUCKET}",
            "Prefix": "raw/",
        },
    )
    return FirehoseStream(session, NAMES.delivery_stream)


def _objects() -> list[bytes]:
    s3 = boto3.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    return [s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys]


def test_records_land_in_the_raw_bucket(stream):
    records = [b'{"InvoiceNo":"536365"}\n{"InvoiceNo":"536366"}\n', b'{"InvoiceNo":"536367"}\n']

    assert stream.put_record_batch(records) == [None, None]
    stream.close()

    assert b"".join(_objects()) == b"".join(records)


def test_an_empty_batch_sends_nothing(stream):
    assert stream.put_record_batch([]) == []
    assert _objects() == []


def test_a_missing_stream_says_to_run_up(session):
    with pytest.raises(
        OrderpipeError, match=r"rt-orders does not exist: run `orderpipe --target aws up`"
    ):
        FirehoseStream(session, NAMES.delivery_stream).put_record_batch([b"x\n"])


def test_batches_beyond_firehose_limits_are_refused_before_sending(stream):
    with pytest.raises(ValueError, match="at most 500"):
        stream.put_record_batch([b"x\n"] * 501)
    with pytest.raises(ValueError, match="1,000 KiB"):
        stream.put_record_batch([b"x" * (1000 * 1024 + 1)])
    assert _objects() == []


def _stubbed(session) -> Stubber:
    return Stubber(session.client("firehose"))


def test_per_record_failures_come_back_to_resend(session):
    stream = FirehoseStream(session, NAMES.delivery_stream)
    with _stubbed(session) as stub:
        stub.add_response(
            "put_record_batch",
            {
                "FailedPutCount": 1,
                "RequestResponses": [
                    {"RecordId": "a" * 20},
                    {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "Slow down."},
                ],
            },
        )
        assert stream.put_record_batch([b"a\n", b"b\n"]) == [None, "ServiceUnavailableException"]


@pytest.mark.parametrize(
    ("code", "status", "kind", "words"),
    [
        ("ServiceUnavailableException", 503, TransientError, "for now"),
        ("ThrottlingException", 400, TransientError, "throttling"),
        ("InternalFailure", 500, TransientError, "for now"),
        ("AccessDeniedException", 400, OrderpipeError, "denied firehose:PutRecordBatch"),
    ],
)
def test_aws_errors_become_ours(session, code, status, kind, words):
    stream = FirehoseStream(session, NAMES.delivery_stream)
    with _stubbed(session) as stub:
        stub.add_client_error(
            "put_record_batch",
            service_error_code=code,
            http_status_code=status,
            service_message="no",
        )
        with pytest.raises(OrderpipeError, match=words) as caught:
            stream.put_record_batch([b"a\n"])
    assert type(caught.value) is kind

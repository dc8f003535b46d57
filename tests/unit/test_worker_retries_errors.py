"""Which errors a worker tries again: those of a network, a server or a database that may answer next time."""

from __future__ import annotations

import pytest
import requests
import sqlalchemy.exc
import urllib3
from minio.error import InvalidResponseError, S3Error, ServerError

from segmad.adapters import kafka  # noqa: F401  (imports kafka-python with its import-time warning silenced)
from segmad.ports.blobs import BlobNotFound
from segmad.ports.segmenter import UnknownModel
from segmad.runtime.retries import is_transient, reason

from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError  # after segmad.adapters.kafka, see there


def http_error(status: int) -> requests.HTTPError:
    """What TorchServe's adapter raises for an answer with this status (response.raise_for_status())."""
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"{status} Server Error", response=response)


def s3_error(status: int, code: str) -> S3Error:
    return S3Error(urllib3.HTTPResponse(status=status), code, "message", "/bucket/key", "request", "host")


@pytest.mark.parametrize("error", [
    ConnectionRefusedError("refused"), ConnectionResetError("reset"), TimeoutError("timed out"),
    requests.ConnectionError("TorchServe is restarting"), requests.ReadTimeout("read timed out"),
    http_error(503), http_error(500), http_error(429),
    ServerError("server failed with HTTP status code 502", 502), s3_error(503, "SlowDown"),
    InvalidResponseError(502, "text/html", "Bad Gateway"), urllib3.exceptions.ProtocolError("connection aborted"),
    sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("database is locked")),
    sqlalchemy.exc.DBAPIError("SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=True),
    KafkaTimeoutError("flush timed out"),
], ids=lambda error: type(error).__name__)
def test_errors_that_may_clear_are_transient(error):
    assert is_transient(error)


@pytest.mark.parametrize("error", [
    ValueError("image is not a PNG"), KeyError("round"), UnknownModel("unet version v9"), BlobNotFound("images/x"),
    http_error(404), http_error(400), s3_error(403, "AccessDenied"),
    sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed")),
    MessageSizeTooLargeError("too large"), RuntimeError("a bug"),
], ids=lambda error: type(error).__name__)
def test_errors_that_would_happen_again_are_permanent(error):
    assert not is_transient(error)


def test_a_reason_names_the_error_type_and_says_its_message():
    assert reason(ValueError("image is not a PNG")) == "ValueError: image is not a PNG"

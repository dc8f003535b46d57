"""Which handler errors are worth trying again, and how often: the consume loop's retry policy (tenacity).

Transient: the network or a server that may answer next time (refused or reset connections, timeouts,
HTTP 5xx and 429 from TorchServe or S3, a lost or locked database, Kafka errors it marks retriable).
Everything else (a bad image, a missing model, a bug) is permanent: trying again would fail the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
import sqlalchemy.exc
import tenacity
import urllib3.exceptions
from minio.error import InvalidResponseError, S3Error, ServerError

from segmad.settings import Settings

_TRANSIENT = (
    ConnectionError, TimeoutError,  # the builtins: refused, reset, broken pipe, timed out
    requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.TimeoutError, urllib3.exceptions.ProtocolError, urllib3.exceptions.MaxRetryError,
    sqlalchemy.exc.OperationalError, sqlalchemy.exc.DisconnectionError, sqlalchemy.exc.TimeoutError,
)


def _http_status(error: BaseException) -> int | None:
    """The HTTP status a server answered with, for the errors of the HTTP clients segmad's adapters use."""
    if isinstance(error, requests.HTTPError):  # TorchServe: raise_for_status
        return error.response.status_code if error.response is not None else None
    if isinstance(error, ServerError):  # minio: a 5xx without an S3 error code
        return error.status_code
    if isinstance(error, S3Error):
        return error.response.status if error.response is not None else None
    if isinstance(error, InvalidResponseError):  # minio: a non-XML answer, e.g. a proxy's 502 page
        return getattr(error, "_code", None)
    return None


def is_transient(error: BaseException) -> bool:
    """Whether `error` may not happen again if the same work is tried a little later."""
    if isinstance(error, _TRANSIENT):
        return True
    if isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated:
        return True
    if getattr(error, "retriable", False) is True:  # kafka-python's errors say it themselves
        return True
    status = _http_status(error)
    return isinstance(status, int) and (status >= 500 or status == 429)


def reason(error: BaseException) -> str:
    """What a dead letter says about the error that put it there: its type and its message."""
    return f"{type(error).__name__}: {error}"


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all for a transient error, waiting `wait_s` before the second, then twice as long
    before each next one, up to `max_wait_s`; a permanent error is not tried again."""

    attempts: int = 3
    wait_s: float = 0.5
    max_wait_s: float = 5.0

    def __post_init__(self):
        if self.attempts < 1 or self.wait_s < 0 or self.max_wait_s < 0:
            raise ValueError(f"a retry policy needs attempts >= 1 and waits >= 0, not {self}")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy SEGMAD_RETRY_ATTEMPTS, SEGMAD_RETRY_WAIT_S and SEGMAD_RETRY_MAX_WAIT_S describe."""
        return cls(settings.retry_attempts, settings.retry_wait_s, settings.retry_max_wait_s)

    def retrying(self, stop_event: threading.Event | None = None,
                 before_sleep: Callable[[tenacity.RetryCallState], None] | None = None) -> tenacity.Retrying:
        """A tenacity Retrying for this policy that re-raises the last error; a set `stop_event` ends its waits
        and its tries early."""
        stop = tenacity.stop_after_attempt(self.attempts)
        if stop_event is not None:
            stop = stop | tenacity.stop_when_event_set(stop_event)
        return tenacity.Retrying(
            stop=stop,
            wait=tenacity.wait_exponential(multiplier=self.wait_s, max=self.max_wait_s),
            retry=tenacity.retry_if_exception(is_transient),
            sleep=stop_event.wait if stop_event is not None else time.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )

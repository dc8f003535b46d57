"""TorchServe's management API: register a version, list versions, switch the default.

A call that fails for a reason that may clear (a 5xx, a refused or reset connection, a timeout: TorchServe
starting, restarting or busy) is tried again with exponential backoff (tenacity), a bounded number of times;
a 4xx is the request's fault and is never tried again. Registering is not idempotent, so a register that
may have reached TorchServe (it timed out or lost its connection after being sent) is not tried again.
"""

from __future__ import annotations

import logging

import requests
import tenacity
import urllib3

from segmad.ports.segmenter import ModelRef

log = logging.getLogger("segmad.torchserve")


class ManagementError(requests.HTTPError):
    """TorchServe's management API refused a request; `response.status_code` says how."""


def transient(error: BaseException) -> bool:
    """Whether a management call that failed with `error` may go through if tried again."""
    if isinstance(error, ManagementError):
        return error.response.status_code >= 500
    if isinstance(error, requests.exceptions.SSLError):
        return False  # a certificate that does not verify now will not later
    return isinstance(error, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError))


def never_sent(error: BaseException) -> bool:
    """Whether `error` shows the request never reached the server (no connection was made)."""
    cause = error.args[0] if isinstance(error, requests.ConnectionError) and error.args else None
    reason = getattr(cause, "reason", cause)  # requests wraps urllib3's MaxRetryError, which wraps the cause
    return isinstance(error, requests.ConnectTimeout) or isinstance(reason, urllib3.exceptions.NewConnectionError)


class Management:
    """A client of one TorchServe management endpoint (by default port 8081).

    `attempts` tries in all for a transient failure, waiting `wait_s` before the second, then twice as
    long before each next one, up to `max_wait_s`.
    """

    def __init__(self, url: str, timeout: float = 120.0, attempts: int = 3, wait_s: float = 0.5,
                 max_wait_s: float = 5.0):
        if attempts < 1 or wait_s < 0 or max_wait_s < 0:
            raise ValueError("a management client needs attempts >= 1 and waits >= 0")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        self.attempts, self.wait_s, self.max_wait_s = attempts, wait_s, max_wait_s

    def register(self, model_name: str, mar_file: str, batch_size: int = 8, max_batch_delay_ms: int = 20,
                 workers: int = 1) -> None:
        """Register mar_file (a name in the model store) under model_name and wait for its workers."""
        params = {"url": mar_file, "model_name": model_name, "batch_size": batch_size,
                  "max_batch_delay": max_batch_delay_ms, "initial_workers": workers, "synchronous": "true"}
        self._call("POST", "/models", params=params, idempotent=False)

    def set_default(self, name: str, version: str) -> None:
        """Make version the one /predictions/NAME answers with."""
        self._call("PUT", f"/models/{name}/{version}/set-default")

    def models(self) -> list[ModelRef]:
        """Every registered (name, version), sorted."""
        names, token = [], None
        while True:
            params = {"limit": 100, **({"next_page_token": token} if token else {})}
            page = self._call("GET", "/models", params=params).json()
            names += [m["modelName"] for m in page.get("models", [])]
            token = page.get("nextPageToken")
            if not token:
                break
        return sorted(ModelRef(name, str(v["modelVersion"])) for name in names for v in self.versions(name))

    def versions(self, name: str) -> list[dict]:
        """TorchServe's description of each registered version of name (batchSize, workers...)."""
        return self._call("GET", f"/models/{name}/all").json()

    def default_version(self, name: str) -> str:
        """The version /predictions/NAME answers with (0.12's descriptions carry no default flag)."""
        return str(self._call("GET", f"/models/{name}").json()[0]["modelVersion"])

    def _call(self, method: str, path: str, idempotent: bool = True, **kwargs) -> requests.Response:
        """The answer to one request, tried again while it fails for a transient reason; raises the last failure."""
        def retried(error: BaseException) -> bool:
            sent_twice_harms = not idempotent and not isinstance(error, ManagementError) and not never_sent(error)
            return transient(error) and not sent_twice_harms

        def note(state: tenacity.RetryCallState) -> None:
            # INFO: a try that recovers is routine, and the last failure is raised; the services log INFO, while a
            # command's user sees only the one line that the last failure becomes.
            log.info("TorchServe management call failed, trying again",
                        extra={"call": f"{method} {path}", "attempt": state.attempt_number,
                               "error": f"{type(state.outcome.exception()).__name__}: {state.outcome.exception()}"})

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=tenacity.wait_exponential(multiplier=self.wait_s, max=self.max_wait_s),
            retry=tenacity.retry_if_exception(retried), before_sleep=note, reraise=True)
        return retrying(self._once, method, path, **kwargs)

    def _once(self, method: str, path: str, **kwargs) -> requests.Response:
        return self._ok(self.http.request(method, f"{self.url}{path}", timeout=self.timeout, **kwargs))

    @staticmethod
    def _ok(response: requests.Response) -> requests.Response:
        if response.status_code >= 400:
            try:
                reason = response.json()["message"]
            except (ValueError, KeyError, TypeError):
                reason = response.text[:300]
            raise ManagementError(f"TorchServe answered {response.status_code} to {response.request.method} "
                                  f"{response.url}: {reason}", response=response)
        return response

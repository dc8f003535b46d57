"""TorchServe's management API: register a version, list versions, switch the default."""

from __future__ import annotations

import requests

from segmad.ports.segmenter import ModelRef


class ManagementError(RuntimeError):
    """TorchServe's management API refused a request."""


class Management:
    """A client of one TorchServe management endpoint (by default port 8081)."""

    def __init__(self, url: str, timeout: float = 120.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()

    def register(self, model_name: str, mar_file: str, batch_size: int = 8, max_batch_delay_ms: int = 20,
                 workers: int = 1) -> None:
        """Register mar_file (a name in the model store) under model_name and wait for its workers."""
        params = {"url": mar_file, "model_name": model_name, "batch_size": batch_size,
                  "max_batch_delay": max_batch_delay_ms, "initial_workers": workers, "synchronous": "true"}
        self._ok(self.http.post(f"{self.url}/models", params=params, timeout=self.timeout))

    def set_default(self, name: str, version: str) -> None:
        """Make version the one /predictions/NAME answers with."""
        self._ok(self.http.put(f"{self.url}/models/{name}/{version}/set-default", timeout=self.timeout))

    def models(self) -> list[ModelRef]:
        """Every registered (name, version), sorted."""
        names, token = [], None
        while True:
            params = {"limit": 100, **({"next_page_token": token} if token else {})}
            page = self._ok(self.http.get(f"{self.url}/models", params=params, timeout=self.timeout)).json()
            names += [m["modelName"] for m in page.get("models", [])]
            token = page.get("nextPageToken")
            if not token:
                break
        return sorted(ModelRef(name, str(v["modelVersion"])) for name in names for v in self.versions(name))

    def versions(self, name: str) -> list[dict]:
        """TorchServe's description of each registered version of name (batchSize, workers...)."""
        return self._ok(self.http.get(f"{self.url}/models/{name}/all", timeout=self.timeout)).json()

    def default_version(self, name: str) -> str:
        """The version /predictions/NAME answers with (0.12's descriptions carry no default flag)."""
        return str(self._ok(self.http.get(f"{self.url}/models/{name}", timeout=self.timeout)).json()[0]["modelVersion"])

    @staticmethod
    def _ok(response: requests.Response) -> requests.Response:
        if response.status_code >= 400:
            try:
                reason = response.json()["message"]
            except (ValueError, KeyError, TypeError):
                reason = response.text[:300]
            raise ManagementError(f"TorchServe answered {response.status_code} to {response.request.method} "
                                  f"{response.url}: {reason}")
        return response

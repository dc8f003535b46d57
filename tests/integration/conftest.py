"""Fixtures of the integration tests: the local stack of real servers."""

from __future__ import annotations

from pathlib import Path

import pytest

from segmad.stack.local import INFRA_ONLY, Stack

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory) -> dict[str, str]:
    """SEGMAD_* settings of a live stack's infrastructure (S3, broker, PostgreSQL when one answers): the one
    `make up` started, else a private infra-only one for this session (TorchServe and the services are slow
    to start and these tests run their own)."""
    shared = Stack(REPO / "var" / "stack")
    # PostgreSQL is not the stack's own process: these tests need only the servers it runs.
    if shared.read_env() and all(row["state"] == "running" for row in shared.status()
                                 if row["tier"] == "infra" and row["name"] != "postgres"):
        yield {key: value for key, value in shared.read_env().items() if key != "SEGMAD_TORCHSERVE_URL"}
        return
    private = Stack(tmp_path_factory.mktemp("stack"))
    try:
        private.up(tiers=INFRA_ONLY)
        yield private.read_env()
    finally:
        # Throwaway data: no need to wait out SeaweedFS's 15 s graceful stop.
        private.down(grace_s=2)

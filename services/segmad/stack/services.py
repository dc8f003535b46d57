"""The stack's servers above its infrastructure: TorchServe, and one `segmad serve NAME` per service."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from segmad.adapters.torchserve_archive import torchserve_dir
from segmad.stack.process import Service

if TYPE_CHECKING:
    from segmad.stack.components import StackConfig


def torchserve_missing() -> str:
    """Why TorchServe cannot run here (it needs Java 17 and the torchserve package), or "" when it can."""
    if shutil.which("java") is None:
        return "java is not installed (TorchServe needs Java 17)"
    version = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    if '"17' not in version and " 17" not in version:
        return f"TorchServe 0.12 is tested with Java 17, found: {version.splitlines()[0] if version else '?'}"
    # find_spec, not import: importing ts leaves its version file open (a ResourceWarning).
    if importlib.util.find_spec("ts") is None:
        return "torchserve is not installed (pip install 'segmad[stack]')"
    return ""


def torchserve(cfg: StackConfig) -> Service:
    """TorchServe 0.12 with deploy/torchserve/config.properties on the stack's ports; its model store in the stack."""
    home, p = cfg.root / "torchserve", cfg.ports
    store, config = home / "model-store", home / "config.properties"
    urls = {name: f"http://127.0.0.1:{p[name]}" for name in ("torchserve", "torchserve_management", "torchserve_metrics")}

    def write_config() -> None:
        store.mkdir(parents=True, exist_ok=True)
        text = (torchserve_dir() / "config.properties").read_text()
        for default, name in ((8080, "torchserve"), (8081, "torchserve_management"), (8082, "torchserve_metrics")):
            text = text.replace(f"http://127.0.0.1:{default}", urls[name])
        # gRPC is not used, but TorchServe always opens it (7070/7071 by default): ports of its own
        # let two TorchServes (two stacks, a test beside `make up`) run at once.
        config.write_text(text + "vmargs=-Xmx512m\n"
                          f"grpc_inference_port={p['torchserve_grpc']}\ngrpc_management_port={p['torchserve_grpc_management']}\n")

    return Service(
        name="torchserve",
        argv=[sys.executable, "-m", "ts.model_server", "--start", "--foreground", "--ncs",
              "--model-store", str(store), "--ts-config", str(config)],
        port=p["torchserve"],
        address=urls["torchserve"],
        # One thread per worker or concurrent requests oversubscribe the cores; TMPDIR holds its pid file,
        # so a second TorchServe (another stack, a test) does not take this one for itself.
        env={"OMP_NUM_THREADS": "1", "TMPDIR": str(home), "LOG_LOCATION": str(cfg.root / "logs" / "torchserve"),
             "METRICS_LOCATION": str(cfg.root / "logs" / "torchserve")},
        exports={"SEGMAD_TORCHSERVE_URL": f"{urls['torchserve']}?management={urls['torchserve_management']}",
                 "SEGMAD_MODEL_STORE": str(store)},
        before_start=write_config,
        health_url=f"{urls['torchserve']}/ping",
        process_group=True,  # the launcher, Java and its Python workers stop together
        ready_timeout_s=120.0,
    )


# The labelling UI has no /healthz: its login page answers 200 without a session.
HEALTH_PATHS = {"labelling": "/login"}


def segmad_service(name: str) -> Callable[[StackConfig], Service]:
    """`segmad serve NAME` on the stack's port NAME, with the stack's settings (its env file)."""
    def make(cfg: StackConfig) -> Service:
        port = cfg.ports[name]
        url = f"http://127.0.0.1:{port}"
        return Service(
            name=name,
            # python -m, not the `segmad` script: its shebang would make the interpreter argv[0] of the process.
            argv=[sys.executable, "-m", "segmad.cli", "serve", name, "--port", str(port)],
            port=port, address=url,
            env={"SEGMAD_DATA_DIR": str(cfg.root / "data")},
            env_file=cfg.root / "env",
            health_url=url + HEALTH_PATHS.get(name, "/healthz"),
            ready_timeout_s=120.0,
        )
    return make

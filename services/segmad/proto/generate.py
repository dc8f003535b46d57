"""Regenerate the checked-in Python code of the bus messages from proto/ with grpcio-tools' protoc.

The output depends on the protoc bundled with grpcio-tools, so the test extra pins it exactly;
tests/unit/test_events_proto_generated.py fails when the checked-in code differs from a fresh run.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROTO_DIR = ROOT / "proto"
PACKAGE = "segmad/v1"  # the proto package's folder under proto/
OUT_DIR = Path(__file__).resolve().parent / "v1"


def sources() -> list[Path]:
    """The .proto files of the package, sorted."""
    return sorted((PROTO_DIR / PACKAGE).glob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Write <name>_pb2.py and .pyi for every source into out_dir; the files written."""
    from grpc_tools import protoc  # a build tool, installed with the test extra only

    with tempfile.TemporaryDirectory() as tmp:
        args = ["protoc", f"-I{PROTO_DIR}", f"--python_out={tmp}", f"--pyi_out={tmp}"]
        # Paths relative to -I, so each file registers as segmad/v1/NAME.proto in the descriptor pool.
        status = protoc.main(args + [str(p.relative_to(PROTO_DIR)) for p in sources()])
        if status != 0:
            raise RuntimeError(f"protoc failed with status {status}")
        out_dir.mkdir(parents=True, exist_ok=True)
        # The sources import nothing from each other, so the files can live flat in one package.
        written = []
        for path in sorted((Path(tmp) / PACKAGE).iterdir()):
            written.append(Path(shutil.copyfile(path, out_dir / path.name)))
        return written


def main() -> int:
    """Regenerate the checked-in code in place."""
    for path in generate(OUT_DIR):
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`segmad bench ingest`: images/s of `segmad ingest FOLDER` into the local stack against the embedded store.

The same folder of world pool images (PNG files) is ingested twice with what `segmad ingest` runs
after parsing its arguments (`sources.inputs` then `batch.ingest_all`): into the embedded store
(SQLite, a local folder, the in-memory bus) and into the stack (PostgreSQL, S3, the broker) in a
schema, blob prefix and bus namespace of its own. The stack is `--dir`'s if its servers run, else
a private one started for the run (infra only). Connections, the bucket and the topic are opened
before the clock starts: the figure is the steady rate, not one-off setup. The ratio stack/embedded
is the figure the issue aims at (≥ 0.7).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from segmad.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--images N --size S --dir DIR --format text|json."""
    parser.add_argument("--images", type=int, default=1000, help="world pool images to ingest (default 1000)")
    parser.add_argument("--size", type=int, default=0, help="image side in pixels (default: the world's, 64)")
    parser.add_argument("--dir", default="var/stack", help="the stack to use if it runs (default var/stack)")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def write_pool(folder: Path, images: int, size: int) -> int:
    """World pool images as PNG files in `folder`; their bytes in all."""
    from segmad.codec import encode_png
    from segmad.world import WorldConfig, sample

    world = WorldConfig(size=size) if size else WorldConfig()
    folder.mkdir(parents=True)
    total = 0
    for i in range(images):
        data = encode_png(sample(world, "pool", i).image)
        (folder / f"pool-{i:06d}.png").write_bytes(data)
        total += len(data)
    return total


def timed_ingest(ports, folder: Path) -> dict:
    """Ingest the folder as `segmad ingest` does; seconds, images/s and the summary's counts."""
    from segmad.ingestion.batch import ingest_all
    from segmad.ingestion.limits import Limits
    from segmad.ingestion.sources import inputs

    began = time.perf_counter()
    summary = ingest_all(ports, inputs(str(folder), Limits(), 10.0, open_bucket=None))
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "images_per_s": summary.ingested / seconds, "ingested": summary.ingested,
            "duplicates": summary.duplicates, "rejected": sum(summary.rejected_by_reason.values())}


def embedded(folder: Path, work: Path) -> dict:
    """Into SQLite, a local blob folder and the in-memory bus."""
    from segmad import bootstrap
    from segmad.settings import Settings

    ports = bootstrap.build(Settings(data_dir=work, database_url=f"sqlite:///{work / 'catalog.db'}",
                                     blob_url=f"file://{work / 'blobs'}", bus="memory", torchserve_url=""))
    try:
        return timed_ingest(ports, folder)
    finally:
        ports.close()


def _stack_env(root: str, work: Path, say) -> tuple[dict[str, str], object | None]:
    """The settings of a running stack's infra: `root`'s if it runs, else a private one started now."""
    from segmad.stack.local import INFRA_ONLY, Stack

    stack = Stack(root)
    env = stack.read_env()
    if env.get("SEGMAD_BUS", "").startswith("kafka://") and all(
            row["state"] == "running" for row in stack.status() if row["tier"] == "infra" and row["name"] != "postgres"):
        say(f"using the stack in {stack.root}")
        return env, None
    say(f"no stack runs in {root}: starting a private one (infra only)")
    private = Stack(work / "stack")
    return private.up(say=say, tiers=INFRA_ONLY), private


def over_stack(folder: Path, env: dict[str, str], work: Path) -> dict:
    """Into the stack's PostgreSQL (a fresh schema), S3 (a fresh prefix) and broker (a fresh namespace)."""
    from sqlalchemy import create_engine, text

    from segmad import bootstrap
    from segmad.ports.bus import IMAGES
    from segmad.settings import Settings

    tag = uuid.uuid4().hex[:8]
    schema, database = f"bench_ingest_{tag}", env["SEGMAD_DATABASE_URL"]
    admin = create_engine(database)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    settings = Settings(data_dir=work, database_url=f"{database}?options=-csearch_path%3D{schema}",
                        bus=f"{env['SEGMAD_BUS']}?namespace=bench-{tag}", blob_url=f"s3://segmad/bench-ingest-{tag}",
                        s3_endpoint=env["SEGMAD_S3_ENDPOINT"], s3_access_key=env["SEGMAD_S3_ACCESS_KEY"],
                        s3_secret_key=env["SEGMAD_S3_SECRET_KEY"], torchserve_url="")
    ports = bootstrap.build(settings)
    try:
        ports.bus.ensure_topics([IMAGES])  # one-off setup, as a running deployment has it already
        ports.blobs.exists("warm-up")  # the bucket, and a connection
        figures = timed_ingest(ports, folder)
        for key in ports.blobs.keys():
            ports.blobs.delete(key)
        return figures
    finally:
        ports.close()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(args: argparse.Namespace) -> int:
    """Write the pool, ingest it into both, print the figures."""
    if args.images < 1 or args.size < 0 or 0 < args.size < 32:
        raise InputError("--images must be at least 1 and --size at least 32 (ingestion's smallest side)")
    say = print if args.format == "text" else (lambda line: None)
    with tempfile.TemporaryDirectory(prefix="segmad-bench-ingest-") as tmp:
        work = Path(tmp)
        total = write_pool(work / "pool", args.images, args.size)
        say(f"{args.images} world pool images, {total / args.images / 1024:.1f} KiB each on average")
        env, private = _stack_env(args.dir, work, say)
        try:
            if not env.get("SEGMAD_DATABASE_URL", "").startswith("postgresql"):
                raise InputError("the ingestion benchmark needs PostgreSQL (DATABASE_URL, or one at 127.0.0.1:5432)")
            local = embedded(work / "pool", work / "embedded")
            say(f"embedded: {local['images_per_s']:.0f} images/s ({local['seconds']:.2f} s)")
            stacked = over_stack(work / "pool", env, work / "stack-run")
            say(f"stack:    {stacked['images_per_s']:.0f} images/s ({stacked['seconds']:.2f} s)")
        finally:
            if private is not None:
                private.down(grace_s=5)
    if local["ingested"] != args.images or stacked["ingested"] != args.images:
        raise RuntimeError(f"expected {args.images} new images, got {local['ingested']} embedded and "
                           f"{stacked['ingested']} over the stack")
    figures = {"images": args.images, "size": args.size or None, "embedded": local, "stack": stacked,
               "ratio": stacked["images_per_s"] / local["images_per_s"],
               "overhead_ms_per_image": 1000 * (stacked["seconds"] - local["seconds"]) / args.images}
    if args.format == "json":
        print(json.dumps(figures, indent=2))
    else:
        print(f"ratio stack / embedded: {figures['ratio']:.2f} "
              f"(the stack costs {figures['overhead_ms_per_image']:+.2f} ms per image)")
    return 0

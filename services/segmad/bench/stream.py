"""`segmad bench stream`: the discrepancy handler over a long stream of predictions, in this process.

Slices of 64 images are catalogued as the inference worker commits them (image rows, then every model's
prediction rows) and announced model by model; polls of `--poll` messages go through `parse` and
`DiscrepancyHandler.handle` as `segmad serve discrepancy` hands them over. Every N/20 images it samples
images/s (of the handler's time), this process's RSS and the heap writes per image: memory should stay
flat once the heaps are full, and heap writes should fall as fewer images beat the heaps' worst member.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
import uuid
from pathlib import Path

from segmad.errors import InputError

SLICE = 64  # images the inference worker catalogues and announces at once (its poll's slice)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """--images N --poll P --n3 N --variants V --size S --classes C --seed --database-url --schema --out --format."""
    parser.add_argument("--images", type=int, default=1_000_000, help="images streamed (default 1000000)")
    parser.add_argument("--poll", type=int, default=100, help="messages per poll (the worker's max_records, 100)")
    parser.add_argument("--n3", type=int, default=10, help="images kept per heap (default 10)")
    parser.add_argument("--variants", type=int, default=300, help="distinct map triples reused (default 300)")
    parser.add_argument("--size", type=int, default=64, help="label maps are SIZE x SIZE (default 64)")
    parser.add_argument("--classes", type=int, default=5, help="foreground classes C (default 5)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database-url", default="",
                        help="catalog URL (default: SQLite in a temp folder); a PostgreSQL one gets a fresh schema")
    parser.add_argument("--schema", default="", help="PostgreSQL schema to use (default: a new one, dropped after)")
    parser.add_argument("--out", default="", help="also write the figures as JSON to this file")
    parser.add_argument("--format", choices=("text", "json"), default="text")


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: the peak, the best there is


def stream(catalog, images: int, poll: int, n3: int, variants: int, size: int, classes: int, seed: int,
           say=lambda line: None) -> dict:
    """Stream `images` synthetic images' predictions through a DiscrepancyHandler on an empty `catalog`
    (the caller's to close); the samples and a summary."""
    import numpy as np

    from segmad import bootstrap
    from segmad.adapters.bus import InMemoryBus
    from segmad.bench import stream_world as world
    from segmad.discrepancy.handler import DiscrepancyHandler, parse
    from segmad.ports import Ports

    rng = np.random.default_rng(seed)
    maps = world.make_variants(rng, variants, size, classes)
    pngs, fractions = world.encoded(maps, classes)
    blobs = world.SyntheticMaps(pngs)
    segmenter, release = bootstrap.serving("", Path(tempfile.gettempdir()))  # in process; the handler never predicts
    ports = Ports(blobs=blobs, bus=InMemoryBus(), catalog=catalog, segmenter=segmenter, release=release)
    world.start_round(ports, maps, classes, n3)
    handler = DiscrepancyHandler(ports)
    every = max(1, images // 20)
    samples = [_sample(0, 0.0, 0.0, handler.stats, None)]
    done, offset, handling, started, mark = 0, 0, 0.0, time.perf_counter(), every
    while done < images:
        count = min(SLICE, mark - done, images - done)  # a slice ends at each sampling mark
        ids = [f"{rng.integers(2**32):08x}-{done + n:07d}" for n in range(count)]  # random order, no collisions
        messages = world.announcements(world.catalogue_slice(ports, ids, fractions, blobs), offset)
        offset += len(messages)
        began = time.perf_counter()
        for first in range(0, len(messages), poll):
            handler.handle([parse(m) for m in messages[first : first + poll]])
        handling += time.perf_counter() - began
        done += count
        if done == mark or done == images:
            samples.append(_sample(done, handling, time.perf_counter() - started, handler.stats, samples[-1]))
            say(_row(samples[-1]))
            mark += every
    return _summary(samples, images, poll, n3, variants, size, classes)


def _sample(images: int, handling_s: float, wall_s: float, stats, before: dict | None) -> dict:
    """Cumulative counts now, and rates over the interval since `before`."""
    now = {"images": images, "handler_s": handling_s, "wall_s": wall_s, "rss_mb": rss_mb(),
           "heap_writes": stats.heap_writes, "pairs": stats.pairs}
    if before is not None:
        new = images - before["images"]
        now["images_per_s"] = new / max(handling_s - before["handler_s"], 1e-9)
        now["heap_writes_per_image"] = (stats.heap_writes - before["heap_writes"]) / new
        now["pairs_per_image"] = (stats.pairs - before["pairs"]) / new
    return now


def _summary(samples: list[dict], images: int, poll: int, n3: int, variants: int, size: int, classes: int) -> dict:
    start, first, last = samples[0], samples[1], samples[-1]
    return {"images": images, "poll": poll, "n3": n3, "variants": variants, "size": size, "classes": classes,
            "images_per_s": images / max(last["handler_s"], 1e-9), "wall_s": last["wall_s"],
            "rss_start_mb": start["rss_mb"], "rss_end_mb": last["rss_mb"],
            "rss_growth_mb": last["rss_mb"] - start["rss_mb"],
            "rss_growth_after_first_sample_mb": last["rss_mb"] - first["rss_mb"],
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "heap_writes": last["heap_writes"], "samples": samples}


HEADER = f"{'images':>9s} {'images/s':>9s} {'RSS MB':>8s} {'heap writes/img':>16s} {'pairs/img':>10s} {'wall s':>8s}"


def _row(s: dict) -> str:
    return (f"{s['images']:9d} {s['images_per_s']:9.0f} {s['rss_mb']:8.1f} {s['heap_writes_per_image']:16.4f} "
            f"{s['pairs_per_image']:10.2f} {s['wall_s']:8.1f}")


def run(args: argparse.Namespace) -> int:
    """Open the catalog (temp SQLite or the given database), stream, print the table and write the JSON."""
    from segmad import bootstrap

    if args.images < 1 or args.poll < 1 or args.variants < 1 or args.n3 < 1:
        raise InputError("--images, --poll, --variants and --n3 must be at least 1")
    text = args.format == "text"
    with tempfile.TemporaryDirectory(prefix="segmad-bench-stream-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'catalog.db'}"
        postgres = url.startswith("postgresql")
        schema = args.schema or (f"bench_stream_{uuid.uuid4().hex[:8]}" if postgres else "")
        catalog = bootstrap.catalog(url, schema)
        try:
            if text:
                print(f"{args.images} images, {args.variants} variants of {args.size}x{args.size} maps, "
                      f"C={args.classes}, n3={args.n3}, polls of {args.poll}, {url.split(':', 1)[0]}")
                print(HEADER)
            figures = stream(catalog, args.images, args.poll, args.n3, args.variants, args.size, args.classes,
                             args.seed, say=(lambda line: print(line, flush=True)) if text else (lambda line: None))
        finally:
            if postgres and not args.schema:
                with catalog.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            catalog.close()
    figures["database"] = url.split(":", 1)[0]
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    if text:
        print(f"{figures['images_per_s']:.0f} images/s in the handler, {figures['wall_s']:.0f} s in all; RSS "
              f"{figures['rss_start_mb']:.0f} -> {figures['rss_end_mb']:.0f} MB (growth "
              f"{figures['rss_growth_mb']:.1f} MB, {figures['rss_growth_after_first_sample_mb']:.1f} MB after the "
              f"first sample), {figures['heap_writes']} heap writes")
    else:
        print(json.dumps(figures, indent=2))
    return 0

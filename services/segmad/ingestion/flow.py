"""Ingest a stream of inputs with every stage busy: inputs prepared by a thread pool, batches stored behind them.

Reading, decoding and encoding an input (`prepare`) runs in PREPARERS threads, at most AHEAD
inputs per thread ahead of the batch being filled (Pillow, hashlib and file and socket reads
release the GIL). A full batch is uploaded by one thread (store.upload) and then catalogued and
announced by another (store.catalogue), so batch k+1's uploads overlap batch k's INSERT and flush
while batch k+2 is prepared. Each image is still stored before its row goes in and announced only
after; batches are catalogued in order, and none after one that failed. Outcomes come back in input
order. Memory is bounded: the inputs in preparation, the batch being filled and two in flight.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from segmad.ingestion.outcome import Outcome
from segmad.ingestion.store import BATCH, BATCH_BYTES, Prepared, catalogue, upload
from segmad.ports import Ports

T = TypeVar("T")
PREPARERS = min(4, os.cpu_count() or 1)
AHEAD = 4  # inputs prepared ahead of the batch, per preparing thread
IN_FLIGHT = 2  # batches between full and catalogued: one uploading, one being catalogued


def ingest_stream(ports: Ports, items: Iterable[T], prepare: Callable[[T], Prepared | Outcome],
                  preparers: int = PREPARERS, batch_size: int = BATCH) -> Iterator[Outcome]:
    """The outcome of each item, in order: `prepare` (which must not touch `ports`) gives a Prepared image or a
    rejection; the batches are stored, catalogued and announced (rejections recorded) in order."""
    with ThreadPoolExecutor(preparers, thread_name_prefix="ingest-prepare") as pool, \
            ThreadPoolExecutor(1, thread_name_prefix="ingest-upload") as uploader, \
            ThreadPoolExecutor(1, thread_name_prefix="ingest-catalogue") as cataloguer:
        ahead: deque[Future] = deque()
        in_flight: deque[Future] = deque()
        batch: list[Prepared | Outcome] = []
        held = 0  # PNG bytes in `batch`

        def send(full: list[Prepared | Outcome]) -> None:
            uploaded, previous = uploader.submit(upload, ports, full), in_flight[-1] if in_flight else None

            def catalogued() -> list[Outcome]:
                if previous is not None and previous.exception() is not None:
                    raise RuntimeError("not catalogued: an earlier batch failed")
                return catalogue(ports, full, uploaded.result())

            in_flight.append(cataloguer.submit(catalogued))

        def take_oldest() -> Iterator[Outcome]:
            nonlocal batch, held
            entry = ahead.popleft().result()
            batch.append(entry)
            held += len(entry.data) if isinstance(entry, Prepared) else 0
            if len(batch) >= batch_size or held >= BATCH_BYTES:
                while len(in_flight) >= IN_FLIGHT:
                    yield from in_flight.popleft().result()
                send(batch)
                batch, held = [], 0

        try:
            for item in items:
                ahead.append(pool.submit(prepare, item))
                while len(ahead) > AHEAD * preparers:
                    yield from take_oldest()
            while ahead:
                yield from take_oldest()
            if batch:
                send(batch)
            while in_flight:
                yield from in_flight.popleft().result()
        finally:
            for future in [*ahead, *in_flight]:  # stopped early (an error, or the caller stopped reading)
                future.cancel()

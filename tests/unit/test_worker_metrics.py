"""A worker's /metrics counts the catalog writes it makes (the figure `segmad bench pipeline` reports)."""

from __future__ import annotations

from segmad.catalog import Catalog, make_engine, migrate
from segmad.catalog.records import Image, ModelVersion
from segmad.mad import HeapKey, Member
from segmad.runtime.worker import WorkerMetrics, count_writes


def catalog(tmp_path) -> Catalog:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(engine)
    return Catalog(engine)


def test_writes_are_counted_and_reads_are_not(tmp_path):
    cat, metrics = catalog(tmp_path), WorkerMetrics("probe")
    count_writes(cat.engine, metrics)
    cat.add_image(Image("img-1", "ab" * 32, 4, 4, "test", "images/x.png"))
    cat.image("img-1")
    cat.image_ids()
    assert metrics.db_writes._value.get() == 1 and metrics.last_db_write._value.get() > 0


def test_saving_a_heap_is_two_writes_whatever_its_size(tmp_path):
    cat, metrics = catalog(tmp_path), WorkerMetrics("probe")
    cat.add_model_version(ModelVersion("target", "v1", "deeplabv3plus", "target", "models/target/v1.pt"))
    cat.start_round(1, "target", "v1", 3, 10)
    for i in range(3):
        cat.add_image(Image(f"img-{i}", f"{i:064x}", 4, 4, "test", f"images/{i}.png"))
    count_writes(cat.engine, metrics)
    cat.save_heap(1, HeapKey("unet", 1, "target"), [Member(f"img-{i}", 0.5) for i in range(3)])
    assert metrics.db_writes._value.get() == 2  # delete the old members, insert the new ones (one executemany)

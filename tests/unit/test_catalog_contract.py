"""What the catalog promises on every database; a test class per database provides `catalog`
(an empty, migrated catalog) and mixes this in.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import timezone

import numpy as np
import pytest
from sqlalchemy import event, inspect
from sqlalchemy.exc import IntegrityError

from segmad.catalog import Catalog, repository
from segmad.catalog.records import Campaigns, Evaluation, Image, ModelVersion, Prediction, RoundSettings
from segmad.mad.bounds import SizeBounds
from segmad.mad.heaps import CandidateHeaps, HeapKey, Member, merge_members


def image(n: int) -> Image:
    return Image(f"img-{n:03d}", f"{n:064x}", 64, 48, f"/pool/{n}.png", f"images/img-{n:03d}.png")


def model(name="unet", version="1", role="competitor", **extra) -> ModelVersion:
    return ModelVersion(name, version, arch="unet", role=role, blob_key=f"models/{name}/{version}.pt", **extra)


def prediction(n: int, model="unet", version="1", entropy=None) -> Prediction:
    return Prediction(f"img-{n:03d}", model, version, f"pred/{model}/{version}/{n}.png", [0.5, 0.25, 0.25], entropy)


def schema_snapshot(engine) -> dict:
    """Tables, columns, keys, constraints and indexes as the database reports them."""
    inspector = inspect(engine)
    return {
        table: {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted((fk["constrained_columns"], fk["referred_table"], fk["referred_columns"])
                                   for fk in inspector.get_foreign_keys(table)),
            "unique": sorted(u["column_names"] for u in inspector.get_unique_constraints(table)),
            "indexes": sorted((i["name"], i["column_names"], bool(i["unique"])) for i in inspector.get_indexes(table)),
            "checks": sorted(c["name"] or "" for c in inspector.get_check_constraints(table)),
        }
        for table in sorted(inspector.get_table_names())
        if table != "alembic_version"
    }


class CatalogContract:
    @pytest.fixture
    def catalog(self) -> Catalog:
        raise NotImplementedError("a database's test class provides an empty, migrated catalog")

    @pytest.fixture
    def stocked(self, catalog) -> Catalog:
        """A catalog with images 1..5, unet versions 1 and 2 and a target deeplab version 1."""
        for n in range(1, 6):
            catalog.add_image(image(n))
        for m in (model(), model(version="2"), model("deeplab", role="target")):
            catalog.add_model_version(m)
        return catalog

    # Images and rejections

    def test_an_added_image_reads_back_with_a_utc_ingestion_time(self, catalog):
        assert catalog.add_image(image(1))
        stored = catalog.image("img-001")
        assert stored.ingested_at.tzinfo == timezone.utc
        assert stored == Image(**{**image(1).__dict__, "ingested_at": stored.ingested_at})

    def test_adding_an_image_twice_keeps_one(self, catalog):
        assert [catalog.add_image(image(1)), catalog.add_image(image(1))] == [True, False]
        assert catalog.image_ids() == ["img-001"]

    def test_an_image_with_known_content_under_a_new_id_is_not_added(self, catalog):
        catalog.add_image(image(1))
        assert not catalog.add_image(Image("other", image(1).sha256, 1, 1, "elsewhere", "images/other.png"))
        assert catalog.image_ids() == ["img-001"]

    def test_adding_images_in_bulk_gives_the_new_ids_in_one_insert(self, catalog):
        catalog.add_image(image(1))
        twin = Image("twin", image(2).sha256, 1, 1, "elsewhere", "images/twin.png")  # image 2's content
        writes = []

        def counted(conn, cursor, statement, *args):
            writes.append(statement.lstrip()[:6].upper())

        event.listen(catalog.engine, "before_cursor_execute", counted)
        try:
            new = catalog.add_images([image(1), image(2), twin, image(3)])
        finally:
            event.remove(catalog.engine, "before_cursor_execute", counted)
        assert new == {"img-002", "img-003"}
        assert writes == ["INSERT"]
        assert catalog.image_ids() == ["img-001", "img-002", "img-003"]

    def test_an_unknown_image_is_none(self, catalog):
        assert catalog.image("missing") is None

    def test_a_source_rejected_twice_keeps_its_latest_reason(self, catalog):
        catalog.add_rejection("/pool/x.txt", "not an image")
        catalog.add_rejection("/pool/x.txt", "too small")
        assert [(r.source, r.reason) for r in catalog.rejections()] == [("/pool/x.txt", "too small")]

    # Model versions

    def test_a_model_version_reads_back_with_its_metrics_and_lineage(self, catalog):
        catalog.add_model_version(model("deeplab", "1", role="target"))
        tuned = model("deeplab", "2", role="target", parent_version="1", trained_on_round=1, metrics={"miou": 0.61})
        catalog.add_model_version(tuned)
        stored = catalog.model_version("deeplab", "2")
        assert stored == ModelVersion(**{**tuned.__dict__, "created_at": stored.created_at})

    def test_registering_a_version_twice_keeps_the_first(self, catalog):
        assert catalog.add_model_version(model(metrics={"miou": 0.5}))
        assert not catalog.add_model_version(model(metrics={"miou": 0.9}))
        assert [m.metrics for m in catalog.model_versions("unet")] == [{"miou": 0.5}]

    def test_model_versions_filter_by_role(self, stocked):
        assert [(m.name, m.version) for m in stocked.model_versions(role="target")] == [("deeplab", "1")]

    def test_the_default_version_is_the_one_set_last(self, stocked):
        stocked.set_default_version("unet", "1")
        stocked.set_default_version("unet", "2")
        assert stocked.default_version("unet") == "2"

    def test_a_name_without_a_default_has_none(self, stocked):
        assert stocked.default_version("unet") is None

    def test_an_unregistered_version_cannot_become_the_default(self, stocked):
        with pytest.raises(IntegrityError):
            stocked.set_default_version("unet", "9")

    def test_default_models_gives_the_default_version_of_each_name(self, stocked):
        stocked.set_default_version("unet", "2")
        stocked.set_default_version("deeplab", "1")
        assert [(m.name, m.version) for m in stocked.default_models("competitor")] == [("unet", "2")]

    # Predictions

    def test_a_prediction_reads_back_exactly(self, stocked):
        exact = Prediction("img-001", "unet", "1", "p.png", [1 / 3, 2 / 3, 0.0], entropy=math.pi)
        stocked.add_prediction(exact)
        assert stocked.prediction("img-001", "unet", "1") == exact

    def test_adding_a_prediction_twice_keeps_one(self, stocked):
        assert [stocked.add_prediction(prediction(1)), stocked.add_prediction(prediction(1))] == [True, False]
        assert len(list(stocked.predictions_for_model_version("unet", "1"))) == 1

    def test_adding_predictions_in_bulk_counts_only_new_ones(self, stocked):
        stocked.add_prediction(prediction(1))
        assert stocked.add_predictions([prediction(1), prediction(2), prediction(3)]) == 2

    def test_adding_predictions_in_bulk_is_one_insert(self, stocked):
        writes = []

        def counted(conn, cursor, statement, *args):
            writes.append(statement.lstrip()[:6].upper())

        event.listen(stocked.engine, "before_cursor_execute", counted)
        try:
            stocked.add_predictions([prediction(n) for n in range(1, 6)])
        finally:
            event.remove(stocked.engine, "before_cursor_execute", counted)
        assert writes == ["INSERT"]
        assert len(list(stocked.predictions_for_model_version("unet", "1"))) == 5

    def test_predictions_for_gives_the_recorded_ones_among_the_ids_by_image_id(self, stocked):
        for p in (prediction(3), prediction(1), prediction(2, version="2"), prediction(4)):
            stocked.add_prediction(p)
        found = stocked.predictions_for(["img-003", "img-001", "img-002", "img-005", "nowhere"], "unet", "1")
        assert found == [prediction(1), prediction(3)]

    def test_predictions_for_no_ids_is_empty(self, stocked):
        stocked.add_prediction(prediction(1))
        assert stocked.predictions_for([], "unet", "1") == []

    def test_images_by_id_gives_the_catalogued_images_among_the_ids(self, stocked):
        found = stocked.images_by_id(["img-002", "img-004", "nowhere"])
        assert sorted(found) == ["img-002", "img-004"]
        assert found["img-004"] == Image(**{**image(4).__dict__, "ingested_at": found["img-004"].ingested_at})

    def test_a_prediction_of_an_uncatalogued_image_is_refused(self, stocked):
        with pytest.raises(IntegrityError):
            stocked.add_prediction(Prediction("nowhere", "unet", "1", "p.png", [1.0]))

    def test_predictions_of_a_model_version_come_by_image_id_across_pages(self, stocked):
        for n in (5, 3, 1, 2, 4):
            stocked.add_prediction(prediction(n))
        stocked.add_prediction(prediction(1, version="2"))
        ids = [p.image_id for p in stocked.predictions_for_model_version("unet", "1", batch_size=2)]
        assert ids == ["img-001", "img-002", "img-003", "img-004", "img-005"]

    # Rounds

    def test_a_started_round_reads_back_with_its_settings(self, stocked):
        settings = RoundSettings(num_classes=3, competitors=(("unet", "v0"),), class_names=("a", "b", "c"))
        assert stocked.start_round(1, "deeplab", "1", n3=4, n4=10, settings=settings)
        r = stocked.round(1)
        stored = (r.state, r.target, r.target_version, r.n3, r.n4, r.settings)
        assert stored == ("mining", "deeplab", "1", 4, 10, settings)

    def test_round_settings_are_merged_not_replaced(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=4, n4=10, settings=RoundSettings(num_classes=3))
        merged = RoundSettings(num_classes=3, campaigns=Campaigns(weak=7))
        assert stocked.update_round_settings(1, campaigns=Campaigns(weak=7)) == merged
        assert stocked.round(1).settings == merged
        with pytest.raises(KeyError):
            stocked.update_round_settings(2, measure_only=True)

    def test_starting_a_round_twice_keeps_the_first(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=4, n4=10)
        assert not stocked.start_round(1, "deeplab", "1", n3=8, n4=10)
        assert [r.n3 for r in stocked.rounds()] == [4]

    def test_a_round_state_change_is_stored_and_stamped(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=4, n4=10)
        stocked.set_round_state(1, "mining")
        r = stocked.round(1)
        assert r.state == "mining" and r.updated_at >= r.created_at

    def test_changing_the_state_of_a_missing_round_is_an_error(self, catalog):
        with pytest.raises(KeyError):
            catalog.set_round_state(3, "mining")

    def test_rounds_come_in_order(self, stocked):
        for n in (2, 1, 3):
            stocked.start_round(n, "deeplab", "1", n3=4, n4=10)
        assert [r.round for r in stocked.rounds()] == [1, 2, 3]

    # Heaps

    def test_stored_heaps_load_as_the_records_of_the_same_heaps(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=2, n4=1)
        heaps = CandidateHeaps(2, SizeBounds(np.zeros(3), np.ones(3)))
        for key, image_id, d in [(HeapKey("unet", 2, "competitor"), "img-003", 0.5),
                                 (HeapKey("unet", 2, "target"), "img-001", 1 / 3),
                                 (HeapKey("unet", 2, "target"), "img-002", 1 / 3),
                                 (HeapKey("fcn", 1, "target"), "img-004", 0.9)]:
            heaps.add_member(key, Member(image_id, d))
        for key, members in heaps.items():
            stocked.save_heap(1, key, members)
        assert stocked.load_heaps(1) == heaps.to_records()

    def test_saving_a_heap_again_replaces_its_members(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=2, n4=1)
        key = HeapKey("unet", 1, "target")
        stocked.save_heap(1, key, [Member("img-001", 0.2), Member("img-002", 0.1)])
        stocked.save_heap(1, key, [Member("img-003", 0.4), Member("img-001", 0.2)])
        assert [m["image"] for m in stocked.load_heaps(1)[0]["members"]] == ["img-003", "img-001"]

    def test_heaps_belong_to_their_round(self, stocked):
        for n in (1, 2):
            stocked.start_round(n, "deeplab", "1", n3=2, n4=1)
        stocked.save_heap(1, HeapKey("unet", 1, "target"), [Member("img-001", 0.2)])
        assert stocked.load_heaps(2) == []

    def test_merging_a_view_into_a_heap_keeps_the_top_n3_of_both(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=3, n4=1)
        key, other = HeapKey("unet", 1, "target"), HeapKey("unet", 1, "competitor")
        stocked.save_heap(1, key, [Member("img-001", 0.2), Member("img-002", 0.5), Member("img-003", 0.1)])
        stocked.save_heap(1, other, [Member("img-005", 0.9)])
        merged = stocked.merge_heap(1, key, [Member("img-004", 0.3), Member("img-002", 0.5)], n3=3)
        assert merged == [Member("img-002", 0.5), Member("img-004", 0.3), Member("img-001", 0.2)]
        assert stocked.load_heaps(1) == [
            {"competitor": "unet", "class": 1, "partition_by": "target",
             "members": [{"image": m.image_id, "distance": m.distance} for m in merged]},
            {"competitor": "unet", "class": 1, "partition_by": "competitor",
             "members": [{"image": "img-005", "distance": 0.9}]},
        ]

    def test_merging_into_an_empty_heap_stores_the_view(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=2, n4=1)
        view = [Member("img-003", 0.4), Member("img-001", 0.4), Member("img-002", 0.7)]
        assert stocked.merge_heap(1, HeapKey("fcn", 2, "competitor"), view, n3=2) == [
            Member("img-002", 0.7), Member("img-001", 0.4)]
        assert [m["image"] for m in stocked.load_heaps(1)[0]["members"]] == ["img-002", "img-001"]

    def test_merging_a_view_that_changes_nothing_writes_nothing(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=2, n4=1)
        key = HeapKey("unet", 1, "target")
        stocked.merge_heap(1, key, [Member("img-001", 0.9), Member("img-002", 0.8)], n3=2)
        writes = []

        def count(conn, cursor, statement, *args):
            if statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
                writes.append(statement)

        event.listen(stocked.engine, "before_cursor_execute", count)
        try:
            merged = stocked.merge_heap(1, key, [Member("img-003", 0.1), Member("img-001", 0.9)], n3=2)
        finally:
            event.remove(stocked.engine, "before_cursor_execute", count)
        assert merged == [Member("img-001", 0.9), Member("img-002", 0.8)] and writes == []

    def test_concurrent_merges_into_one_heap_lose_nothing(self, stocked, monkeypatch):
        # Each step both threads offer an image better than the whole heap, so both evict at once:
        # without the heap lock they would read the same members and store n3 + 1 of them. A slow
        # merge between the read and the write widens that window.
        def slow_merge(*args):
            time.sleep(0.003)
            return merge_members(*args)

        monkeypatch.setattr(repository, "merge_members", slow_merge)
        stocked.start_round(1, "deeplab", "1", n3=3, n4=1)
        for n in range(6, 46):
            stocked.add_image(image(n))
        key, steps, together = HeapKey("unet", 1, "target"), 20, threading.Barrier(2)
        offered = {side: [Member(f"img-{6 + 2 * i + side:03d}", float(i)) for i in range(steps)] for side in (0, 1)}
        failures = []

        def merge(side: int):
            try:
                for member in offered[side]:
                    together.wait(timeout=10)
                    stocked.merge_heap(1, key, [member], n3=3)
            except BaseException as error:  # reported by the main thread, which alone can fail the test
                failures.append(error)
                together.abort()

        threads = [threading.Thread(target=merge, args=(side,)) for side in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        expected = merge_members(3, offered[0], offered[1])
        assert [Member(m["image"], m["distance"]) for m in stocked.load_heaps(1)[0]["members"]] == expected

    # Round images and evaluations

    def test_setting_a_round_image_set_replaces_it(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=2, n4=1)
        stocked.set_round_images(1, "candidates", ["img-003", "img-001"])
        stocked.set_round_images(1, "candidates", ["img-002", "img-001", "img-002"])
        assert stocked.round_images(1, "candidates") == ["img-001", "img-002"]

    def test_round_image_sets_are_kept_apart_by_kind(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=2, n4=1)
        stocked.set_round_images(1, "counterexamples", ["img-001"])
        stocked.set_round_images(1, "test", ["img-002"])
        assert stocked.round_images(1, "counterexamples") == ["img-001"]

    def test_an_unknown_kind_of_round_image_set_is_refused(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=2, n4=1)
        with pytest.raises(IntegrityError):
            stocked.set_round_images(1, "favourites", ["img-001"])

    def test_evaluating_again_replaces_the_measurement(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=2, n4=1)
        stocked.save_evaluation(Evaluation(1, "unet", "1", "T1", 0.4, [0.9, 0.1, None]))
        stocked.save_evaluation(Evaluation(1, "unet", "1", "T1", 0.5, [0.9, 0.3, None]))
        assert stocked.evaluations(1) == [Evaluation(1, "unet", "1", "T1", 0.5, [0.9, 0.3, None])]

    def test_evaluations_come_by_split_then_model(self, stocked):
        stocked.start_round(1, "deeplab", "1", n3=2, n4=1)
        for split, name in [("T1", "unet"), ("T0", "unet"), ("T0", "deeplab")]:
            stocked.save_evaluation(Evaluation(1, name, "1", split, 0.5, {}))
        order = [(e.split, e.model) for e in stocked.evaluations(1)]
        assert order == [("T0", "deeplab"), ("T0", "unet"), ("T1", "unet")]

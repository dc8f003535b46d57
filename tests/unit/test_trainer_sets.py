"""Training sets S0 and T0 in the blob store: `put_set` / `load_set` and `segmad sets add|list`."""

import json

import numpy as np
import pytest

from segmad import bootstrap
from segmad.cli import main
from segmad.codec import encode_png
from segmad.pipeline import sets
from segmad.settings import Settings
from segmad.world import WorldConfig, stack


@pytest.fixture
def ports(root):
    ports = bootstrap.build(Settings())
    yield ports
    ports.close()


def tiny(n=3, labels=(0, 1, 2)):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)
    masks = rng.choice(np.array(labels, np.uint8), (n, 16, 16))
    return [f"x-{i}" for i in range(n)], images, masks


def test_a_stored_set_loads_back_exactly_in_its_order(ports):
    ids, images, masks = tiny()
    sets.put_set(ports, "s0", ids[::-1], images[::-1], masks[::-1], num_classes=4)
    loaded_ids, loaded_images, loaded_masks = sets.load_set(ports, "s0")
    assert loaded_ids == ids[::-1]
    assert np.array_equal(loaded_images, images[::-1]) and np.array_equal(loaded_masks, masks[::-1])
    assert {k: sets.manifest(ports, "s0")[k] for k in ("images", "num_classes")} == {"images": ids[::-1], "num_classes": 4}
    assert sets.set_names(ports) == ["s0"]


def test_c_defaults_to_the_largest_label_and_ignore_does_not_count(ports):
    ids, images, masks = tiny(labels=(0, 2, 255))
    sets.put_set(ports, "t0", ids, images, masks)
    assert sets.manifest(ports, "t0")["num_classes"] == 2


@pytest.mark.parametrize("change, message", [
    (lambda ids, im, m: (ids[:2], im, m), "do not match"),
    (lambda ids, im, m: (["a b", *ids[1:]], im, m), "usable name"),
    (lambda ids, im, m: (ids, im.astype(np.float32), m), "uint8"),
])
def test_an_unusable_set_is_refused_before_anything_is_stored(ports, change, message):
    with pytest.raises(ValueError, match=message):
        sets.put_set(ports, "s0", *change(*tiny()))
    assert sets.manifest(ports, "s0") is None


def test_labels_above_c_are_refused(ports):
    with pytest.raises(ValueError, match="label 2"):
        sets.put_set(ports, "s0", *tiny(), num_classes=1)


def test_a_missing_set_names_the_command_that_adds_it(ports):
    with pytest.raises(LookupError, match="segmad sets add t0"):
        sets.load_set(ports, "t0")


def test_sets_add_world_writes_the_worlds_split_and_list_shows_it(root, ports, capsys):
    assert main(["sets", "add", "s0", "--world", "--count", "3", "--size", "32", "--num-classes", "3"]) == 0
    ids, images, masks = sets.load_set(ports, "s0")
    expected = stack(WorldConfig(size=32, num_classes=3), "s0", range(3))
    assert ids == ["s0-000000", "s0-000001", "s0-000002"]
    assert np.array_equal(images, expected[0]) and np.array_equal(masks, expected[1])
    capsys.readouterr()
    assert main(["sets", "list", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"name": "s0", "images": 3, "num_classes": 3}]


def test_sets_add_reads_image_and_mask_folders(root, ports):
    ids, images, masks = tiny()
    for folder in ("images", "masks"):
        (root / folder).mkdir()
    for i, image, mask in zip(ids, images, masks):
        (root / "images" / f"{i}.png").write_bytes(encode_png(image))
        (root / "masks" / f"{i}.png").write_bytes(encode_png(mask))
    assert main(["sets", "add", "mine", "--images", str(root / "images"), "--masks", str(root / "masks")]) == 0
    assert np.array_equal(sets.load_set(ports, "mine")[2], masks)


@pytest.mark.parametrize("args, message", [
    (["sets", "add", "s0", "--images", "nowhere"], "--images needs --masks"),
    (["sets", "add", "extra", "--world"], "--split s0|t0"),
    (["sets", "add", "s0", "--world", "--count", "0"], "--count"),
    (["sets", "add", "s/0", "--world"], "usable name"),
    (["sets", "add", "s0", "--world", "--size", "0"], "--size must be at least 16 px, got 0"),
    (["sets", "add", "s0", "--world", "--size", "100000"], "--size must be at most 4096 px"),
    (["sets", "add", "s0", "--world", "--num-classes", "9"], "--num-classes must be in 1..8, got 9"),
])
def test_sets_add_explains_what_is_wrong(root, capsys, args, message):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_a_mask_missing_from_the_folder_is_named(root, capsys):
    ids, images, masks = tiny()
    (root / "images").mkdir()
    (root / "masks").mkdir()
    for i, image in zip(ids, images):
        (root / "images" / f"{i}.png").write_bytes(encode_png(image))
    assert main(["sets", "add", "mine", "--images", str(root / "images"), "--masks", str(root / "masks")]) == 2
    assert "no mask for 3 images" in capsys.readouterr().err

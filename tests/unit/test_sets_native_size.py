"""Training sets of images of any size: stored one by one at native size, resized only when loaded stacked."""

import json

import numpy as np
import pytest

from segmad import bootstrap
from segmad.adapters.blobstore import LocalBlobStore
from segmad.cli import main
from segmad.codec import encode_png
from segmad.commands import sets as sets_command
from segmad.pipeline import sets
from segmad.settings import Settings

SIZES = [(16, 16), (8, 24), (20, 12)]  # (H, W)


@pytest.fixture
def ports(root):
    ports = bootstrap.build(Settings())
    yield ports
    ports.close()


def mixed(sizes=SIZES, labels=(0, 1, 2)):
    """ids, images and masks of the given (H, W) sizes, as lists."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8) for h, w in sizes]
    masks = [rng.choice(np.array(labels, np.uint8), (h, w)) for h, w in sizes]
    return [f"x-{i}" for i in range(len(sizes))], images, masks


def write_folders(root, ids, images, masks):
    for folder in ("images", "masks"):
        (root / folder).mkdir(exist_ok=True)
    for i, image, mask in zip(ids, images, masks):
        (root / "images" / f"{i}.png").write_bytes(encode_png(image))
        (root / "masks" / f"{i}.png").write_bytes(encode_png(mask))


def set_blobs(ports, name):
    return [k for k in ports.blobs.keys(f"sets/{name}/") if not k.endswith("manifest.json")]


def test_images_of_mixed_sizes_come_back_from_iter_set_at_their_own_size(ports):
    ids, images, masks = mixed()
    sets.put_set(ports, "s0", ids, images, masks, num_classes=2)
    back = list(sets.iter_set(ports, "s0"))
    assert [i for i, _, _ in back] == ids
    for (_, image, mask), expected_image, expected_mask in zip(back, images, masks):
        assert np.array_equal(image, expected_image) and np.array_equal(mask, expected_mask)
    assert sets.manifest(ports, "s0")["sizes"] == [list(s) for s in SIZES]


def test_put_set_items_takes_a_generator(ports):
    ids, images, masks = mixed()
    sets.put_set_items(ports, "t0", (item for item in zip(ids, images, masks)))
    assert sets.manifest(ports, "t0")["num_classes"] == 2
    assert [m.shape for _, _, m in sets.iter_set(ports, "t0")] == SIZES


def test_load_set_without_size_names_the_sizes_when_they_differ(ports):
    sets.put_set(ports, "s0", *mixed())
    with pytest.raises(ValueError, match=r"\(8, 24\), \(16, 16\), \(20, 12\); pass size="):
        sets.load_set(ports, "s0")


def test_load_set_with_size_resizes_masks_by_nearest_neighbour(ports):
    small = np.array([[1, 2], [3, 0]], np.uint8)
    large = np.arange(16, dtype=np.uint8).reshape(4, 4)
    images = [np.full((2, 2, 3), 7, np.uint8), np.full((4, 4, 3), 9, np.uint8)]
    sets.put_set(ports, "s0", ["a", "b"], images, [small, large], num_classes=15)
    ids, loaded_images, loaded_masks = sets.load_set(ports, "s0", size=(4, 2))
    assert ids == ["a", "b"] and loaded_images.shape == (2, 4, 2, 3) and loaded_masks.shape == (2, 4, 2)
    # Each output pixel takes the input pixel under its centre: rows 0,0,1,1 of a, columns 1,3 of b.
    assert loaded_masks[0].tolist() == [[1, 2], [1, 2], [3, 0], [3, 0]]
    assert loaded_masks[1].tolist() == [[1, 3], [5, 7], [9, 11], [13, 15]]
    # Bilinear on images: a flat colour stays that colour.
    assert (loaded_images[0] == 7).all() and (loaded_images[1] == 9).all()


def test_load_set_of_one_size_stacks_as_before(ports):
    ids, images, masks = mixed(sizes=[(8, 24)] * 2)
    sets.put_set(ports, "s0", ids, images, masks)
    _, loaded_images, loaded_masks = sets.load_set(ports, "s0")
    assert np.array_equal(loaded_images, np.stack(images)) and np.array_equal(loaded_masks, np.stack(masks))


def test_a_mask_of_another_size_than_its_image_is_refused(ports):
    ids, images, masks = mixed()
    masks[1] = masks[1].T
    with pytest.raises(ValueError, match="x-1"):
        sets.put_set(ports, "s0", ids, images, masks)
    assert sets.manifest(ports, "s0") is None and set_blobs(ports, "s0") == []


def test_a_failed_replacement_leaves_the_old_set_whole(ports):
    ids, images, masks = mixed()
    sets.put_set(ports, "s0", ids, images, masks)
    before = set_blobs(ports, "s0")
    new_images = [np.zeros_like(x) for x in images]
    with pytest.raises(ValueError, match="label 2, more than C = 1"):
        sets.put_set(ports, "s0", ids, new_images, masks, num_classes=1)
    assert set_blobs(ports, "s0") == before
    assert all(np.array_equal(a, b) for (_, a, _), b in zip(sets.iter_set(ports, "s0"), images))


def test_a_replaced_set_leaves_no_blobs_of_the_old_one(ports):
    sets.put_set(ports, "s0", *mixed())
    ids, images, masks = mixed(sizes=[(4, 4)])
    sets.put_set(ports, "s0", ids, images, masks)
    generation = sets.manifest(ports, "s0")["generation"]
    assert set_blobs(ports, "s0") == [f"sets/s0/{generation}/images/x-0.png", f"sets/s0/{generation}/masks/x-0.png"]


def test_a_set_stored_by_an_older_version_still_loads(ports):
    image, mask = np.full((4, 6, 3), 5, np.uint8), np.ones((4, 6), np.uint8)
    ports.blobs.put("sets/s0/images/a.png", encode_png(image))
    ports.blobs.put("sets/s0/masks/a.png", encode_png(mask))
    ports.blobs.put("sets/s0/manifest.json", json.dumps({"images": ["a"], "num_classes": 1}).encode())
    ids, images, masks = sets.load_set(ports, "s0", size=(2, 3))
    assert ids == ["a"] and images.shape == (1, 2, 3, 3) and masks.tolist() == [[[1, 1, 1], [1, 1, 1]]]


def test_sets_add_stores_folders_of_mixed_sizes(root, ports):
    ids, images, masks = mixed()
    write_folders(root, ids, images, masks)
    assert main(["sets", "add", "mine", "--images", str(root / "images"), "--masks", str(root / "masks")]) == 0
    assert [(i, m.shape) for i, _, m in sets.iter_set(ports, "mine")] == list(zip(ids, SIZES))


def test_sets_add_refuses_a_mask_of_the_wrong_size_naming_the_file(root, ports, capsys):
    ids, images, masks = mixed()
    masks[2] = np.zeros((12, 20), np.uint8)
    write_folders(root, ids, images, masks)
    assert main(["sets", "add", "mine", "--images", str(root / "images"), "--masks", str(root / "masks")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "x-2.png" in err and "20x12" in err and "12x20" in err
    assert sets.manifest(ports, "mine") is None and set_blobs(ports, "mine") == []


def test_sets_add_stores_each_image_before_reading_the_next(root, ports, monkeypatch):
    count = 200
    ids, images, masks = mixed(sizes=[(8 + i % 5, 8 + i % 7) for i in range(count)])
    write_folders(root, ids, images, masks)
    events = []
    read, put = sets_command._rgb, LocalBlobStore.put
    monkeypatch.setattr(sets_command, "_rgb", lambda path: events.append("read") or read(path))
    monkeypatch.setattr(LocalBlobStore, "put", lambda self, key, *a: (
        events.append("put") if "/images/" in key else None) or put(self, key, *a))
    assert main(["sets", "add", "mine", "--images", str(root / "images"), "--masks", str(root / "masks")]) == 0
    # Stacked, all 200 reads would come first; streamed, reads and stores alternate.
    assert events == ["read", "put"] * count

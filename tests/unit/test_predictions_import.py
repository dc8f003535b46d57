"""The offline path joins the loop: maps made elsewhere are imported, mined and rated without any model served."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from segmad.cards.labels import LabelSpace
from segmad.cli import main
from segmad.errors import InputError
from segmad.codec import decode_png, encode_png
from segmad.mad import SizeBounds
from segmad.pipeline.keys import prediction_key

from round_world import add_people, items

SIZES = [(40, 56), (64, 48), (50, 50)]
IMAGES = 12


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A data dir holding ingested photos of mixed sizes (from files: their stems are the match keys)."""
    monkeypatch.setenv("SEGMAD_DATA_DIR", str(tmp_path / "data"))
    for name in ("SEGMAD_DATABASE_URL", "SEGMAD_BLOB_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SEGMAD_CLASSES", "background,person,dog")
    monkeypatch.setenv("SEGMAD_NUM_CLASSES", "2")
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(IMAGES):
        h, w = SIZES[i % len(SIZES)]
        (photos / f"photo_{i:02d}.png").write_bytes(encode_png(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)))
    assert main(["ingest", str(photos)]) == 0
    return tmp_path


def write_maps(folder, disagree_on=(), labels=(0, 1, 2)):
    """photo_i.png maps: left half labels[1], right half labels[0]; labels[2] over everything where `disagree_on`."""
    folder.mkdir()
    for i in range(IMAGES):
        h, w = SIZES[i % len(SIZES)]
        label_map = np.full((h, w), labels[0], np.uint8)
        label_map[:, : w // 2] = labels[1]
        if i in disagree_on:
            label_map[:] = labels[2]
        (folder / f"photo_{i:02d}.png").write_bytes(encode_png(label_map))
    return folder


def test_imported_maps_are_mapped_mined_and_open_a_weak_campaign(env, capsys):
    from segmad import bootstrap
    from segmad.rounds import control

    target = write_maps(env / "target")
    same = write_maps(env / "same", disagree_on=(3, 7))
    # Another label set: 0 = void (-> background), 1 = human (-> person), 2 = car (not in the run: ignored).
    other = write_maps(env / "other", disagree_on=(5,), labels=(0, 1, 2))
    assert main(["predictions", "import", str(target), "--model", "target", "--role", "target"]) == 0
    assert main(["predictions", "import", str(same), "--model", "segnet", "--role", "competitor"]) == 0
    assert main(["predictions", "import", str(other), "--model", "theirs", "--role", "competitor",
                 "--classes", "void,human,car", "--label-map", "void=background,human=person"]) == 0
    assert "12 new maps of theirs@v0" in capsys.readouterr().err
    # Again: nothing new.
    assert main(["predictions", "import", str(other), "--model", "theirs", "--role", "competitor",
                 "--classes", "void,human,car", "--label-map", "void=background,human=person"]) == 0
    assert "0 new maps" in capsys.readouterr().err

    ports = bootstrap.build()
    try:
        image_of = {r.source.rsplit("/", 1)[-1][:-4]: i for i, r in ports.catalog.images_by_id(ports.catalog.image_ids()).items()}
        theirs = decode_png(ports.blobs.get(prediction_key("theirs", "v0", image_of["photo_05"])))
        assert (theirs == 255).all()  # "car" everywhere: unmapped, ignored
        mine = decode_png(ports.blobs.get(prediction_key("segnet", "v0", image_of["photo_03"])))
        assert mine.shape == SIZES[0] and (mine == 2).all()
        add_people(ports)
        bounds = SizeBounds(np.full(3, 0.01), np.full(3, 0.99))
        control.start(ports, 1, "target", "v0", 3, 2, bounds, ["person", "dog"])
        M, weak = control.close_mining(ports, 1, test_size=2)  # no worker ran: mined in one pass
        assert {image_of["photo_03"], image_of["photo_07"]} <= set(M)
        assert sorted(i.image_id for i in items(ports, weak)) == sorted(M)
    finally:
        ports.close()


def test_maps_that_do_not_fit_are_refused_with_one_line(env, capsys):
    bad = write_maps(env / "bad")
    (bad / "photo_01.png").write_bytes(encode_png(np.zeros((10, 10), np.uint8)))
    assert main(["predictions", "import", str(bad), "--model", "m", "--role", "competitor"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress bar
    assert "photo_01.png" in err and "its image 48x64" in err and err.startswith("segmad predictions: error")
    labels = write_maps(env / "labels", labels=(0, 1, 7))
    (labels / "photo_00.png").write_bytes(encode_png(np.full((40, 56), 7, np.uint8)))
    assert main(["predictions", "import", str(labels), "--model", "m2", "--role", "competitor"]) == 2
    assert "label 7" in capsys.readouterr().err
    from segmad import bootstrap

    ports = bootstrap.build()
    try:  # refused before anything was stored
        assert ports.catalog.model_version("m", "v0") is None and ports.catalog.model_version("m2", "v0") is None
    finally:
        ports.close()
    assert main(["predictions", "import", str(env / "labels"), "--model", "m3", "--role", "competitor",
                 "--classes", "a,b", "--label-map", "zz=person"]) == 2
    assert "not in --classes" in capsys.readouterr().err


def test_an_error_is_the_only_line_on_stderr_when_it_is_not_a_terminal(env, capsys):
    bad = write_maps(env / "bad")
    (bad / "photo_11.png").write_bytes(encode_png(np.zeros((10, 10), np.uint8)))  # checked last
    assert main(["predictions", "import", str(bad), "--model", "m", "--role", "competitor"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\r" not in err and err.startswith("segmad predictions: error: ")


def test_no_progress_keeps_the_bars_off_a_terminal(env, capsys, monkeypatch):
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    maps = write_maps(env / "maps")
    assert main(["predictions", "import", str(maps), "--model", "m", "--role", "competitor", "--no-progress"]) == 0
    assert capsys.readouterr().err == "segmad predictions: 12 new maps of m@v0 (12 in all)\n"


def test_a_map_named_by_a_stem_two_images_share_is_ambiguous_not_unmatched(env, capsys):
    more = env / "more"
    more.mkdir()
    h, w = SIZES[0]
    (more / "photo_00.png").write_bytes(encode_png(np.full((h, w, 3), 7, np.uint8)))  # another photo, same stem
    assert main(["ingest", str(more)]) == 0
    maps = write_maps(env / "maps")
    assert main(["predictions", "import", str(maps), "--model", "m", "--role", "competitor"]) == 0
    err = capsys.readouterr().err
    from segmad import bootstrap

    ports = bootstrap.build()
    try:
        twins = sorted(i for i, r in ports.catalog.images_by_id(ports.catalog.image_ids()).items()
                       if r.source.endswith("photo_00.png"))
    finally:
        ports.close()
    assert len(twins) == 2
    assert "11 new maps" in err and "match no image" not in err
    assert f"1 files match several images (ingested from files of the same name), e.g. photo_00.png could be " \
           f"{twins[0]} or {twins[1]}: name such a map by its image id" in err
    (maps / "photo_00.png").rename(maps / f"{twins[1]}.png")  # as the message says
    assert main(["predictions", "import", str(maps), "--model", "m", "--role", "competitor"]) == 0
    assert capsys.readouterr().err == "segmad predictions: 1 new maps of m@v0 (12 in all)\n"


@pytest.mark.parametrize("option, value", [("--model", "bad name"), ("--model", ""), ("--version", "a/b")])
def test_a_name_that_cannot_be_a_blob_key_is_refused_before_anything_is_stored(env, capsys, option, value):
    maps = write_maps(env / "maps")
    argv = ["predictions", "import", str(maps), "--model", "m", "--role", "competitor", option, value]
    with pytest.raises(SystemExit) as stopped:  # argparse's own refusal: usage, then the reason
        main(argv)
    assert stopped.value.code == 2
    assert "letters, digits, '.', '_' or '-'" in capsys.readouterr().err.strip().splitlines()[-1]
    from segmad import bootstrap
    from segmad.exchange.predictions import import_predictions

    ports = bootstrap.build()
    try:  # the library refuses it too, before the catalog holds the model
        with pytest.raises(InputError, match="letters, digits"):
            import_predictions(ports, maps, "bad name", "v0", "competitor", LabelSpace(("background", "person", "dog")))
        assert [v.name for v in ports.catalog.model_versions()] == []
    finally:
        ports.close()


def test_maps_that_name_no_ingested_image_register_nothing(env, capsys):
    stray = env / "stray"
    stray.mkdir()
    (stray / "someone_else.png").write_bytes(encode_png(np.zeros((40, 56), np.uint8)))
    assert main(["predictions", "import", str(stray), "--model", "m", "--role", "competitor"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "none of the 1 maps names an ingested image (e.g. someone_else.png)" in line
    from segmad import bootstrap

    ports = bootstrap.build()
    try:
        assert ports.catalog.model_version("m", "v0") is None
    finally:
        ports.close()

"""A round as a PASCAL VOC segmentation tree (what Datumaro's and torchvision's VOC readers open)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from segmad.codec import encode_png
from segmad.exchange.round_set import RoundSet
from segmad.labelling.palette import IGNORE, PALETTE, encode_palette_png

IGNORED = "ignored"  # VOC's name for the border / ignore label 255


def write_voc(round_set: RoundSet, out: Path) -> int:
    """JPEGImages/, SegmentationClass/ (accepted masks, 255 = VOC's border/ignore), ImageSets/Segmentation/
    {train = S, val = T, candidates = M}.txt, labelmap.txt, class_names.txt, predictions/<model>/ and
    provenance.json; how many images."""
    names = round_set.file_stems
    for folder in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    for image_id in round_set.image_ids:
        Image.fromarray(round_set.image(image_id)).save(out / "JPEGImages" / f"{names[image_id]}.jpg", quality=95)
        mask = round_set.mask(image_id)
        if mask is not None:
            (out / "SegmentationClass" / f"{names[image_id]}.png").write_bytes(encode_palette_png(mask))
    sets = {"train": round_set.counterexamples, "val": round_set.test_set, "candidates": round_set.candidates}
    for name, ids in sets.items():
        (out / "ImageSets/Segmentation" / f"{name}.txt").write_text("".join(f"{names[i]}\n" for i in ids))
    classes = ["background", *round_set.class_names]
    (out / "class_names.txt").write_text("\n".join(classes) + "\n")
    # Datumaro's (and CVAT's) VOC label map; its last line names the colour of 255, as VOC's own map
    # does, so those readers take ignore pixels as the label "ignored" instead of refusing the mask.
    colours = [*enumerate(classes), (IGNORE, IGNORED)]
    (out / "labelmap.txt").write_text("# label:color_rgb:parts:actions\n" + "".join(
        f"{name}:{','.join(str(int(v)) for v in PALETTE[k])}::\n" for k, name in colours))
    write_predictions(round_set, out / "predictions")
    write_provenance(round_set, out / "provenance.json")
    return len(round_set.image_ids)


def write_predictions(round_set: RoundSet, out: Path) -> None:
    """out/<model>/<file name>.png: every model's label map (L mode, 255 = ignore) of each image."""
    for model, ref in round_set.models().items():
        (out / model).mkdir(parents=True, exist_ok=True)
        for image_id in round_set.image_ids:
            prediction = round_set.prediction(image_id, ref)
            if prediction is not None:
                (out / model / f"{round_set.file_stems[image_id]}.png").write_bytes(encode_png(prediction))


def write_provenance(round_set: RoundSet, path: Path) -> None:
    """provenance.json: the round, its models and sets, and per file name the image's provenance."""
    names = round_set.file_stems
    path.write_text(json.dumps({
        "round": round_set.round, "class_names": round_set.class_names,
        "target": list(round_set.target), "competitors": [list(c) for c in round_set.competitors],
        "images": {names[i]: {"image_id": i, "candidate": i in set(round_set.candidates),
                              "counterexample": i in set(round_set.counterexamples),
                              "test": i in set(round_set.test_set), "labelled": i in round_set.mask_keys,
                              **round_set.provenance[i]} for i in round_set.image_ids}}, indent=1))

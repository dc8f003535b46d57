"""A round as COCO instances JSON: real file names and sizes, the round's classes, one RLE mask per class."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as coco_mask

from segmad.exchange.round_set import RoundSet
from segmad.exchange.voc import write_predictions, write_provenance
from segmad.labelling.palette import IGNORE

IGNORE_CATEGORY = "ignore"


def write_coco(round_set: RoundSet, out: Path) -> int:
    """images/<file name>.jpg, annotations.json (accepted masks), predictions/<model>/<file name>.png and
    provenance.json; how many images.

    Each image with an accepted mask has one annotation per class present (iscrowd 0) and, where the
    mask has ignore pixels (255), one `iscrowd: 1` annotation of category "ignore" (id C + 1) holding
    them, so COCO tools skip those pixels and the exact mask can be rebuilt. Each image also carries
    its segmad id, its sets and its provenance under the image record's "segmad" key.
    """
    (out / "images").mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for number, image_id in enumerate(round_set.image_ids, 1):
        picture = round_set.image(image_id)
        name = f"{round_set.file_stems[image_id]}.jpg"
        Image.fromarray(picture).save(out / "images" / name, quality=95)
        height, width = picture.shape[:2]
        images.append({"id": number, "file_name": name, "height": height, "width": width,
                       "segmad": {"image_id": image_id, **round_set.provenance[image_id]}})
        mask = round_set.mask(image_id)
        if mask is not None:
            annotations += mask_annotations(mask, number, len(round_set.class_names), len(annotations) + 1)
    categories = [{"id": k, "name": name, "supercategory": "object"}
                  for k, name in enumerate(round_set.class_names, 1)]
    categories.append({"id": len(round_set.class_names) + 1, "name": IGNORE_CATEGORY, "supercategory": "ignore"})
    (out / "annotations.json").write_text(json.dumps({
        "info": {"description": f"segmad round {round_set.round}"}, "images": images,
        "annotations": annotations, "categories": categories}))
    write_predictions(round_set, out / "predictions")
    write_provenance(round_set, out / "provenance.json")
    return len(images)


def mask_annotations(label_map: np.ndarray, image_number: int, num_classes: int, first_id: int) -> list[dict]:
    """An RLE annotation per class present in the map, then the ignore pixels as one crowd region."""
    height, width = label_map.shape
    wanted = [(k, k, 0) for k in range(1, num_classes + 1)] + [(IGNORE, num_classes + 1, 1)]
    out = []
    for value, category, crowd in wanted:
        binary = np.asfortranarray((label_map == value).astype(np.uint8))
        if not binary.any():
            continue
        rle = coco_mask.encode(binary)
        out.append({"id": first_id + len(out), "image_id": image_number, "category_id": category,
                    "iscrowd": crowd, "area": int(coco_mask.area(rle)),
                    "bbox": [float(v) for v in coco_mask.toBbox(rle)],
                    "segmentation": {"size": [height, width], "counts": rle["counts"].decode("ascii")}})
    return out

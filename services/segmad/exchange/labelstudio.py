"""A round as a Label Studio task file: each image with the target's and competitors' maps as pre-annotations."""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

from PIL import Image

from segmad.exchange.brush import encode_mask
from segmad.exchange.round_set import RoundSet
from segmad.exchange.voc import write_provenance
from segmad.labelling.palette import hex_colour

FROM_NAME, TO_NAME = "tag", "image"


def write_labelstudio(round_set: RoundSet, out: Path, image_root: str = "images/") -> int:
    """tasks.json (one task per image of M ∪ S ∪ T, one prediction per model), label_config.xml,
    images/<file name>.jpg and provenance.json; how many tasks. `image_root` prefixes each image's URL."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    tasks = []
    for image_id in round_set.image_ids:
        name = f"{round_set.file_stems[image_id]}.jpg"
        Image.fromarray(round_set.image(image_id)).save(out / "images" / name, quality=95)
        predictions = []
        for model, ref in round_set.models().items():
            label_map = round_set.prediction(image_id, ref)
            if label_map is not None:
                predictions.append({"model_version": f"{model}:{ref[1]}",
                                    "result": brush_results(label_map, round_set.class_names)})
        tasks.append({"data": {TO_NAME: image_root + name, "image_id": image_id,
                               **round_set.provenance[image_id]}, "predictions": predictions})
    (out / "tasks.json").write_text(json.dumps(tasks))
    (out / "label_config.xml").write_text(label_config(round_set.class_names))
    write_provenance(round_set, out / "provenance.json")
    return len(tasks)



def brush_results(label_map, class_names: list[str]) -> list[dict]:
    """One brushlabels result per class present in the map (background and ignore left out)."""
    height, width = label_map.shape
    return [{"id": f"k{k}", "from_name": FROM_NAME, "to_name": TO_NAME, "type": "brushlabels",
             "original_width": width, "original_height": height, "image_rotation": 0,
             "value": {"format": "rle", "rle": encode_mask(label_map == k), "brushlabels": [name]}}
            for k, name in enumerate(class_names, 1) if (label_map == k).any()]


def label_config(class_names: list[str]) -> str:
    """The labelling interface the tasks fit: an image and one brush label per class."""
    labels = "".join(f'    <Label value={quoteattr(name)} background="{hex_colour(k)}"/>\n'
                     for k, name in enumerate(class_names, 1))
    return (f'<View>\n  <Image name="{TO_NAME}" value="${TO_NAME}" zoom="true"/>\n'
            f'  <BrushLabels name="{FROM_NAME}" toName="{TO_NAME}">\n{labels}  </BrushLabels>\n</View>\n')

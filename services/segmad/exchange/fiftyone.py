"""A round as a FiftyOne dataset: its images, a segmentation field per model and the ground truth, provenance fields."""

from __future__ import annotations

import json
import re
from pathlib import Path

from PIL import Image

from segmad.codec import encode_png
from segmad.exchange.round_set import RoundSet
from segmad.exchange.voc import write_provenance
from segmad.labelling.palette import IGNORE

GROUND_TRUTH = "ground_truth"
_FIELDS = "fiftyone.core.fields."
SEGMENTATION = f"{_FIELDS}EmbeddedDocumentField(fiftyone.core.labels.Segmentation)"
# Declared up front so a field has its type even where every sample holds None (FiftyOne would drop it).
PROVENANCE_FIELDS = {
    "image_id": f"{_FIELDS}StringField", "source": f"{_FIELDS}StringField",
    "candidate": f"{_FIELDS}BooleanField", "counterexample": f"{_FIELDS}BooleanField",
    "test": f"{_FIELDS}BooleanField", "labelled": f"{_FIELDS}BooleanField",
    "out_of_domain": f"{_FIELDS}BooleanField", "mos": f"{_FIELDS}FloatField",
    # plain dicts: FiftyOne 1.22 cannot read back the list-of-documents type it writes in this layout
    "heaps": f"{_FIELDS}ListField({_FIELDS}DictField)",
}
# FiftyOne's own sample fields and ours, which no model's field may shadow.
TAKEN = {"id", "filepath", "tags", "metadata", "media_type", "created_at", "last_modified_at", GROUND_TRUTH,
         *PROVENANCE_FIELDS}


def write_fiftyone(round_set: RoundSet, out: Path) -> int:
    """data/<file name>.jpg, fields/<field>/<file name>.png, samples.json, metadata.json and provenance.json;
    how many samples.

    This is FiftyOne's JSON dataset layout (`fiftyone.types.LegacyFiftyOneDataset`, which its
    `FiftyOneDataset` importer also reads when metadata.json has no "version"), loaded with
    `fo.Dataset.from_dir(out, dataset_type=fo.types.FiftyOneDataset)`. Its samples are plain
    `Sample.from_dict` documents, where the newer layout is a dump of FiftyOne's database documents
    that changes with its releases. Each sample holds the accepted mask as `ground_truth` and each
    model's map as a `Segmentation` field named after the model (one-channel PNGs, 255 = ignore, masks
    mapped by `default_mask_targets`), the image's provenance as fields and its sets as tags.
    """
    fields = model_fields(list(round_set.models()))
    (out / "data").mkdir(parents=True, exist_ok=True)
    for field in (GROUND_TRUTH, *fields):
        (out / "fields" / field).mkdir(parents=True, exist_ok=True)
    sets = {"candidates": set(round_set.candidates), "counterexamples": set(round_set.counterexamples),
            "test": set(round_set.test_set)}
    samples = [_sample(round_set, image_id, fields, sets, out) for image_id in round_set.image_ids]
    (out / "samples.json").write_text(json.dumps({"samples": samples}))
    (out / "metadata.json").write_text(json.dumps(_metadata(round_set, fields), indent=1))
    write_provenance(round_set, out / "provenance.json")
    return len(samples)


def model_fields(models: list[str]) -> dict[str, str]:
    """field name -> model name: the name made a valid FiftyOne field, suffixed where it would clash."""
    out = {}
    for model in models:
        field = re.sub(r"\W", "_", model, flags=re.ASCII)
        if not re.match(r"[A-Za-z]", field):
            field = f"model_{field}"
        while field in TAKEN or field in out:
            field += "_model"
        out[field] = model
    return out


def _sample(round_set: RoundSet, image_id: str, fields: dict[str, str], sets: dict[str, set], out: Path) -> dict:
    name = round_set.file_stems[image_id]
    picture = out / "data" / f"{name}.jpg"
    image = round_set.image(image_id)
    Image.fromarray(image).save(picture, quality=95)
    models = round_set.models()
    maps = {GROUND_TRUTH: round_set.mask(image_id)} | {
        field: round_set.prediction(image_id, models[model]) for field, model in fields.items()}
    labels = {}
    for field, label_map in maps.items():
        if label_map is not None:
            (out / "fields" / field / f"{name}.png").write_bytes(encode_png(label_map))
            labels[field] = {"_cls": "Segmentation", "mask_path": f"fields/{field}/{name}.png"}
    provenance = round_set.provenance[image_id]
    return {
        "filepath": f"data/{name}.jpg",
        "tags": [tag for tag, ids in sets.items() if image_id in ids],
        "metadata": {"_cls": "ImageMetadata", "size_bytes": picture.stat().st_size, "mime_type": "image/jpeg",
                     "width": image.shape[1], "height": image.shape[0], "num_channels": 3},
        **labels,
        "image_id": image_id, "source": provenance["source"],
        "candidate": image_id in sets["candidates"], "counterexample": image_id in sets["counterexamples"],
        "test": image_id in sets["test"], "labelled": image_id in round_set.mask_keys,
        "out_of_domain": provenance["out_of_domain"], "mos": provenance["mos"],
        "heaps": provenance["heaps"],
    }


def _metadata(round_set: RoundSet, fields: dict[str, str]) -> dict:
    models = round_set.models()
    targets = {0: "background"} | dict(enumerate(round_set.class_names, 1)) | {IGNORE: "ignore"}
    return {
        "name": f"segmad-round-{round_set.round}",
        "media_type": "image",
        "sample_fields": {GROUND_TRUTH: SEGMENTATION, **{field: SEGMENTATION for field in fields},
                          **PROVENANCE_FIELDS},
        "info": {"description": f"segmad round {round_set.round}", "round": round_set.round,
                 "class_names": round_set.class_names, "target": list(round_set.target),
                 "competitors": [list(c) for c in round_set.competitors],
                 "model_fields": {field: list(models[model]) for field, model in fields.items()},
                 "default_mask_targets": {str(k): v for k, v in targets.items()}},
    }

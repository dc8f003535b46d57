"""A team's training script as a card's train.command names it: reads segmad's VOC folder, writes a new ONNX.

It "trains" by shifting the last bias of the parent model (enough to make a different, valid model) and
records what it saw in $HOOK_REPORT for the test to check.
"""

import argparse
import json
import os
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from PIL import Image

parser = argparse.ArgumentParser()
parser.add_argument("--data", type=Path, required=True)
parser.add_argument("--init", type=Path, required=True)
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()

splits = {split: (args.data / "ImageSets" / "Segmentation" / f"{split}.txt").read_text().split()
          for split in ("train", "val")}
labels = set()
for ids in splits.values():
    for image_id in ids:
        image = Image.open(args.data / "JPEGImages" / f"{image_id}.jpg")
        mask = np.asarray(Image.open(args.data / "SegmentationClass" / f"{image_id}.png"))
        assert mask.shape == (image.height, image.width), image_id
        labels |= set(np.unique(mask).tolist())
model = onnx.load(str(args.init))
biases = [t for t in model.graph.initializer if t.name.endswith("bias") and len(t.dims) == 1]
last = biases[-1]
last.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(last) + np.float32(0.5), last.name))
onnx.save(model, str(args.out))
Path(os.environ["HOOK_REPORT"]).write_text(json.dumps({
    "train": len(splits["train"]), "val": len(splits["val"]), "labels": sorted(labels),
    "classes": (args.data / "class_names.txt").read_text().split()}))
print("trained", len(splits["train"]), "images")

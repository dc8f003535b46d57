"""Export accepted dense labels (VOC palette PNGs + class list, COCO JSON with RLE); import VOC masks."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
from pycocotools import mask as coco_mask
from sqlalchemy import Connection, select

from segmad.ports.blobs import BlobStore
from segmad.labelling.palette import decode_label_map
from segmad.labelling.tables import campaign_items, dense_masks


def accepted_masks(conn: Connection, campaign_id: int) -> list[tuple[str, str]]:
    """(image_id, mask key) of each accepted mask of the campaign, by image id."""
    query = (select(campaign_items.c.image_id, dense_masks.c.mask_key)
             .join(dense_masks, dense_masks.c.item_id == campaign_items.c.id)
             .where(campaign_items.c.campaign_id == campaign_id, dense_masks.c.status == "accepted")
             .order_by(campaign_items.c.image_id))
    return [tuple(row) for row in conn.execute(query)]


def export_voc(conn: Connection, store: BlobStore, campaign, class_names: list[str]) -> bytes:
    """A zip: SegmentationClass/<image id>.png (VOC palette) and class_names.txt (id = line number)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("class_names.txt", "\n".join(["background", *class_names]) + "\n")
        for image_id, key in accepted_masks(conn, campaign.id):
            archive.writestr(f"SegmentationClass/{image_id}.png", store.get(key))
    return out.getvalue()


def export_coco(conn: Connection, store: BlobStore, campaign, class_names: list[str]) -> dict:
    """COCO JSON: one image per mask, one annotation per (image, class) with an RLE mask."""
    images, annotations = [], []
    for number, (image_id, key) in enumerate(accepted_masks(conn, campaign.id), 1):
        label_map = decode_label_map(store.get(key))
        height, width = label_map.shape
        images.append({"id": number, "file_name": image_id, "height": height, "width": width})
        for k in range(1, len(class_names) + 1):
            binary = np.asfortranarray((label_map == k).astype(np.uint8))
            if not binary.any():
                continue
            rle = coco_mask.encode(binary)
            annotations.append({
                "id": len(annotations) + 1, "image_id": number, "category_id": k, "iscrowd": 0,
                "area": int(coco_mask.area(rle)), "bbox": [float(v) for v in coco_mask.toBbox(rle)],
                "segmentation": {"size": [height, width], "counts": rle["counts"].decode("ascii")}})
    categories = [{"id": k, "name": name} for k, name in enumerate(class_names, 1)]
    return {"images": images, "annotations": annotations, "categories": categories}


def coco_json(conn: Connection, store: BlobStore, campaign, class_names: list[str]) -> str:
    """export_coco as a JSON string."""
    return json.dumps(export_coco(conn, store, campaign, class_names))

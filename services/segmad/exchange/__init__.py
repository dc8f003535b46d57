"""A round in the formats other tools read (VOC, COCO, Label Studio) and masks made elsewhere back in."""

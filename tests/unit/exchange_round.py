"""A tiny round for the export and import tests: ingested under camera file names, mined, rated, selected."""

from __future__ import annotations

import numpy as np

from segmad.codec import encode_png
from segmad.ingestion.service import store_image
from segmad.labelling import masks
from segmad.labelling.campaigns import get_campaign
from segmad.rounds import control
from segmad.world import sample
from round_world import (POOL, WORLD, add_people, items, make_ports, people, rate, run_discrepancy, run_inference,
                         start_round)

IDS = POOL[:12]


def source_of(image_id: str) -> str:
    """The file an image was ingested from; two share a stem, as two cameras' DSC_0001.jpg would."""
    number = int(image_id[-6:])
    return "/cams/b/DSC_0003.jpg" if number == 1 else f"/cams/a/DSC_{number:04d}.jpg"


def truth(image_id: str) -> np.ndarray:
    """The painted mask: the true one with a few ignore (255) pixels on its border."""
    mask = sample(WORLD, "pool", int(image_id[-6:])).mask.copy()
    mask[0, :5] = 255
    return mask


def selected_round(root):
    """Ports holding round 1 in dense labelling: M rated (the target's failures worst), S and T chosen."""
    ports = make_ports(root)
    for image_id in IDS:
        store_image(ports, sample(WORLD, "pool", int(image_id[-6:])).image, source_of(image_id), image_id)
    start_round(ports, root)
    run_inference(ports)
    run_discrepancy(ports)
    add_people(ports)
    _, weak = control.close_mining(ports, 1)
    rate(ports, weak, lambda name, i, image_id: 1 if int(image_id[-6:]) % 3 == 0 else 4)
    control.select(ports, 1)
    return ports


def paint_and_accept(ports) -> None:
    """Each item of the dense campaign painted (`truth`) by its assignee and accepted by the other person."""
    campaign_id = ports.catalog.round(1).settings.campaigns.dense
    by_id = {p.id: p for p in people(ports)}
    with ports.catalog.begin() as conn:
        campaign = get_campaign(conn, campaign_id)
        for item in items(ports, campaign_id):
            painter = by_id[item.assigned_to]
            reviewer = next(p for p in by_id.values() if p.id != painter.id)
            mask_id = masks.save_mask(conn, ports.blobs, campaign, item.id, painter, encode_png(truth(item.image_id)),
                                      "image/png", "target", 40.0)
            masks.review_mask(conn, campaign, mask_id, reviewer, "accept", "")

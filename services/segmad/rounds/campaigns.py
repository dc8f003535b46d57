"""The rounds controller's side of the labelling service: campaigns opened and closed for a round.

The controller writes the campaigns straight into the labelling tables of the catalog database
(the same functions the admin API calls), so people find them in their queue at once.
"""

from __future__ import annotations

import json
from typing import Sequence

from segmad.catalog.records import Round
from segmad.errors import InputError
from segmad.labelling import accounts, campaigns as labelling
from segmad.labelling.errors import LabellingError
from segmad.labelling.exchange import accepted_masks
from segmad.labelling.masks import unaccepted_images
from segmad.labelling.rounds_bridge import dense_items_for, weak_items_for_round
from segmad.ports import Ports


def annotator_names(ports: Ports, names: Sequence[str] | None) -> list[str]:
    """The given names, or every annotator account that is not an admin."""
    if names:
        return list(names)
    with ports.catalog.connect() as conn:
        found = accounts.annotator_names(conn)
    if not found:
        raise InputError("no annotator accounts yet: create them with `segmad annotators add NAME`")
    return found


def _labelling_call(function, *args, **kwargs):
    try:
        return function(*args, **kwargs)
    except LabellingError as error:
        raise InputError(str(error)) from None


def open_weak(ports: Ports, row: Round, annotators: Sequence[str], test_size: int, seed: int) -> int:
    """A weak-rating campaign over the round's recorded candidates M; its id."""
    items = _labelling_call(weak_items_for_round, ports.catalog, row.round)
    with ports.catalog.begin() as conn:
        return _labelling_call(labelling.create_weak_campaign, conn, ports.blobs, row.round, items, annotators,
                               row.n4, test_size, row.settings.num_classes, list(row.settings.class_names), seed)


def open_dense(ports: Ports, row: Round, image_ids: Sequence[str], annotators: Sequence[str]) -> int:
    """A dense campaign over the given images (S ∪ T, or T alone in a round that only measures); its id."""
    items = _labelling_call(dense_items_for, ports.catalog, row.round, image_ids)
    with ports.catalog.begin() as conn:
        return _labelling_call(labelling.create_dense_campaign, conn, ports.blobs, row.round, items, annotators,
                               row.settings.num_classes, list(row.settings.class_names))


def progress(ports: Ports, campaign_id: int) -> dict:
    """The campaign's description with its progress (done of expected)."""
    with ports.catalog.connect() as conn:
        return labelling.describe(conn, labelling.get_campaign(conn, campaign_id))


def close_weak(ports: Ports, campaign_id: int, force: bool) -> dict:
    """Close the weak campaign; its result {mos, counterexamples, test_set, out_of_domain}."""
    state = progress(ports, campaign_id)
    if state["status"] == "closed":
        with ports.catalog.connect() as conn:
            return json.loads(labelling.get_campaign(conn, campaign_id).result)
    if state["done"] < state["expected"] and not force:
        raise InputError(f"campaign {campaign_id} has {state['done']} of {state['expected']} ratings; "
                         "wait for the annotators or pass --force to select from what is rated")
    with ports.catalog.begin() as conn:
        return _labelling_call(labelling.close_campaign, conn, ports.blobs, campaign_id)


def unfinished_masks(ports: Ports, campaign_id: int) -> list[str]:
    """Images of a dense campaign without an accepted mask."""
    with ports.catalog.connect() as conn:
        return unaccepted_images(conn, campaign_id)


def close_dense(ports: Ports, campaign_id: int) -> dict[str, str]:
    """Close the dense campaign (if open); {image id: accepted mask key}."""
    with ports.catalog.begin() as conn:
        campaign = labelling.get_campaign(conn, campaign_id)
        masks = dict(accepted_masks(conn, campaign_id))
        if campaign.status == "open":
            _labelling_call(labelling.close_campaign, conn, ports.blobs, campaign_id)
    return masks

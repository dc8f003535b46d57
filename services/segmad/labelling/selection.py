"""What closing a weak campaign yields: MOS with the veto, S (n4 lowest) and T (the test set), by the core."""

from __future__ import annotations

import math

from sqlalchemy import Connection, select

from segmad.ports.blobs import BlobStore
from segmad.labelling.palette import decode_label_map
from segmad.labelling.tables import campaign_items, ratings
from segmad.mad.testset import main_class, select_test_set
from segmad.mad.weak import OUT_OF_DOMAIN, lowest_scores, mean_opinion_scores, out_of_domain


def campaign_votes(conn: Connection, campaign_id: int) -> dict[str, list[float]]:
    """Each rated image's votes, out-of-domain as OUT_OF_DOMAIN."""
    query = (select(campaign_items.c.image_id, ratings.c.score, ratings.c.out_of_domain)
             .join(ratings, ratings.c.item_id == campaign_items.c.id)
             .where(campaign_items.c.campaign_id == campaign_id))
    votes: dict[str, list[float]] = {}
    for image_id, score, ood in conn.execute(query):
        votes.setdefault(image_id, []).append(OUT_OF_DOMAIN if ood else float(score))
    return votes


def weak_result(conn: Connection, store: BlobStore, campaign) -> dict:
    """{mos (None for vetoed), counterexamples S, test_set T, out_of_domain} of a weak campaign."""
    mos = mean_opinion_scores(campaign_votes(conn, campaign.id))
    counterexamples = lowest_scores(mos, campaign.n4)
    vetoed = out_of_domain(mos)
    keys = dict(conn.execute(select(campaign_items.c.image_id, campaign_items.c.prediction_key)
                             .where(campaign_items.c.campaign_id == campaign.id)).all())
    # T's main class comes from the target's map; only images still eligible need decoding.
    eligible = sorted(set(mos) - set(counterexamples) - vetoed)
    main_classes = {i: main_class(decode_label_map(store.get(keys[i])), campaign.num_classes)
                    for i in eligible}
    test_set = select_test_set(eligible, main_classes, size=campaign.test_size, seed=campaign.seed)
    return {
        "mos": {i: (s if math.isfinite(s) else None) for i, s in sorted(mos.items())},
        "counterexamples": counterexamples,
        "test_set": test_set,
        "out_of_domain": sorted(vetoed),
    }

"""The summary of a team's rounds on its own images: from the catalog, the labelling tables and the blob store.

No ground truth is needed (unlike the synthetic world's report): T0 and each round's unbiased test
set T(i) are the team's own dense labels, and the trainer stored every model's mIoU on them as
Evaluation rows. Annotation cost comes from the seconds the labelling service recorded.
"""

from __future__ import annotations

from sqlalchemy import select

from segmad.catalog.records import Round
from segmad.errors import InputError
from segmad.labelling.stats import annotator_stats, rating_agreement
from segmad.labelling.tables import annotators, campaign_items, dense_masks, ratings
from segmad.ports import Ports
from segmad.pipeline.sets import manifest

HOUR = 3600.0
MOS_BINS = ("1", "2", "3", "4", "5", "vetoed")


def rounds_summary(ports: Ports) -> dict:
    """summary.json's content for every round the catalog holds (schema in the README)."""
    rows = ports.catalog.rounds()
    if not rows:
        raise InputError("the catalog holds no round yet: start one with `segmad round start N`")
    rounds = [_round(ports, row) for row in rows]
    targets = list(dict.fromkeys(row.target for row in rows))
    weak, dense = (sum(r["hours"][kind] for r in rounds) for kind in ("weak", "dense"))
    return {
        "kind": "rounds",
        "description": (f"Rounds over the services on the catalog's own images: {len(rows)} round(s) of "
                        f"{', '.join(targets)}, measured on the team's T0 and T(i) (no synthetic-world truth)."),
        "sets": {name: len(m["images"]) if (m := manifest(ports, name)) else None for name in ("s0", "t0")},
        "rounds": rounds,
        "hours": {"weak": weak, "dense": dense, "total": weak + dense},
        "lineage": [entry for name in targets for entry in lineage(ports, name)],
    }


def _round(ports: Ports, row: Round) -> dict:
    settings = row.settings
    catalog, n = ports.catalog, row.round
    trained = [m.version for m in catalog.model_versions(row.target) if m.trained_on_round == n]
    campaigns = settings.campaigns
    with catalog.connect() as conn:
        work = {"weak": _campaign_work(conn, campaigns.weak), "dense": _campaign_work(conn, campaigns.dense)}
        agreement = rating_agreement(conn, campaigns.weak) if campaigns.weak is not None else None
    return {
        "round": n, "state": row.state, "target": row.target, "target_version": row.target_version,
        "trained_version": trained[0] if trained else None,
        "measure_only": settings.measure_only,
        "competitors": [f"{name}@{version}" for name, version in settings.competitors],
        "campaigns": campaigns.opened(),
        "m_size": len(catalog.round_images(n, "candidates")),
        "s_size": len(catalog.round_images(n, "counterexamples")),
        "t_size": len(catalog.round_images(n, "test")),
        "vetoed": len(settings.out_of_domain),
        "mos_histogram": mos_histogram(settings.mos) if settings.mos is not None else None,
        **_mious(ports, row),
        "hours": {kind: sum(w["seconds"]) / HOUR for kind, w in work.items()},
        "annotators": _annotators(work),
        "agreement": agreement,
    }


def mos_histogram(mos: dict[str, float | None]) -> dict[str, int]:
    """How many images fall in each ACR bin (MOS rounded half up: bin k holds [k − ½, k + ½)) or were vetoed."""
    bins = dict.fromkeys(MOS_BINS, 0)
    for score in mos.values():
        bins["vetoed" if score is None else str(min(5, max(1, int(score + 0.5))))] += 1
    return bins


def _mious(ports: Ports, row: Round) -> dict:
    """Every model's mIoU on T0 and on this round's T(i), keyed name@version, and the rows with per-class IoU."""
    names = ["background", *row.settings.class_names]
    test_split = f"t{row.round}"
    out = {"t0": {}, "t": {}, "evaluations": []}
    for e in ports.catalog.evaluations(row.round):
        key = "t0" if e.split == "t0" else "t" if e.split == test_split else None
        if key is None:
            continue
        out[key][f"{e.model}@{e.version}"] = e.miou
        per_class = dict(zip(names, e.per_class)) if len(names) == len(e.per_class) else e.per_class
        out["evaluations"].append({"model": e.model, "version": e.version, "split": e.split, "miou": e.miou,
                                   "per_class": per_class})
    return out


def _campaign_work(conn, campaign_id: int | None) -> dict:
    """A campaign's recorded seconds (all, and by annotator name) and its per-annotator statistics."""
    if campaign_id is None:
        return {"seconds": [], "by_annotator": {}, "stats": []}
    by_annotator: dict[str, float] = {}
    seconds = []
    for table in (ratings, dense_masks):
        query = (select(annotators.c.name, table.c.seconds)
                 .join(campaign_items, campaign_items.c.id == table.c.item_id)
                 .join(annotators, annotators.c.id == table.c.annotator_id)
                 .where(campaign_items.c.campaign_id == campaign_id))
        for name, s in conn.execute(query):
            seconds.append(s)
            by_annotator[name] = by_annotator.get(name, 0.0) + s
    return {"seconds": seconds, "by_annotator": by_annotator, "stats": annotator_stats(conn, campaign_id)}


def _annotators(work: dict) -> list[dict]:
    """Per annotator of the round: ratings from the weak campaign, masks and reviews from the dense one."""
    people: dict[str, dict] = {}
    for kind, fields in (("weak", ("ratings", "median_seconds_per_rating")),
                         ("dense", ("masks", "median_seconds_per_mask", "reviews"))):
        for entry in work[kind]["stats"]:
            person = people.setdefault(entry["annotator"], {
                "annotator": entry["annotator"], "ratings": 0, "median_seconds_per_rating": None,
                "masks": 0, "median_seconds_per_mask": None, "reviews": 0})
            person.update({f: entry[f] for f in fields})
    for person in people.values():
        person["hours"] = sum(work[kind]["by_annotator"].get(person["annotator"], 0.0)
                              for kind in ("weak", "dense")) / HOUR
    return [people[name] for name in sorted(people)]


def lineage(ports: Ports, name: str) -> list[dict]:
    """Every version of the target: its parent, the round it learned from, |S| used, chosen lr and T0 mIoU."""
    default = ports.catalog.default_version(name)
    out = []
    for m in ports.catalog.model_versions(name):  # in creation order: parents before children
        metrics = m.metrics or {}
        out.append({"model": m.name, "version": m.version, "parent": m.parent_version, "round": m.trained_on_round,
                    "counterexamples": metrics.get("counterexamples"),
                    "counterexample_rounds": metrics.get("counterexample_rounds", []),
                    "lr": metrics.get("lr"), "t0_miou": metrics.get("t0_miou"),
                    "t0_miou_by_lr": metrics.get("t0_miou_by_lr", {}), "default": m.version == default})
    return out


"""What the round commands do, as functions of the ports: the state machine of Algorithm 1's rounds.

start (mining) → close_mining (weak-rating) → select (dense-labelling) → finetune (training) →
the trainer service (done). Each step checks the state it needs (catalog/states.py).
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from segmad import events
from segmad.ports.bus import ROUNDS
from segmad.ports.segmenter import ModelRef
from segmad.catalog.records import Campaigns, Round, RoundSettings
from segmad.cards.labels import default_class_names
from segmad.codec import encode_png
from segmad.errors import InputError
from segmad.labelling.palette import decode_label_map
from segmad.mad import CandidateHeaps, SizeBounds
from segmad.ports import Ports
from segmad.rounds import campaigns
from segmad.pipeline import stages
from segmad.pipeline.keys import label_key
from segmad.pipeline.mining import MiningRound, mining_round
from segmad.trainer.progress import training_progress
from segmad.catalog.states import DENSE_LABELLING, DONE, MINING, TRAINING, WEAK_RATING, require


def _announce(ports: Ports, round_: int, state: str) -> None:
    ports.bus.publish(ROUNDS, str(round_), events.to_bytes(events.RoundEvent(round_, state)))
    ports.bus.flush()


def start(ports: Ports, round_: int, target: str, version: str | None, n3: int, n4: int, bounds: SizeBounds,
          class_names: Sequence[str] | None = None) -> Round:
    """Catalogue a round mining `target` at `version` (default: its default version) against every
    competitor's default version; announce it. Rounds go one at a time, in increasing order."""
    catalog = ports.catalog
    if catalog.round(round_) is not None:
        raise InputError(f"round {round_} already exists (state {catalog.round(round_).state})")
    rounds = catalog.rounds()
    unfinished = [r for r in rounds if r.state != DONE]
    if unfinished:
        r = unfinished[-1]
        raise InputError(f"round {r.round} is not done (state {r.state}); finish it before starting round {round_}")
    if rounds and round_ <= rounds[-1].round:
        raise InputError(f"rounds go in increasing order: the last was {rounds[-1].round}")
    version = version or catalog.default_version(target)
    if version is None or catalog.model_version(target, version) is None:
        raise InputError(f"model {target!r} has no registered version {version!r}" if version else
                         f"model {target!r} has no version; publish it first")
    competitors = [ModelRef(m.name, m.version) for m in catalog.default_models(role="competitor") if m.name != target]
    if not competitors:
        raise InputError("no competitor has a default version; publish competitors first")
    C = bounds.num_classes
    names = list(class_names) if class_names else default_class_names(C)
    if len(names) != C:
        raise InputError(f"{len(names)} class names given for {C} classes")
    catalog.set_default_version(target, version)  # the inference worker predicts new images with it
    settings = RoundSettings(bounds=bounds, num_classes=C, class_names=tuple(names),
                             competitors=tuple((c.name, c.version) for c in competitors))
    catalog.start_round(round_, target, version, n3, n4, settings, state=MINING)
    # Catalogued before announced: a worker that sees the event finds the round. The inference
    # worker predicts the pool with a new target version; competitors' maps are reused.
    _announce(ports, round_, MINING)
    return catalog.round(round_)


def known_round(ports: Ports, round_: int) -> Round:
    """The round, or an InputError naming the rounds there are."""
    row = ports.catalog.round(round_)
    if row is None:
        rounds = [r.round for r in ports.catalog.rounds()]
        raise InputError(f"no round {round_} (rounds: {', '.join(map(str, rounds)) or 'none yet'})")
    return row


def mined(ports: Ports, round_: int) -> tuple[MiningRound, CandidateHeaps]:
    """The round's mining parameters and its heaps as the catalog holds them."""
    row = known_round(ports, round_)
    try:
        mining = mining_round(ports.catalog, row)
    except ValueError as error:
        raise InputError(str(error)) from None
    return mining, CandidateHeaps.from_records(ports.catalog.load_heaps(round_), mining.n3, mining.bounds)


def candidates(ports: Ports, round_: int) -> dict:
    """{"images": M, "heaps": [...]}: the same document as `segmad select`."""
    _, heaps = mined(ports, round_)
    return {"images": heaps.candidates(), "heaps": heaps.to_records()}


def prediction_progress(ports: Ports, round_: int) -> dict[str, int]:
    """How many of the round's minable images each of its models has predicted ("pool": how many there are)."""
    mining, _ = mined(ports, round_)
    pool = set(ports.catalog.image_ids()) - mining.excluded
    counts = {"pool": len(pool)}
    for name, ref in [("target", mining.target)] + [(c.name, c) for c in mining.competitors]:
        counts[name] = sum(1 for p in ports.catalog.predictions_for_model_version(ref.name, ref.version)
                           if p.image_id in pool)
    return counts


def status(ports: Ports, round_: int) -> dict:
    """The round's state, parameters and progress: predictions, heaps, campaigns and training."""
    row = known_round(ports, round_)
    records = ports.catalog.load_heaps(round_)
    settings = row.settings
    target_maps = sum(1 for _ in ports.catalog.predictions_for_model_version(row.target, row.target_version))
    state = {
        "round": row.round, "state": row.state, "target": row.target, "target_version": row.target_version,
        "n3": row.n3, "n4": row.n4, "num_classes": settings.num_classes,
        "competitors": [f"{name}@{version}" for name, version in settings.competitors],
        "pool": len(ports.catalog.image_ids()), "target_predictions": target_maps,
        "heaps": len(records), "candidates": len({m["image"] for h in records for m in h["members"]}),
    }
    unusable = ports.catalog.unusable_images()
    if unusable:  # left out of the pool: their stored image cannot be read
        state["unusable"] = len(unusable)
    for kind, campaign_id in sorted(settings.campaigns.opened().items()):
        p = campaigns.progress(ports, campaign_id)
        state[f"{kind}_campaign"] = f"#{campaign_id} {p['status']}, {p['done']}/{p['expected']} done"
    for kind in ("counterexamples", "test"):
        ids = ports.catalog.round_images(round_, kind)
        if ids:
            state[kind] = len(ids)
    progress = training_progress(ports, round_)  # the trainer's record, once it has started
    if progress:
        state["training"] = progress
    state |= {"created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat()}
    return state


def wait_mined(ports: Ports, round_: int, timeout_s: float, say=lambda line: None, poll_s: float = 1.0) -> list[str]:
    """Wait until every minable image has every model's map and the workers' heaps equal a one-pass
    recomputation from the stored maps (so no prediction is still on its way); M."""
    mining, _ = mined(ports, round_)
    deadline, last, expected = time.monotonic() + timeout_s, None, None
    while True:
        counts = prediction_progress(ports, round_)
        if all(n == counts["pool"] for n in counts.values()):
            if expected is None:  # every map is stored and maps never change: score the pool once
                pool = sorted(set(ports.catalog.image_ids()) - mining.excluded)
                expected = stages.score_pool(ports, mining.target, mining.competitors, pool, mining.bounds,
                                             mining.n3).to_records()
            document = candidates(ports, round_)
            if _same_heaps(document["heaps"], expected):
                return document["images"]
        if counts != last:
            say(f"round {round_}: mining, " + ", ".join(f"{k} {v}" for k, v in counts.items()))
            last = counts
        if time.monotonic() > deadline:
            raise InputError(f"round {round_} was not mined in {timeout_s:.0f} s ("
                             + ", ".join(f"{k} {v}" for k, v in counts.items()) + "); "
                             "are the inference and discrepancy services running?")
        time.sleep(poll_s)


def _same_heaps(held: list[dict], expected: list[dict], tolerance: float = 1e-9) -> bool:
    """Whether two heap documents hold the same members with the same distances (to a tolerance)."""
    def flat(records):
        return sorted((h["competitor"], h["class"], h["partition_by"], m["image"], m["distance"])
                      for h in records for m in h["members"])
    a, b = flat(held), flat(expected)
    return len(a) == len(b) and all(x[:4] == y[:4] and abs(x[4] - y[4]) <= tolerance for x, y in zip(a, b))


def close_mining(ports: Ports, round_: int, annotators: Sequence[str] | None = None, test_size: int = 30,
                 seed: int | None = None, force: bool = False) -> tuple[list[str], int]:
    """Freeze M, open the weak-rating campaign over it and move the round on; (M, campaign id).

    Refused while some minable image still lacks a model's prediction (unless `force`).
    `seed` draws T when the campaign closes (default: the round number).
    """
    row = known_round(ports, round_)
    require(round_, row.state, MINING, "round close-mining")
    if not force:
        counts = prediction_progress(ports, round_)
        missing = {name: counts["pool"] - n for name, n in counts.items() if name != "pool" and n < counts["pool"]}
        if missing:
            raise InputError(f"mining of round {round_} is not complete: images without a prediction: "
                             + ", ".join(f"{name} {n}" for name, n in sorted(missing.items()))
                             + " (wait for the inference worker, or pass --force)")
    mining, heaps = mined(ports, round_)
    images = heaps.candidates()
    counts = prediction_progress(ports, round_)
    if not images and all(n == counts["pool"] for n in counts.values()):
        # Every map is stored but no discrepancy worker scored them (an embedded run, or maps
        # imported with `segmad predictions import`): mine the pool in one pass, as the workers would.
        pool = sorted(set(ports.catalog.image_ids()) - mining.excluded)
        images = stages.mine(ports, round_, mining.target, mining.competitors, pool, mining.bounds,
                             mining.n3).candidates()
    if not images:
        raise InputError(f"round {round_} has no candidates yet: are the discrepancy workers running?")
    people = campaigns.annotator_names(ports, annotators)
    ports.catalog.set_round_images(round_, "candidates", images)
    campaign_id = campaigns.open_weak(ports, row, people, test_size, round_ if seed is None else seed)
    ports.catalog.update_round_settings(round_, campaigns=Campaigns(weak=campaign_id))
    ports.catalog.set_round_state(round_, WEAK_RATING)
    _announce(ports, round_, WEAK_RATING)
    return images, campaign_id


def select(ports: Ports, round_: int, annotators: Sequence[str] | None = None, measure_only: bool = False,
           force: bool = False) -> dict:
    """Close the weak-rating campaign: S (n4 lowest MOS) and T by the core; open dense labelling.

    A round that only measures (`measure_only`: the last of a run) still selects S, so T is drawn
    as in every round, but only T is labelled and no model is trained from it. When the ratings
    leave nothing to label (every image vetoed, or a last round whose T is empty), no dense
    campaign opens and `finetune` may follow at once.
    """
    row = known_round(ports, round_)
    require(round_, row.state, WEAK_RATING, "round select")
    result = campaigns.close_weak(ports, row.settings.campaigns.weak, force)
    s, t = result["counterexamples"], result["test_set"]
    ports.catalog.set_round_images(round_, "counterexamples", s)
    ports.catalog.set_round_images(round_, "test", t)
    people = campaigns.annotator_names(ports, annotators)
    to_label = sorted(set(t) if measure_only else set(s) | set(t))
    campaign_id = campaigns.open_dense(ports, row, to_label, people) if to_label else None
    ports.catalog.update_round_settings(
        round_, campaigns=replace(row.settings.campaigns, dense=campaign_id), measure_only=measure_only,
        out_of_domain=tuple(result["out_of_domain"]), mos=result["mos"])
    ports.catalog.set_round_state(round_, DENSE_LABELLING)
    _announce(ports, round_, DENSE_LABELLING)
    return {"round": round_, "counterexamples": len(s), "test": len(t), "out_of_domain": len(result["out_of_domain"]),
            "dense_campaign": campaign_id, "measure_only": measure_only}


def finetune(ports: Ports, round_: int) -> dict:
    """Dense labelling is done: store the accepted masks as the round's labels and hand over to the trainer.

    Refused while an image of the dense campaign lacks an accepted (reviewed) mask.
    """
    row = known_round(ports, round_)
    require(round_, row.state, DENSE_LABELLING, "round finetune")
    campaign_id = row.settings.campaigns.dense
    missing = campaigns.unfinished_masks(ports, campaign_id) if campaign_id is not None else []
    if missing:
        raise InputError(f"campaign {campaign_id}: {len(missing)} images have no accepted mask yet "
                         f"(e.g. {', '.join(missing[:3])}); label and review them first")
    masks = campaigns.close_dense(ports, campaign_id) if campaign_id is not None else {}
    for image_id, key in masks.items():  # the labels, in the form every stage reads
        ports.blobs.put(label_key(round_, image_id), encode_png(decode_label_map(ports.blobs.get(key))), "image/png")
    ports.catalog.set_round_state(round_, TRAINING)
    _announce(ports, round_, TRAINING)  # the trainer fine-tunes (or, measuring only, evaluates)
    return {"round": round_, "labels": len(masks), "measure_only": row.settings.measure_only}


def wait_until_done(ports: Ports, round_: int, timeout_s: float, progress: bool = False, poll_s: float = 1.0) -> str:
    """Wait for the trainer to finish a round; its final state. InputError on timeout."""
    deadline = time.monotonic() + timeout_s
    shown = None
    while (state := known_round(ports, round_).state) != DONE:
        if time.monotonic() > deadline:
            raise InputError(f"round {round_} is still {state} after {timeout_s:.0f} s; is `segmad serve trainer` running?")
        record = training_progress(ports, round_) if progress else None
        if record and record != shown:
            print(f"training round {round_}: " + ", ".join(f"{k} {v}" for k, v in record.items()), file=sys.stderr)
            shown = record
        time.sleep(poll_s)
    return state


def export_predictions(ports: Ports, round_: int, out: Path) -> int:
    """Write out/<model>/<image_id>.png for every image the round can mine (target as `target`); how many."""
    mining, _ = mined(ports, round_)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError("--out must be a new or empty folder", out)
    catalog = ports.catalog
    models = {"target": mining.target} | {c.name: c for c in mining.competitors}
    if len(models) != len(mining.competitors) + 1:
        raise InputError("a competitor is named 'target'; the export layout cannot tell it from the target")
    have = {name: {p.image_id: p.blob_key for p in catalog.predictions_for_model_version(*ref)}
            for name, ref in models.items()}
    pool = sorted(set.intersection(*(set(keys) for keys in have.values())) - mining.excluded)
    for name in models:
        (out / name).mkdir(parents=True, exist_ok=True)
        for image_id in pool:
            (out / name / f"{image_id}.png").write_bytes(ports.blobs.get(have[name][image_id]))
    return len(pool)


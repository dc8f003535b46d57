"""What the round commands do, as functions of the ports: start, status, candidates, close, export."""

from __future__ import annotations

from pathlib import Path

from segmad import events
from segmad.adapters.bus import ROUNDS
from segmad.adapters.segmenter import ModelRef
from segmad.bootstrap import Ports
from segmad.catalog.records import Round
from segmad.errors import InputError
from segmad.mad import CandidateHeaps, SizeBounds
from segmad.rounds.mining import MINING, MiningRound, mining_round, round_settings

CLOSED = "weak-rating"  # after mining, the candidates wait for their ratings


def start(ports: Ports, round_: int, target: str, version: str, n3: int, n4: int, bounds: SizeBounds) -> Round:
    """Catalogue a round mining `target` at `version` against every competitor's default version; announce it."""
    catalog = ports.catalog
    if catalog.round(round_) is not None:
        raise InputError(f"round {round_} already exists (state {catalog.round(round_).state})")
    if catalog.model_version(target, version) is None:
        raise InputError(f"model {target!r} has no registered version {version!r}")
    competitors = [ModelRef(m.name, m.version) for m in catalog.default_models(role="competitor") if m.name != target]
    if not competitors:
        raise InputError("no competitor has a default version; publish competitors first")
    catalog.set_default_version(target, version)  # the inference worker predicts new images with it
    catalog.start_round(round_, target, version, n3, n4, round_settings(bounds, competitors), state=MINING)
    # Catalogued before announced: a worker that sees the event finds the round.
    ports.bus.publish(ROUNDS, str(round_), events.to_bytes(events.RoundEvent(round_, MINING)))
    ports.bus.flush()
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


def status(ports: Ports, round_: int) -> dict:
    """The round's state, parameters and progress (rounds mined in-process have no competitors recorded)."""
    row = known_round(ports, round_)
    records = ports.catalog.load_heaps(round_)
    target_maps = sum(1 for _ in ports.catalog.predictions_for_model_version(row.target, row.target_version))
    settings = row.settings or {}
    return {
        "round": row.round, "state": row.state, "target": row.target, "target_version": row.target_version,
        "n3": row.n3, "n4": row.n4, "num_classes": settings.get("num_classes"),
        "competitors": [f"{name}@{version}" for name, version in settings.get("competitors", [])],
        "pool": len(ports.catalog.image_ids()), "target_predictions": target_maps,
        "heaps": len(records), "candidates": len({m["image"] for h in records for m in h["members"]}),
        "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
    }


def close_mining(ports: Ports, round_: int) -> list[str]:
    """Freeze M: record the candidates and move the round on to weak rating."""
    row = known_round(ports, round_)
    if row.state != MINING:
        raise InputError(f"round {round_} is not mining (state {row.state})")
    _, heaps = mined(ports, round_)
    ports.catalog.set_round_images(round_, "candidates", heaps.candidates())
    ports.catalog.set_round_state(round_, CLOSED)
    return heaps.candidates()


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

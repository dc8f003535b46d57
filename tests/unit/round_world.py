"""A tiny pool on embedded ports with planted fake models, for the round workers' tests."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import torch

from segmad import bootstrap
from segmad.runtime.consumer import run_batches
from segmad.codec import encode_png
from segmad.discrepancy import handler as discrepancy
from segmad.inference import handler as inference
from segmad.offline.mining import training_bounds
from segmad.rounds import control
from segmad.ingestion.service import ingest_arrays
from segmad.labelling import accounts, masks, rating
from segmad.labelling.campaigns import get_campaign
from segmad.labelling.tables import campaign_items
from segmad.publish.register import register_model
from segmad.settings import Settings
from segmad.world import WorldConfig, sample
from world_fakes import PlantedModel, TruthTable

WORLD = WorldConfig(num_classes=3, size=32, s0_size=30, t0_size=0, pool_size=30, wild_size=0, seed=5)
C = WORLD.num_classes
POOL = [f"pool-{i:06d}" for i in range(WORLD.pool_size)]
# The target fails on every 3rd pool image, each competitor on a few others.
FAILS = {"target": set(POOL[::3]), "unet": set(POOL[1::5]), "fcn8s": set(POOL[2::7])}
ARCH = {"target": "deeplabv3plus", "unet": "unet", "fcn8s": "fcn8s"}
_TABLE: list[TruthTable] = []


def truth_table() -> TruthTable:
    if not _TABLE:  # rendering the world is the slow part; every test shares one table
        _TABLE.append(TruthTable([(WORLD, "s0", WORLD.s0_size), (WORLD, "pool", WORLD.pool_size)]))
    return _TABLE[0]


def make_ports(root: Path):
    """Embedded ports under `root` with every fake model registered, served and made default."""
    ports = bootstrap.build(Settings(data_dir=root, database_url=f"sqlite:///{root / 'c.db'}",
                                     blob_url=f"file://{root / 'blobs'}", bus="memory"))
    for name, fails in FAILS.items():
        register(ports, name, "v0", PlantedModel(truth_table(), C, fails))
    return ports


def register(ports, name: str, version: str, module: torch.nn.Module) -> None:
    """Catalogue a model version with its checkpoint, serve it in-process, make it the default."""
    register_model(ports, name, version, module, ARCH[name], "target" if name == "target" else "competitor", C,
                   WORLD.size)


def ingest(ports, ids=POOL) -> None:
    """Ingest pool images (announced on the bus)."""
    ingest_arrays(ports, ((i, sample(WORLD, "pool", int(i[-6:])).image) for i in ids), "test")


def train_masks(root: Path) -> Path:
    """S0's masks as PNGs in a folder."""
    folder = root / "s0-masks"
    folder.mkdir(exist_ok=True)
    for i in range(WORLD.s0_size):
        (folder / f"s0-{i:06d}.png").write_bytes(encode_png(sample(WORLD, "s0", i).mask))
    return folder


def start_round(ports, root: Path, round_: int = 1, version: str = "v0", n3: int = 2):
    """`round start` on these ports with S0's size bounds."""
    bounds = training_bounds(train_masks(root), C, progress=False)[0]
    return control.start(ports, round_, "target", version, n3, 4, bounds)


def run_inference(ports, handler=None):
    """Drain the images and rounds topics through the inference worker's loop (see `drain`)."""
    handler = handler or inference.InferenceHandler(ports, C)
    return drain(ports, inference.TOPICS, "inference", inference.parse, handler)


def run_discrepancy(ports, handler=None):
    """Drain the predictions topic through the discrepancy worker's loop (see `drain`)."""
    handler = handler or discrepancy.DiscrepancyHandler(ports)
    return drain(ports, discrepancy.TOPICS, "discrepancy", discrepancy.parse, handler)


def drain(ports, topics, group: str, parse, handler):
    """Run the workers' loop over `topics` until a poll finds nothing; its LoopStats.

    One message per poll: each is handled and committed alone, so a test counts the work of every
    message and a crash leaves only the message at hand uncommitted. `handler` is a worker's handler
    (its `handle` gets the parsed poll) or a callable of one message (a test's wrapper around one).
    """
    consumer = ports.bus.subscribe(topics, group)
    if hasattr(handler, "handle"):
        return run_batches(consumer, parse, handler.handle, ports.bus, max_records=1, stop_when_idle=True)

    def checked(message):
        parse(message)  # what does not parse is dead-lettered, as by the worker
        return message

    return run_batches(consumer, checked, lambda batch: handler(batch[0]), ports.bus, max_records=1,
                       stop_when_idle=True)


# -- people at work in the labelling tables (what the labelling service's views call) -------------

PEOPLE = ("ann-a", "ann-b")


def add_people(ports) -> None:
    """Accounts for PEOPLE and an admin, "boss" (fast password hashing: tests sign nobody in)."""
    accounts.PASSWORD_METHOD = "pbkdf2:sha256:1000"
    with ports.catalog.begin() as conn:
        for name in PEOPLE + ("boss",):
            accounts.create_annotator(conn, name, "a-long-password", is_admin=name == "boss")


def people(ports) -> list[SimpleNamespace]:
    """PEOPLE as the labelling functions take a user: id, name, not an admin."""
    with ports.catalog.connect() as conn:
        return [SimpleNamespace(id=accounts.find_annotator(conn, n).id, name=n, is_admin=False) for n in PEOPLE]


def items(ports, campaign_id: int) -> list:
    """A campaign's items, by image id."""
    with ports.catalog.connect() as conn:
        return conn.execute(campaign_items.select().where(campaign_items.c.campaign_id == campaign_id)
                            .order_by(campaign_items.c.image_id)).all()


def rate(ports, campaign_id: int, vote_of, seconds_of=lambda name, i: 3.0, log: list | None = None) -> None:
    """Every person rates every item: vote_of(name, index, image id); `log` gets (name, image id, vote, seconds)."""
    with ports.catalog.begin() as conn:
        campaign = get_campaign(conn, campaign_id)
        for person in people(ports):
            for i, item in enumerate(items(ports, campaign_id)):
                vote, seconds = vote_of(person.name, i, item.image_id), seconds_of(person.name, i)
                rating.submit_rating(conn, campaign, item.id, person.id, vote, seconds)
                if log is not None:
                    log.append((person.name, item.image_id, vote, seconds))


def paint(ports, campaign_id: int, log: list | None = None, limit: int | None = None,
          send_back_first: bool = False, mask_of=None) -> None:
    """Each item painted (the true mask: the world pool's, or `mask_of(image_id)`) by its assignee and
    accepted by the other person; `log` gets (painter, reviewer, seconds)."""
    by_id = {p.id: p for p in people(ports)}
    with ports.catalog.begin() as conn:
        campaign = get_campaign(conn, campaign_id)
        for i, item in enumerate(items(ports, campaign_id)[:limit]):
            painter = by_id[item.assigned_to]
            reviewer = next(p for p in by_id.values() if p.id != painter.id)
            truth = encode_png(mask_of(item.image_id) if mask_of else sample(WORLD, "pool", int(item.image_id[-6:])).mask)
            mask_id = masks.save_mask(conn, ports.blobs, campaign, item.id, painter, truth, "image/png", "target",
                                      40.0 + i)
            seconds = 40.0 + i
            if send_back_first and i == 0:  # sent back once: the second sitting adds to the first's time
                masks.review_mask(conn, campaign, mask_id, reviewer, "return", "the edge")
                masks.save_mask(conn, ports.blobs, campaign, item.id, painter, truth, "image/png", "target", 25.0)
                seconds += 25.0
            masks.review_mask(conn, campaign, mask_id, reviewer, "accept", "")
            if log is not None:
                log.append((painter.name, reviewer.name, seconds))

"""Several discrepancy members on one partitioned predictions topic build exactly the heaps one would."""

import random
import threading

import pytest

from segmad.adapters.bus import InMemoryBus

from segmad.ports.bus import PREDICTIONS
from segmad.runtime.consumer import run_batches
from segmad.catalog import schema
from segmad.discrepancy.handler import DiscrepancyHandler, parse
from segmad.pipeline import stages
from segmad.pipeline.mining import current_round, mining_round
from round_world import POOL, ingest, make_ports, run_inference, start_round

MEMBERS = 3


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A round whose pool is predicted (every PredictionReady on the bus) and the heaps offline mining gives."""
    root = tmp_path_factory.mktemp("members")
    ports = make_ports(root)
    assert isinstance(ports.bus, InMemoryBus) and ports.bus.partitions == 4
    ingest(ports)
    start_round(ports, root)
    run_inference(ports)
    mining = mining_round(ports.catalog, current_round(ports.catalog))
    offline = stages.score_pool(ports, mining.target, mining.competitors, POOL, mining.bounds, mining.n3)
    assert offline.candidates(), "the pool must fill some heaps"
    return ports, offline.to_records()


def fresh(ports, group: str):
    """No stored heaps, and `MEMBERS` members of a new consumer group that reads every prediction again."""
    with ports.catalog.engine.begin() as conn:
        conn.execute(schema.heap_members.delete())
    return [(ports.bus.subscribe([PREDICTIONS], group), DiscrepancyHandler(ports)) for _ in range(MEMBERS)]


@pytest.mark.parametrize("seed", range(4))
def test_members_polling_in_any_interleaving_store_the_heaps_of_offline_mining(world, seed):
    ports, offline = world
    members, rng = fresh(ports, f"interleaved-{seed}"), random.Random(seed)
    idle = set()
    while len(idle) < MEMBERS:  # each member's poll handled and committed in turn, in a random order
        i = rng.randrange(MEMBERS)
        consumer, handler = members[i]
        batch = consumer.poll(rng.randint(1, 5), 0)
        if batch:
            handler.handle([parse(m) for m in batch])
            consumer.commit(batch)
            idle.clear()
        else:
            idle.add(i)
    assert all(handler.stats.pairs for _, handler in members), "every member must score some pairs"
    assert ports.catalog.load_heaps(1) == offline


def drain_on_threads(ports, members) -> None:
    """Every member consumes on its own thread until its partitions run dry; re-raise what any raised."""
    failures = []

    def consume(consumer, handler):
        try:
            run_batches(consumer, parse, handler.handle, ports.bus, max_records=3, stop_when_idle=True)
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=consume, args=member) for member in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def test_members_on_threads_store_the_heaps_of_offline_mining(world):
    ports, offline = world
    drain_on_threads(ports, fresh(ports, "threads"))
    assert ports.catalog.load_heaps(1) == offline


def test_replaying_every_prediction_after_several_members_changes_no_heap(world):
    ports, offline = world
    drain_on_threads(ports, fresh(ports, "before-replay"))
    replay = DiscrepancyHandler(ports)
    run_batches(ports.bus.subscribe([PREDICTIONS], "replay"), parse, replay.handle, ports.bus, stop_when_idle=True)
    assert replay.stats.pairs > 0 and replay.stats.heap_writes == 0
    assert ports.catalog.load_heaps(1) == offline

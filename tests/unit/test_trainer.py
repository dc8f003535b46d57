"""The trainer: round N's target fine-tuned once into v{N}, released, evaluated, announced; crash-safe, idempotent."""

import dataclasses

import pytest
import torch

from segmad import bootstrap, events
from segmad.ports.bus import ROUNDS, Message
from segmad.runtime.consumer import run_batches
from segmad.ports.release import Release
from segmad.catalog.records import RoundSettings
from segmad.codec import encode_png
from segmad.errors import InputError
from segmad.models import build
from segmad.models.train import FinetuneConfig
from segmad.ingestion.service import ingest_arrays
from segmad.pipeline import sets
from segmad.trainer import training
from segmad.pipeline.keys import label_key
from segmad.trainer.training import finetune_config, train_round, training_progress
from segmad.publish.register import register_model
from segmad.settings import Settings
from segmad.trainer.handler import TOPICS, TrainerHandler, parse
from segmad.world import WorldConfig, sample, stack

WORLD = WorldConfig(num_classes=3, size=32, s0_size=6, t0_size=4, pool_size=12, wild_size=0, seed=7)
POOL = [f"pool-{i:06d}" for i in range(WORLD.pool_size)]
CONFIG = FinetuneConfig.demo(max_steps=2, batch_size=2, s0_batch_size=2, lr_grid=(1e-2, 3e-2))
# Small, fast architectures: the trainer takes the target's from its catalog row.
ARCH = {"target": "fcn8s", "unet": "unet"}


def register(ports, name, version):
    torch.manual_seed(len(name))
    register_model(ports, name, version, build(ARCH[name], WORLD.num_classes), ARCH[name],
                   "target" if name == "target" else "competitor", WORLD.num_classes, WORLD.size)


def labelled_round(ports, n, version, s_ids, t_ids):
    """Round n, densely labelled and waiting for the trainer (as the controller leaves it)."""
    settings = RoundSettings(competitors=(("unet", "v0"),), num_classes=WORLD.num_classes)
    ports.catalog.start_round(n, "target", version, 2, len(s_ids), settings, state="training")
    ports.catalog.set_round_images(n, "counterexamples", s_ids)
    ports.catalog.set_round_images(n, "test", t_ids)
    for image_id in s_ids + t_ids:
        ports.blobs.put(label_key(n, image_id), encode_png(sample(WORLD, "pool", int(image_id[-6:])).mask))


def make_ports(tmp_path):
    """Embedded ports with S0, T0, the pool, target and competitor v0, and round 1 waiting for the trainer."""
    ports = bootstrap.build(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'c.db'}",
                                     blob_url=f"file://{tmp_path / 'blobs'}", bus="memory"))
    for name in ("s0", "t0"):
        size = WORLD.s0_size if name == "s0" else WORLD.t0_size
        sets.put_set(ports, name, [f"{name}-{i:06d}" for i in range(size)], *stack(WORLD, name, range(size)), 3)
    ingest_arrays(ports, ((i, sample(WORLD, "pool", int(i[-6:])).image) for i in POOL), "test")
    for name in ARCH:
        register(ports, name, "v0")
    labelled_round(ports, 1, "v0", POOL[:3], POOL[3:6])
    return ports


@pytest.fixture
def ports(tmp_path):
    ports = make_ports(tmp_path)
    yield ports
    ports.close()


def count_finetunes(monkeypatch) -> list[int]:
    """|S| of every call of the fine-tuning recipe from now on."""
    seen = []
    real = training.finetune

    def counted(model, s_images, *args, **kwargs):
        seen.append(len(s_images))
        return real(model, s_images, *args, **kwargs)

    monkeypatch.setattr(training, "finetune", counted)
    return seen


@pytest.fixture
def calls(monkeypatch):
    return count_finetunes(monkeypatch)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Round 1 trained once: (ports, |S| per fine-tuning, the progress records told, v1)."""
    ports = make_ports(tmp_path_factory.mktemp("trained"))
    told = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        seen = count_finetunes(monkeypatch)
        version = train_round(ports, 1, CONFIG, progress=told.append)
    yield ports, seen, told, version
    ports.close()


def announced(ports):
    with ports.bus.subscribe([ROUNDS], "reader") as reader:
        return [events.from_bytes(events.RoundEvent, m.value) for m in reader.poll(100, 0)]


def test_a_round_trains_v_n_from_its_target_with_lineage_and_makes_it_the_default(trained):
    ports, calls, _, version = trained
    assert (version.name, version.version, version.parent_version) == ("target", "v1", "v0")
    assert version.trained_on_round == 1
    assert version.arch == "fcn8s" and ports.blobs.exists(version.blob_key)
    assert set(version.metrics["t0_miou_by_lr"]) == {"0.01", "0.03"} and version.metrics["counterexamples"] == 3
    assert ports.catalog.default_version("target") == "v1"
    assert calls == [3]


def test_a_trained_round_stores_its_evaluations_is_done_and_announces_the_model(trained):
    ports = trained[0]
    rows = {(e.model, e.version, e.split) for e in ports.catalog.evaluations(1)}
    assert rows == {("target", "v0", "t0"), ("target", "v0", "t1"), ("unet", "v0", "t0"), ("unet", "v0", "t1"),
                    ("target", "v1", "t0")}
    assert all(0.0 <= e.miou <= 1.0 and len(e.per_class) == 4 for e in ports.catalog.evaluations(1))
    assert ports.catalog.round(1).state == "done"
    assert events.RoundEvent(1, "done") in announced(ports)


def test_progress_is_recorded_for_round_status_and_told_to_a_listener(trained):
    ports, _, told, _ = trained
    record = training_progress(ports, 1)
    assert record["phase"] == "done" and record["version"] == "v1" and record["steps"] == 2
    assert set(record["t0_miou_by_lr"]) == {"0.01", "0.03"}
    assert [r["step"] for r in told if r["phase"] == "fine-tuning" and r["lr"] == 0.01] == [1, 2, 2]
    assert training_progress(ports, 2) is None


def test_round_n_learns_from_the_counterexamples_of_every_round_up_to_n(ports, calls):
    train_round(ports, 1, CONFIG)
    labelled_round(ports, 2, "v1", POOL[6:8], POOL[8:10])
    version = train_round(ports, 2, CONFIG)
    assert (version.version, version.parent_version, version.trained_on_round) == ("v2", "v1", 2)
    assert version.metrics["counterexample_rounds"] == [1, 2]
    assert calls == [3, 5]


def test_a_redelivered_event_does_not_train_twice(ports, calls):
    handler = TrainerHandler(ports, CONFIG)
    for _ in range(2):
        ports.bus.publish(ROUNDS, "1", events.to_bytes(events.RoundEvent(1, "training")))
    run_batches(ports.bus.subscribe(TOPICS, "trainer"), parse, handler.handle, ports.bus, stop_when_idle=True)
    assert calls == [3] and handler.trained == [1, 1]
    assert announced(ports).count(events.RoundEvent(1, "done")) == 2  # the second only re-announces


def test_a_crash_mid_training_leaves_the_old_default_and_the_round_training(ports):
    def crash(record):
        if record["phase"] == "fine-tuning" and record["step"] == 1:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        train_round(ports, 1, CONFIG, progress=crash)
    assert ports.catalog.default_version("target") == "v0"
    assert ports.catalog.model_version("target", "v1") is None
    assert ports.catalog.round(1).state == "training"
    assert training_progress(ports, 1)["phase"] == "failed"
    assert train_round(ports, 1, CONFIG).version == "v1"  # the retry
    assert ports.catalog.round(1).state == "done"


class FlakyRelease(Release):
    """A serving registry that fails its first release, as a TorchServe restarting would."""

    def __init__(self):
        self.released = []

    def release(self, name, version, module, arch, num_classes, input_size, class_names=None):
        self.released.append((name, version, arch, num_classes, input_size))
        if len(self.released) == 1:
            raise ConnectionError("torchserve is restarting")

    def release_card(self, name, version, card, run_classes, artefact):
        self.release(name, version, None, card["format"], len(run_classes) - 1, 0)


def test_a_crash_after_training_finishes_the_round_without_training_again(ports, calls):
    release = FlakyRelease()
    ports = dataclasses.replace(ports, release=release)
    with pytest.raises(ConnectionError):
        train_round(ports, 1, CONFIG)
    assert ports.catalog.model_version("target", "v1") is not None
    assert ports.catalog.default_version("target") == "v0" and ports.catalog.round(1).state == "training"
    train_round(ports, 1, CONFIG)
    assert calls == [3]
    assert release.released == [("target", "v1", "fcn8s", 3, 32)] * 2
    assert ports.catalog.default_version("target") == "v1" and ports.catalog.round(1).state == "done"


def test_the_handler_ignores_every_other_round_event(ports, calls):
    handler = TrainerHandler(ports, CONFIG)
    handler.handle([events.RoundEvent(1, state) for state in ("mining", "weak-rating", "dense-labelling", "done")]
                   + [events.RoundEvent(9, "training")])  # round 9 does not exist
    assert calls == [] and handler.trained == [] and ports.catalog.round(1).state == "training"


def test_the_handler_reads_only_round_events():
    with pytest.raises(events.MalformedMessage):
        parse(Message("images", 0, 0, "x", b"\x00"))
    assert parse(Message(ROUNDS, 0, 0, "1", events.to_bytes(events.RoundEvent(1, "training")))).state == "training"


def test_a_round_not_yet_labelled_is_refused(ports):
    ports.catalog.start_round(2, "target", "v0", 2, 2, state="dense-labelling")
    with pytest.raises(InputError, match="dense-labelling"):
        train_round(ports, 2, CONFIG)


def test_without_s0_the_trainer_says_which_set_to_add(ports):
    ports.blobs.delete("sets/s0/manifest.json")
    with pytest.raises(LookupError, match="segmad sets add s0"):
        train_round(ports, 1, CONFIG)
    assert ports.catalog.round(1).state == "training"


def test_the_recipe_comes_from_the_preset_and_the_step_cap():
    assert finetune_config("paper") == FinetuneConfig.paper()
    assert finetune_config("demo", "7").max_steps == 7
    for preset, steps in (("fast", ""), ("demo", "0"), ("demo", "ten")):
        with pytest.raises(InputError):
            finetune_config(preset, steps)

"""The trainer as a service: progress as gauges, TorchServe release once, a long poll allowed by Kafka."""

import json
import zipfile

import pytest
from prometheus_client import generate_latest

from segmad.adapters import kafka, torchserve_release
from segmad.ports.segmenter import ModelRef
from segmad.adapters.torchserve_release import TorchServeRelease, archive_module
from segmad.errors import InputError
from segmad.models import build
from segmad.runtime.worker import WorkerMetrics
from segmad.commands.serve import SERVICES
from segmad.trainer import server
from segmad.trainer.server import MAX_TRAINING_S, TrainingGauges


def test_progress_records_become_gauges():
    metrics = WorkerMetrics("trainer")
    gauges = TrainingGauges(metrics)
    gauges.update({"round": 2, "phase": "fine-tuning", "lr": 0.01, "current_lr": 0.005, "step": 7, "steps": 300,
                   "loss": 0.25, "t0_miou_by_lr": {"0.01": 0.8}})
    text = generate_latest(metrics.registry).decode()
    for line in ("segmad_trainer_round 2.0", "segmad_trainer_active 1.0", "segmad_trainer_step 7.0",
                 "segmad_trainer_current_lr 0.005", "segmad_trainer_loss 0.25",
                 'segmad_trainer_t0_miou{lr="0.01"} 0.8'):
        assert line in text
    gauges.update({"round": 2, "phase": "done", "lr": None, "current_lr": None, "step": 0, "steps": 0,
                   "loss": None, "t0_miou_by_lr": {}})
    assert "segmad_trainer_active 0.0" in generate_latest(metrics.registry).decode()


def test_segmad_serve_knows_the_trainer():
    assert SERVICES["trainer"] == "segmad.trainer.server"


class FakeManagement:
    def __init__(self, registered):
        self.registered, self.defaults = set(registered), []

    def models(self):
        return sorted(self.registered)

    def register(self, model_name, mar_file, batch_size=8, max_batch_delay_ms=20, workers=1):
        self.registered.add(ModelRef(model_name, mar_file.removesuffix(".mar").removeprefix(f"{model_name}-")))

    def set_default(self, name, version):
        self.defaults.append((name, version))


def test_a_release_archives_and_registers_once_and_always_sets_the_default(monkeypatch, tmp_path):
    archived = []

    def archive(name, version, module, arch, num_classes, input_size, class_names, model_store):
        archived.append((name, version, arch))
        return model_store / f"{name}-{version}.mar"

    monkeypatch.setattr(torchserve_release, "archive_module", archive)
    management = FakeManagement({ModelRef("target", "v0")})
    serving = TorchServeRelease(management, tmp_path)
    for _ in range(2):
        serving.release("target", "v1", build("fcn8s", 3), "fcn8s", 3, 32, ["background", "a", "b", "c"])
    assert archived == [("target", "v1", "fcn8s")]
    assert management.defaults == [("target", "v1")] * 2


def test_a_released_module_is_archived_with_the_spec_the_handler_reads(tmp_path):
    mar = archive_module("target", "v1", build("fcn8s", 3), "fcn8s", 3, 32, None, tmp_path)
    with zipfile.ZipFile(mar) as archive:
        sidecar = json.loads(archive.read("segmad_model.json"))
    assert mar == tmp_path / "target-v1.mar"
    assert sidecar["input_size"] == [32, 32] and sidecar["class_names"] == ["background", "class-1", "class-2", "class-3"]


def test_the_trainers_consumer_may_hold_a_poll_for_its_training(monkeypatch):
    made = []

    class FakeKafkaConsumer:
        def __init__(self, **config):
            made.append(config)

        def subscribe(self, topics):
            pass

    monkeypatch.setattr(kafka, "KafkaConsumer", FakeKafkaConsumer)
    bus = kafka.KafkaBus("127.0.0.1:9", partitions=1)
    monkeypatch.setattr(bus, "ensure_topics", lambda topics: None)
    bus.subscribe(["rounds"], "trainer", max_handle_s=MAX_TRAINING_S)
    bus.subscribe(["rounds"], "inference")
    assert made[0]["max_poll_interval_ms"] == MAX_TRAINING_S * 1000 >= 3600_000
    assert "max_poll_interval_ms" not in made[1]  # kafka-python's 5 minutes for the other workers


def test_a_bad_preset_stops_the_service_before_it_consumes(monkeypatch):
    monkeypatch.setenv("SEGMAD_FINETUNE", "fast")
    with pytest.raises(InputError, match="SEGMAD_FINETUNE"):
        server.serve("127.0.0.1", 0)

"""Round N's fine-tuning (Algorithm 1, line 8): f_t^(N-1) on S ∪ S0 → f_t^(N), published, evaluated, announced.

Reads top to bottom: the round → its parent target version → S (the counterexamples of every
round up to N with their dense labels), S0, T0 → fine-tune → checkpoint and catalog → serving →
evaluations → round done, "model ready" on the bus. Fine-tuning is skipped when the catalog already
holds v{N} trained on round N, and every later step is idempotent: a redelivered event finishes a
round, never trains it twice. The new version becomes the default only after it is stored, so a
crash mid-training leaves the old one serving and the round in "training", to be retried.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
from PIL import Image
from torch import nn

from segmad import events
from segmad.ports.bus import ROUNDS
from segmad.ports.segmenter import ModelRef
from segmad.catalog.records import Evaluation, ModelVersion, Round
from segmad.codec import decode_png
from segmad.errors import InputError
from segmad.cards.card import parse_card
from segmad.cards.training import RunSpaceModule, artefact_of, trainable_masks
from segmad.pipeline.models import ensure_loaded, is_card, load_card_version
from segmad.mad import ConfusionMatrix
from segmad.models import build
from segmad.models.train import FinetuneConfig, finetune
from segmad.ports import Ports
from segmad.pipeline.keys import checkpoint_key, label_key
from segmad.trainer.hook import run_hook
from segmad.trainer.progress import Listener, ProgressReport, training_progress
from segmad.pipeline.sets import iter_set, load_set, manifest
from segmad.pipeline.stages import load_images
from segmad.catalog.states import DONE, TRAINING

PRESETS = {"demo": FinetuneConfig.demo, "paper": FinetuneConfig.paper}
BATCH = 64  # images per prediction request while evaluating
__all__ = ["counterexamples", "finetune_config", "train_round", "training_progress", "version_of"]


def finetune_config(preset: str = "demo", max_steps: str | int | None = None) -> FinetuneConfig:
    """The fine-tuning recipe named by SEGMAD_FINETUNE (demo | paper), capped by SEGMAD_FINETUNE_MAX_STEPS."""
    if preset not in PRESETS:
        raise InputError(f"SEGMAD_FINETUNE={preset!r}: expected one of {', '.join(PRESETS)}")
    if max_steps in (None, ""):
        return PRESETS[preset]()
    if not str(max_steps).isdigit() or int(max_steps) < 1:
        raise InputError(f"SEGMAD_FINETUNE_MAX_STEPS={max_steps!r}: expected a whole number of steps >= 1")
    return PRESETS[preset](max_steps=int(max_steps))


def version_of(round_: int) -> str:
    """The target version round N trains (the demo's naming)."""
    return f"v{round_}"


def train_round(ports: Ports, round_: int, config: FinetuneConfig, progress: Listener | None = None) -> ModelVersion:
    """Fine-tune round N's target into v{N}, make it the default, evaluate, mark the round done, announce it.

    The ports' release serves the new version where their segmenter predicts. Returns v{N}, or the
    parent when no round up to N has counterexamples (nothing to learn from).
    """
    row = ports.catalog.round(round_)
    if row is None or row.state not in (TRAINING, DONE):
        raise InputError(f"round {round_} is {'not started' if row is None else f'in state {row.state!r}'}; "
                         "training starts once its dense labelling is finished")
    if row.state == DONE:  # finished before: only the announcement may have been lost
        _announce(ports, round_)
        return ports.catalog.model_version(row.target, version_of(round_)) or _parent(ports, row)
    report = ProgressReport(ports, round_, version_of(round_), progress)
    try:
        model = _train_and_release(ports, row, config, report)
        report.phase("evaluating")
        _evaluate(ports, row, model)
    except BaseException as error:
        report.failed(error)
        raise
    ports.catalog.set_round_state(round_, DONE)
    report.phase(DONE)
    _announce(ports, round_)
    return model


def _parent(ports: Ports, row: Round) -> ModelVersion:
    parent = ports.catalog.model_version(row.target, row.target_version)
    if parent is None:
        raise InputError(f"round {row.round}'s target {row.target}@{row.target_version} is not in the catalog")
    return parent


def _train_and_release(ports: Ports, row: Round, config: FinetuneConfig, report: ProgressReport) -> ModelVersion:
    """v{N}, trained now unless the catalog has it, served and made the default; the parent if S is empty."""
    parent, num_classes = _parent(ports, row), _num_classes(ports, row)
    size = training_size(ports)
    s0, t0 = load_set(ports, "s0", size=size)[1:], load_set(ports, "t0", size=size)[1:]
    known = ports.catalog.model_version(row.target, version_of(row.round))
    if known is not None and known.trained_on_round != row.round:
        raise InputError(f"{row.target}@{known.version} exists but was not trained on round {row.round}")
    module = None
    if known is not None:
        report.phase("fine-tuning", reused=True)
    else:
        pairs = counterexamples(ports, row.round)
        # Nothing to learn from, or a round that only measures (the last of a run): the target
        # stays as it is, as in the embedded loop.
        if not pairs or row.settings.measure_only:
            return parent
        card = parse_card(parent.metrics["card"], stored=True) if is_card(parent) else None
        if card is not None and not card.trainable:  # ONNX, or a team that trains elsewhere: its hook
            report.phase("fine-tuning", reused=False, hook=card.train.command, counterexamples=len(pairs))
            known = _train_by_hook(ports, row, parent, card, pairs)
            return _publish(ports, known, None, num_classes, row, s0, report)
        report.phase("fine-tuning", reused=False, lr_grid=list(config.lr_grid), counterexamples=len(pairs))
        s_images, s_masks = _labelled(ports, pairs, s0[0].shape[1:3])
        start = _load(ports, parent, num_classes)
        if isinstance(start, RunSpaceModule):  # run classes the card's model cannot predict: ignored
            s_masks, s0 = trainable_masks(s_masks, start), (s0[0], trainable_masks(s0[1], start))
        module, history = finetune(start, s_images, s_masks, *s0, *t0, config, progress=False, on_step=report.step)
        metrics = _shaped(history) | {"num_classes": num_classes, "counterexamples": len(pairs),
                                      "counterexample_rounds": sorted({r for r, _ in pairs})}
        known = _store(ports, row, parent, version_of(row.round), module, metrics)
    return _publish(ports, known, module, num_classes, row, s0, report)


def _publish(ports: Ports, known: ModelVersion, module: nn.Module | None, num_classes: int, row: Round, s0,
             report: ProgressReport) -> ModelVersion:
    """Serve v{N} where the segmenter predicts and make it the default."""
    report.phase("publishing")
    names = row.settings.class_names
    if is_card(known):
        ports.release.release_card(known.name, known.version, known.metrics["card"], known.metrics["run_classes"],
                                   ports.blobs.get(known.blob_key))
    else:
        ports.release.release(known.name, known.version,
                              module if module is not None else _load(ports, known, num_classes), known.arch,
                              num_classes, int(s0[0].shape[1]), ["background", *names] if names else None)
    ports.catalog.set_default_version(known.name, known.version)
    return known


def _train_by_hook(ports: Ports, row: Round, parent: ModelVersion, card, pairs: list[tuple[int, str]]) -> ModelVersion:
    """v{N} from the card's training hook (trainer/hook.py), checked on probe images before it is stored."""
    from segmad.cards.labels import LabelSpace
    from segmad.cards.runner import CardModel
    from segmad.publish.register import check_card_model

    space = LabelSpace(tuple(parent.metrics["run_classes"]))
    s = [(image_id, load_images(ports, [image_id])[0], decode_png(ports.blobs.get(label_key(r, image_id))))
         for r, image_id in pairs]
    splits = {"train": s + list(iter_set(ports, "s0")), "val": list(iter_set(ports, "t0"))}
    artefact = run_hook(card, space, ports.blobs.get(parent.blob_key), splits)
    try:
        check_card_model(CardModel(card, space, artefact))
    except InputError as error:
        raise InputError(f"what the training hook wrote is not a model its card can run: {error}") from error
    key = checkpoint_key(row.target, version_of(row.round))
    ports.blobs.put(key, artefact)
    metrics = {k: parent.metrics[k] for k in ("card", "run_classes", "format", "classes", "num_classes")
               if k in parent.metrics} | {"counterexamples": len(pairs), "trained_by": "hook",
                                          "counterexample_rounds": sorted({r for r, _ in pairs})}
    ports.catalog.add_model_version(ModelVersion(row.target, version_of(row.round), parent.arch, "target", key,
                                                 parent.version, row.round, metrics))
    return ports.catalog.model_version(row.target, version_of(row.round))


def counterexamples(ports: Ports, round_: int) -> list[tuple[int, str]]:
    """(round, image id) of every counterexample S of the rounds up to N, round by round, each image once."""
    pairs, seen = [], set()
    for r in ports.catalog.rounds():
        if r.round <= round_:
            for image_id in ports.catalog.round_images(r.round, "counterexamples"):
                if image_id not in seen:
                    seen.add(image_id)
                    pairs.append((r.round, image_id))
    return pairs


def _labelled(ports: Ports, pairs: list[tuple[int, str]], size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Images and dense labels of (round, id) pairs at S0's size (bilinear images, nearest labels)."""
    images, masks = [], []
    for round_, image_id in pairs:
        key = label_key(round_, image_id)
        if not ports.blobs.exists(key):
            raise LookupError(f"round {round_}'s dense label of {image_id} is missing ({key})")
        images.append(_resized(load_images(ports, [image_id])[0], size, Image.BILINEAR))
        masks.append(_resized(decode_png(ports.blobs.get(key)), size, Image.NEAREST))
    return np.stack(images), np.stack(masks)


def _resized(array: np.ndarray, size: tuple[int, int], resample) -> np.ndarray:
    if array.shape[:2] == tuple(size):
        return array
    return np.asarray(Image.fromarray(array).resize((size[1], size[0]), resample), dtype=np.uint8)


def _num_classes(ports: Ports, row: Round) -> int:
    """C from the round's settings (`round start` records it), else from S0's manifest."""
    return int(row.settings.num_classes or manifest(ports, "s0")["num_classes"])


def training_size(ports: Ports) -> tuple[int, int] | None:
    """The (H, W) fine-tuning works at: S0's image size, the most common one when its images differ."""
    sizes = (manifest(ports, "s0") or {}).get("sizes")
    if not sizes:
        return None  # a set stored before sizes were recorded: one size, load_set stacks it as it is
    counts: dict[tuple[int, int], int] = {}
    for h, w in sizes:
        counts[(h, w)] = counts.get((h, w), 0) + 1
    return max(counts, key=counts.get) if len(counts) > 1 else None


def _load(ports: Ports, version: ModelVersion, num_classes: int) -> nn.Module:
    """The version's module as the recipe trains it: a zoo network, or a card's model in the run's space."""
    if is_card(version):
        if not parse_card(version.metrics["card"], stored=True).trainable:
            raise InputError(f"{version.name}@{version.version} is a {version.metrics.get('format')} model segmad "
                             "cannot fine-tune: give its card a train.command hook")
        model = load_card_version(ports, ModelRef(version.name, version.version))
        return RunSpaceModule(model.card, model.module, model.space).eval()
    state = torch.load(io.BytesIO(ports.blobs.get(version.blob_key)), map_location="cpu", weights_only=True)
    module = build(version.arch, int(version.metrics.get("num_classes", num_classes)))
    module.load_state_dict(state)
    return module.eval()


def _shaped(history: dict) -> dict:
    """The history as the embedded loop stores it: lr-keyed maps with string keys (JSON)."""
    return {k: v for k, v in history.items() if k != "t0_miou_by_lr"} | {
        "t0_miou_by_lr": {str(k): v for k, v in history["t0_miou_by_lr"].items()},
        "final_loss_by_lr": {str(k): v for k, v in history.get("final_loss_by_lr", {}).items()}}


def _store(ports: Ports, row: Round, parent: ModelVersion, version: str, module: nn.Module,
           metrics: dict) -> ModelVersion:
    """Checkpoint first, catalog row second: the row is what says v{N} exists. A card's model keeps its
    card (and the run's label space) with the new weights as its artefact."""
    if isinstance(module, RunSpaceModule):
        data = artefact_of(module.card, module.inner)
        metrics = metrics | {k: parent.metrics[k] for k in ("card", "run_classes", "format", "classes")
                             if k in parent.metrics}
    else:
        buffer = io.BytesIO()
        torch.save(module.state_dict(), buffer)
        data = buffer.getvalue()
    key = checkpoint_key(row.target, version)
    ports.blobs.put(key, data)
    model = ModelVersion(row.target, version, parent.arch, "target", key, parent.version, row.round, metrics)
    ports.catalog.add_model_version(model)
    return ports.catalog.model_version(row.target, version)


def _evaluate(ports: Ports, row: Round, new: ModelVersion) -> None:
    """The parent target and every competitor on T0 and T(N); the new version on T0. Stored rows are kept."""
    num_classes = _num_classes(ports, row)
    _, *t0 = load_set(ports, "t0", size=training_size(ports))
    size = t0[0].shape[1:3]
    test = [(row.round, i) for i in ports.catalog.round_images(row.round, "test")]
    t_n = _labelled(ports, test, size) if test else None
    competitors = [ModelRef(name, version) for name, version in row.settings.competitors]
    plan = [(ref, "t0", t0) for ref in [ModelRef(row.target, row.target_version)] + competitors]
    plan += [(ref, f"t{row.round}", t_n) for ref in [ModelRef(row.target, row.target_version)] + competitors if t_n]
    if new.version != row.target_version:
        plan.append((ModelRef(new.name, new.version), "t0", t0))
    done = {(e.model, e.version, e.split) for e in ports.catalog.evaluations(row.round)}
    for ref, split, (images, masks) in plan:
        if (ref.name, ref.version, split) in done:
            continue
        ensure_loaded(ports, ref, num_classes)
        predicted = np.concatenate([ports.segmenter.predict(ref.name, ref.version, images[i:i + BATCH])
                                    for i in range(0, len(images), BATCH)])
        matrix = ConfusionMatrix(num_classes + 1)
        matrix.update(masks, predicted)
        miou = matrix.miou()
        if not math.isnan(miou):  # a test set with no labelled pixel has no mIoU to store
            per_class = [None if math.isnan(v) else float(v) for v in matrix.iou()]
            ports.catalog.save_evaluation(Evaluation(row.round, ref.name, ref.version, split, miou, per_class))


def _announce(ports: Ports, round_: int) -> None:
    """"Model ready": the round is done (catalogued before announced)."""
    ports.bus.publish(ROUNDS, str(round_), events.to_bytes(events.RoundEvent(round_, DONE)))
    ports.bus.flush()

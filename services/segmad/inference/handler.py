"""The inference worker's logic: a plain function of the events of one poll.

An ImageIngested is predicted by every competitor's default version and the target's default
version; a RoundEvent "mining" has the round's target version predict the whole pool. Work the
catalog already holds is skipped (and re-announced), so redelivery is harmless.
"""

from __future__ import annotations

from segmad import events
from segmad.ports.bus import IMAGES, ROUNDS, Message
from segmad.ports.segmenter import ModelRef
from segmad.pipeline.models import ensure_loaded
from segmad.ports import Ports
from segmad.pipeline import stages
from segmad.pipeline.mining import MINING

TOPICS = (IMAGES, ROUNDS)


def parse(message: Message) -> events.ImageIngested | events.RoundEvent:
    """The event a message carries; MalformedMessage for another topic or unusable bytes."""
    if message.topic == IMAGES:
        return events.from_bytes(events.ImageIngested, message.value)
    if message.topic == ROUNDS:
        return events.from_bytes(events.RoundEvent, message.value)
    raise events.MalformedMessage(f"the inference worker does not read topic {message.topic!r}")


class InferenceHandler:
    """Predicts what the events of a poll call for; `__call__` handles one message (tests replay single deliveries)."""

    def __init__(self, ports: Ports, num_classes: int, batch_size: int = 64):
        self.ports, self.num_classes, self.batch_size = ports, num_classes, batch_size
        self.predicted = 0

    def __call__(self, message: Message) -> None:
        self.handle([parse(message)])

    def handle(self, batch: list) -> None:
        """Predict the images of a poll with every default model, and a started round's pool."""
        image_ids = sorted({e.image_id for e in batch if isinstance(e, events.ImageIngested)})
        if image_ids:
            self._predict([ModelRef(m.name, m.version) for m in self.ports.catalog.default_models()], image_ids)
        for event in batch:
            if isinstance(event, events.RoundEvent) and event.state == MINING:
                row = self.ports.catalog.round(event.round)
                if row is not None and row.state == MINING:
                    self._predict([ModelRef(row.target, row.target_version)], self.ports.catalog.image_ids())
        self.ports.bus.flush()  # announcements stored before the loop commits the poll

    def _predict(self, models: list[ModelRef], image_ids: list[str]) -> None:
        # All models at once per slice of images: each image is read once, and a remote segmenter
        # serves the models side by side.
        classes = {model: ensure_loaded(self.ports, model, self.num_classes) for model in models}
        for start in range(0, len(image_ids), self.batch_size):
            chunk = image_ids[start : start + self.batch_size]
            self.predicted += stages.predict_with_models(self.ports, classes, chunk)

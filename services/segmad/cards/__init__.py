"""Model cards: how segmad runs a model it did not build (TorchScript, ONNX, or Python code).

A card is a small YAML or JSON file beside the model's artefact, in the spirit of TorchServe's
model-config, MLflow's MLmodel and Hugging Face's config.json: what the model is (format, artefact,
entry point), how it wants its input (resize, pad, normalise, channel order), what it answers (logits
or probabilities, at any stride, possibly inside a dict), its own class names and how they map onto
the run's label space. `card.py` and `labels.py` are pure (no torch); `runner.py` runs a card.
"""

from segmad.cards.card import FORMATS, ROLES, ModelCard, Output, Preprocess, Resize, load_card, parse_card
from segmad.cards.labels import LabelSpace, run_label_space

__all__ = ["FORMATS", "ROLES", "LabelSpace", "ModelCard", "Output", "Preprocess", "Resize", "load_card",
           "parse_card", "run_label_space"]

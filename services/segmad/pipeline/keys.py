"""Blob keys: where each kind of object lives in the blob store."""

import re

# A model's name or version: a part of blob keys, TorchServe archive names and URLs alike.
_MODEL_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def model_part(text: str, what: str = "a model name") -> str:
    """`text` if it can name a model or a version; ValueError saying what is allowed otherwise."""
    if not _MODEL_PART.fullmatch(text):
        raise ValueError(f"{what} is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit; "
                         f"got {text!r}")
    return text


def image_key(sha256: str) -> str:
    """Content-addressed image: stored once however often it is ingested."""
    return f"images/{sha256[:2]}/{sha256}.png"


def prediction_key(model: str, version: str, image_id: str) -> str:
    """A model version's label map of one image."""
    return f"predictions/{model}/{version}/{image_id}.png"


def label_key(round_: int, image_id: str) -> str:
    """The dense (human) label map of an image, made in a round."""
    return f"labels/round-{round_}/{image_id}.png"


def checkpoint_key(model: str, version: str) -> str:
    """A model version's checkpoint."""
    return f"models/{model}/{version}.pt"

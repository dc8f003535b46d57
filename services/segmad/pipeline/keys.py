"""Blob keys: where each kind of object lives in the blob store."""


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

"""How SEGMAD_TORCHSERVE_URL names TorchServe's endpoints, and how the adapter sends the images of several models."""

from __future__ import annotations

import numpy as np
import pytest

from segmad.codec import decode_png
from segmad.ports.segmenter import ModelRef
from segmad.adapters.torchserve import TorchServeSegmenter, split_url


def test_the_management_endpoint_defaults_to_the_next_port():
    assert split_url("http://ts:8080") == ("http://ts:8080", "http://ts:8081")


def test_a_management_query_names_the_management_endpoint():
    assert split_url("http://ts:8080/?management=http://admin:9000") == ("http://ts:8080", "http://admin:9000")


@pytest.mark.parametrize("url", ["ts:8080", "http://ts", "grpc://ts:7070"])
def test_a_url_without_http_host_and_port_is_refused(url):
    with pytest.raises(ValueError, match="host:port"):
        split_url(url)


def images(*values):
    """(N, 2, 2, 3) uint8 images, image n filled with values[n]."""
    return np.array(values, np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)


@pytest.mark.parametrize("per_request, expected", [
    (1, [("a", [1]), ("b", [7]), ("a", [2]), ("b", [8]), ("a", [3])]),
    (2, [("a", [1, 2]), ("b", [7, 8]), ("a", [3])]),
])
def test_the_images_of_several_models_are_sent_in_turn_and_answered_per_model_in_order(monkeypatch, per_request,
                                                                                         expected):
    segmenter = TorchServeSegmenter("http://ts:8080", concurrency=1,  # one request at a time: the send order shows
                                    images_per_request=per_request)
    sent = []

    def some(name, version, pngs):
        values = [int(decode_png(png)[0, 0, 0]) for png in pngs]
        sent.append((name, values))
        return [(np.full((2, 2), value, np.uint8), value / 10) for value in values]

    monkeypatch.setattr(segmenter, "_some", some)
    answers = segmenter.predict_many([(ModelRef("a", "1"), images(1, 2, 3)), (ModelRef("b", "1"), images(7, 8))])
    segmenter.close()
    assert sent == expected
    assert [labels[:, 0, 0].tolist() for labels, _ in answers] == [[1, 2, 3], [7, 8]]
    assert [entropy.tolist() for _, entropy in answers] == [[0.1, 0.2, 0.3], [0.7, 0.8]]

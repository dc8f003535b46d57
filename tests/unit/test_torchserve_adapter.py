"""How SEGMAD_TORCHSERVE_URL names TorchServe's inference and management endpoints."""

from __future__ import annotations

import pytest

from segmad.adapters.torchserve import split_url


def test_the_management_endpoint_defaults_to_the_next_port():
    assert split_url("http://ts:8080") == ("http://ts:8080", "http://ts:8081")


def test_a_management_query_names_the_management_endpoint():
    assert split_url("http://ts:8080/?management=http://admin:9000") == ("http://ts:8080", "http://admin:9000")


@pytest.mark.parametrize("url", ["ts:8080", "http://ts", "grpc://ts:7070"])
def test_a_url_without_http_host_and_port_is_refused(url):
    with pytest.raises(ValueError, match="host:port"):
        split_url(url)

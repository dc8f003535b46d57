"""Labelling service: what a mask upload must be (PNG by signature, the image's size, within the
size limit however it is sent) and the review it then waits for."""

import io
import struct
import zlib

import numpy as np
from PIL import Image

from labelling_fixtures import (  # noqa: F401  (fixtures)
    H, W, app, client, dense, label_map, png, store, token_for,
)

MASK = "/api/campaigns/{}/items/{}/mask?seconds=5"


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares a grey image of that size, with its data cut off."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(
        ">I", zlib.crc32(b"IHDR" + ihdr))


def test_a_png_declaring_another_size_is_refused_without_decoding_it(app, client, dense, monkeypatch):
    decoded = []
    monkeypatch.setattr("segmad.labelling.masks.decode_label_map", lambda data: decoded.append(data))
    response = client.put(MASK.format(dense, 1), data=png_header(13000, 13000), content_type="image/png",
                          headers=token_for(app, "ann"))
    assert response.status_code == 400 and "13000x13000" in response.get_json()["error"]
    assert decoded == []


def test_a_chunked_upload_over_the_limit_is_refused_not_cut(app, client, dense):
    body = io.BytesIO(bytes(16 * 1024 * 1024 + 1))
    # gunicorn sets wsgi.input_terminated on a chunked body (no Content-Length).
    response = client.put(MASK.format(dense, 1), input_stream=body, environ_overrides={"wsgi.input_terminated": True},
                          headers={**token_for(app, "ann"), "Transfer-Encoding": "chunked",
                                   "Content-Type": "application/octet-stream"})
    assert response.status_code == 413


def test_a_chunked_upload_within_the_limit_is_read_whole(app, client, dense):
    response = client.put(MASK.format(dense, 1), input_stream=io.BytesIO(label_map(1).tobytes()),
                          environ_overrides={"wsgi.input_terminated": True},
                          headers={**token_for(app, "ann"), "Transfer-Encoding": "chunked",
                                   "Content-Type": "application/octet-stream"})
    assert response.status_code == 200


def test_a_jpeg_sent_as_a_png_mask_is_refused(app, client, dense):
    out = io.BytesIO()
    Image.fromarray(np.zeros((H, W), np.uint8)).save(out, format="JPEG")
    response = client.put(MASK.format(dense, 1), data=out.getvalue(), content_type="image/png",
                          headers=token_for(app, "ann"))
    assert response.status_code == 400 and "not a PNG" in response.get_json()["error"]


def test_a_mask_waiting_for_review_cannot_be_overwritten(app, client, dense):
    ann = token_for(app, "ann")
    client.put(MASK.format(dense, 1), data=png(label_map(1)), content_type="image/png", headers=ann)
    again = client.put(MASK.format(dense, 1), data=png(label_map(2)), content_type="image/png", headers=ann)
    assert again.status_code == 409


def test_a_returned_mask_can_be_saved_again(app, client, dense):
    ann = token_for(app, "ann")
    client.put(MASK.format(dense, 1), data=png(label_map(1)), content_type="image/png", headers=ann)
    client.post(f"/api/campaigns/{dense}/masks/1/review", json={"decision": "return", "comment": "tail"},
                headers=token_for(app, "bob"))
    again = client.put(MASK.format(dense, 1), data=png(label_map(2)), content_type="image/png", headers=ann)
    assert again.status_code == 200


def import_over_a_returned_mask(app, client, dense):
    """ann paints item 1, bob sends it back, the admin imports a mask for item 1."""
    client.put(MASK.format(dense, 1), data=png(label_map(1)), content_type="image/png",
               headers=token_for(app, "ann"))
    client.post(f"/api/campaigns/{dense}/masks/1/review", json={"decision": "return", "comment": "tail"},
                headers=token_for(app, "bob"))
    return client.put(f"/api/admin/campaigns/{dense}/items/1/import", data=png(label_map(3)),
                      content_type="image/png", headers=token_for(app, "admin"))


def test_the_items_painter_cannot_accept_a_mask_imported_over_theirs(app, client, dense):
    assert import_over_a_returned_mask(app, client, dense).status_code == 200
    response = client.post(f"/api/campaigns/{dense}/masks/1/review", json={"decision": "accept"},
                           headers=token_for(app, "ann"))
    assert response.status_code == 403


def test_an_imported_mask_is_not_in_its_items_painters_review_queue(app, client, dense):
    import_over_a_returned_mask(app, client, dense)
    assert client.get(f"/api/campaigns/{dense}/queue", headers=token_for(app, "ann")).get_json()["review"] == []


def test_the_importer_cannot_accept_their_own_import(app, client, dense):
    import_over_a_returned_mask(app, client, dense)
    response = client.post(f"/api/campaigns/{dense}/masks/1/review", json={"decision": "accept"},
                           headers=token_for(app, "admin"))
    assert response.status_code == 403


def test_another_annotator_can_accept_an_imported_mask(app, client, dense):
    import_over_a_returned_mask(app, client, dense)
    response = client.post(f"/api/campaigns/{dense}/masks/1/review", json={"decision": "accept"},
                           headers=token_for(app, "bob"))
    assert response.get_json() == {"status": "accepted"}

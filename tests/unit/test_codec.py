"""codec: every decoder gives Pillow's pixels — L maps as labels, P maps as palette indices, RGB as RGB."""

import io
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from segmad import codec

DECODERS = ["pillow", "pyspng", "zlib-ng", "zlib-ng+pyspng"]


@pytest.fixture(params=DECODERS)
def decoder(request, monkeypatch):
    """Run the test with Pillow alone (the core install), libspng alone, zlib-ng alone (unfiltered rows
    only) and both (the `fast` extra)."""
    wanted = request.param.split("+")
    for name, module in (("pyspng", "pyspng"), ("zlib-ng", "zlib_ng")):
        if name in wanted:
            pytest.importorskip(module)
        else:
            monkeypatch.setattr(codec, module, None)
    assert codec.fast_decoder() == (None if request.param == "pillow" else request.param)
    return request.param


def labels(shape=(37, 53), seed=0, top=21) -> np.ndarray:
    """A label map with blocks, a few ignore pixels and odd sizes (rows not a multiple of anything)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, top, (shape[0] // 8 + 1, shape[1] // 8 + 1))
    out = np.kron(blocks, np.ones((8, 8), np.int64))[: shape[0], : shape[1]].astype(np.uint8)
    out[rng.random(shape) < 0.03] = 255
    return out


def png(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def palette_png(indices: np.ndarray, transparency: bool = False) -> bytes:
    """A P-mode PNG whose 256 colours are nothing like the indices (so RGB output cannot pass for labels)."""
    image = Image.frombytes("P", (indices.shape[1], indices.shape[0]), indices.tobytes())
    image.putpalette([v for i in range(256) for v in ((37 * i) % 256, 200, 255 - i)])
    options = {"transparency": bytes(range(256))} if transparency else {}
    return png(image, **options)


def pillow_pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture)


@pytest.mark.parametrize("level", [1, 6, 9])
def test_greyscale_label_maps_decode_to_the_labels(decoder, level):
    truth = labels()
    data = png(Image.fromarray(truth), compress_level=level)
    for decoded in (codec.decode_png(data), codec.decode_label_png(data)):
        assert decoded.dtype == np.uint8 and decoded.shape == truth.shape
        assert np.array_equal(decoded, truth)


@pytest.mark.parametrize("transparency", [False, True])
def test_palette_maps_decode_to_the_indices_not_the_colours(decoder, transparency):
    truth = labels(seed=1, top=256)
    data = palette_png(truth, transparency)
    assert pillow_pixels(data).shape == truth.shape  # Pillow's own reading: indices
    for decoded in (codec.decode_png(data), codec.decode_label_png(data)):
        assert decoded.shape == truth.shape
        assert np.array_equal(decoded, truth)


def test_encode_png_round_trips_maps_and_rgb_images(decoder):
    truth = labels(seed=2)
    rgb = np.random.default_rng(3).integers(0, 256, (19, 23, 3), dtype=np.uint8)
    assert np.array_equal(codec.decode_png(codec.encode_png(truth)), truth)
    assert np.array_equal(codec.decode_label_png(codec.encode_png(truth)), truth)
    decoded = codec.decode_png(codec.encode_png(rgb))
    assert decoded.shape == rgb.shape and np.array_equal(decoded, rgb)


def test_encoded_maps_are_the_pixels_pillow_reads(decoder, monkeypatch):
    truth = labels(seed=4)
    data = codec.encode_png(truth)
    assert np.array_equal(pillow_pixels(data), truth)
    with Image.open(io.BytesIO(data)) as picture:
        assert picture.mode == "L"
    rows = zlib.decompress(b"".join(idat_chunks(data)))
    assert set(rows[:: truth.shape[1] + 1]) == {0}  # every row unfiltered: the fast path reads them as they are
    monkeypatch.setattr(codec, "_MAX_CHUNK", 50)  # a stream in many IDAT chunks reads the same
    split = codec.encode_png(truth)
    assert len(idat_chunks(split)) > 1 and np.array_equal(pillow_pixels(split), truth)
    assert np.array_equal(codec.decode_label_png(split), truth)


def test_an_empty_label_map_cannot_be_a_png():
    with pytest.raises(ValueError, match="at least one pixel"):
        codec.encode_png(np.zeros((0, 5), np.uint8))


def other_pngs() -> dict[str, bytes]:
    """PNG flavours the fast path hands to Pillow (or must match Pillow on): low and high bit depths, alpha."""
    rng = np.random.default_rng(5)
    small = rng.integers(0, 4, (13, 17), dtype=np.uint8)
    four_colour = Image.frombytes("P", (17, 13), small.tobytes())
    four_colour.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])  # Pillow writes this with 2 bits
    return {
        "1-bit": png(Image.fromarray(small > 1)),
        "2-bit palette": png(four_colour),
        "16-bit grey": png(Image.fromarray(rng.integers(0, 65535, (13, 17)).astype(np.uint16))),
        "grey + alpha": png(Image.fromarray(rng.integers(0, 256, (13, 17, 2), dtype=np.uint8))),
        "RGBA": png(Image.fromarray(rng.integers(0, 256, (13, 17, 4), dtype=np.uint8))),
        "RGB with tRNS": png(Image.fromarray(rng.integers(0, 256, (13, 17, 3), dtype=np.uint8)),
                             transparency=(1, 2, 3)),
        "grey with tRNS": png(Image.fromarray(small), transparency=2),
    }


@pytest.mark.parametrize("name", list(other_pngs()))
def test_every_png_flavour_decodes_as_pillow_alone_decodes_it(monkeypatch, name):
    pytest.importorskip("pyspng")
    pytest.importorskip("zlib_ng")
    data = other_pngs()[name]
    fast = codec.decode_png(data)
    monkeypatch.setattr(codec, "pyspng", None)
    monkeypatch.setattr(codec, "zlib_ng", None)
    slow = codec.decode_png(data)
    assert fast.dtype == slow.dtype == np.uint8
    assert fast.shape == slow.shape and np.array_equal(fast, slow)


def spy_on_libspng(monkeypatch) -> list[bytes]:
    pyspng = pytest.importorskip("pyspng")
    calls = []
    monkeypatch.setattr(pyspng, "load", lambda data, _load=pyspng.load: calls.append(data) or _load(data))
    return calls


def test_libspng_alone_reads_8_bit_greyscale_and_palette_maps(monkeypatch):
    monkeypatch.setattr(codec, "zlib_ng", None)
    calls = spy_on_libspng(monkeypatch)
    codec.decode_label_png(png(Image.fromarray(labels())))
    codec.decode_label_png(palette_png(labels()))
    assert len(calls) == 2
    assert all(data[25] == codec.GREYSCALE for data in calls)  # the palette map went in relabelled as grey


def idat_chunks(data: bytes) -> list[bytes]:
    """The payloads of a PNG's IDAT chunks."""
    chunks, at = [], 8
    while at < len(data):
        length, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
        if kind == b"IDAT":
            chunks.append(data[at + 8:at + 8 + length])
        at += 12 + length
    return chunks


def test_with_zlib_ng_libspng_only_unfilters_stored_rows(monkeypatch):
    pytest.importorskip("zlib_ng")
    calls = spy_on_libspng(monkeypatch)
    truth = labels(shape=(300, 301))  # > 64 KiB of rows: several stored blocks
    data = png(Image.fromarray(truth))
    inflated = zlib.decompress(b"".join(idat_chunks(data)))
    assert set(inflated[:: truth.shape[1] + 1]) - {0}  # Pillow filtered some rows of this L map
    assert np.array_equal(codec.decode_label_png(data), truth)
    (handed,) = calls
    (stream,) = idat_chunks(handed)
    assert stream[2] & 0b110 == 0  # the first deflate block is a stored one (BTYPE 00) ...
    assert len(stream) > len(inflated)  # ... and so is every block: the rows travel uncompressed
    assert zlib.decompress(stream) == inflated


def test_with_zlib_ng_unfiltered_rows_need_no_libspng(monkeypatch):
    pytest.importorskip("zlib_ng")
    calls = spy_on_libspng(monkeypatch)
    truth = labels(seed=3, top=256)
    data = palette_png(truth)  # Pillow writes palette images with no row filter
    assert set(zlib.decompress(b"".join(idat_chunks(data)))[:: truth.shape[1] + 1]) == {0}
    decoded = codec.decode_label_png(data)
    assert calls == [] and np.array_equal(decoded, truth)
    decoded[0, 0] ^= 1  # an array of its own, not a view of read-only bytes
    rgb = np.random.default_rng(8).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    assert np.array_equal(codec.decode_png(png(Image.fromarray(rgb), optimize=False, compress_level=0)), rgb)


def test_a_png_in_many_idat_chunks_decodes(decoder):
    truth = labels(shape=(64, 70), seed=9)
    data = png(Image.fromarray(truth))
    (payload,) = idat_chunks(data)
    head, tail = data[: data.index(payload) - 8], data[data.index(payload) + len(payload) + 4:]
    pieces = [payload[i:i + 100] for i in range(0, len(payload), 100)]
    chunked = head + b"".join(
        len(p).to_bytes(4, "big") + b"IDAT" + p + zlib.crc32(b"IDAT" + p).to_bytes(4, "big") for p in pieces
    ) + tail
    assert len(idat_chunks(chunked)) > 1
    assert np.array_equal(codec.decode_label_png(chunked), truth)


def test_a_label_map_must_be_a_png(decoder):
    rgb = Image.fromarray(np.zeros((8, 8, 3), np.uint8))
    buffer = io.BytesIO()
    rgb.save(buffer, format="JPEG")
    with pytest.raises(codec.NotALabelMap, match=r"not a PNG file \(found JPEG\)"):
        codec.decode_label_png(buffer.getvalue())
    with pytest.raises(codec.NotALabelMap, match=r"not a PNG file"):
        codec.decode_label_png(b"label,map\n0,1\n")


def test_a_label_map_must_be_single_channel(decoder):
    data = png(Image.fromarray(np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(codec.NotALabelMap, match=r"not a single-channel label map \(mode RGB; expected L or P\)"):
        codec.decode_label_png(data)
    assert codec.decode_png(data).shape == (8, 8, 3)


@pytest.mark.parametrize("damage", ["truncated", "bad IDAT", "bad header CRC", "bad filter type"])
@pytest.mark.parametrize("mode", ["L", "P"])
def test_a_damaged_png_is_an_error_whichever_decoder_runs(decoder, damage, mode):
    truth = labels(seed=6)
    data = bytearray(png(Image.fromarray(truth)) if mode == "L" else palette_png(truth))
    if damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "bad IDAT":
        idat = data.index(b"IDAT")
        data[idat + 10] ^= 0xFF
    elif damage == "bad filter type":
        at = data.index(b"IDAT") - 4
        length = int.from_bytes(data[at:at + 4], "big")
        rows = bytearray(zlib.decompress(bytes(data[at + 8:at + 8 + length])))
        rows[0] = 7  # the first row's filter type: only 0-4 exist
        payload = zlib.compress(bytes(rows))  # a sound stream and a right CRC around the bad row
        data[at:at + 12 + length] = (len(payload).to_bytes(4, "big") + b"IDAT" + payload
                                     + zlib.crc32(b"IDAT" + payload).to_bytes(4, "big"))
    else:
        data[20] ^= 0x01  # the width; the header's CRC no longer matches
    with pytest.raises((OSError, SyntaxError, ValueError)):
        codec.decode_label_png(bytes(data))


def test_bytes_like_input_decodes_too(decoder):
    truth = labels(seed=7)
    assert np.array_equal(codec.decode_png(bytearray(codec.encode_png(truth))), truth)


def test_the_labelling_service_reads_masks_with_this_decoder(monkeypatch):
    """Masks the labelling UI stores (VOC palette PNGs) are read by the fast path, never Pillow, as
    arrays a caller may paint on."""
    pytest.importorskip("zlib_ng")
    from PIL import Image as PillowImage

    from segmad.labelling.palette import decode_label_map, encode_palette_png

    truth = labels(seed=10)
    stored = encode_palette_png(truth)
    monkeypatch.setattr(PillowImage, "open", lambda *a, **k: pytest.fail("Pillow decoded a palette mask"))
    decoded = decode_label_map(stored)
    assert np.array_equal(decoded, truth) and decoded.flags.writeable
    with pytest.raises(ValueError, match="single-channel"):
        monkeypatch.undo()
        decode_label_map(png(Image.fromarray(np.zeros((4, 4, 3), np.uint8))))


@settings(max_examples=60, deadline=None)
@given(height=st.integers(1, 90), width=st.integers(1, 90), top=st.sampled_from([2, 21, 256]),
       block=st.integers(1, 12), level=st.integers(0, 9), mode=st.sampled_from(["L", "P", "ours"]),
       seed=st.integers(0, 2**16))
def test_every_decoder_gives_pillow_s_pixels_for_any_map(height, width, top, block, level, mode, seed):
    """Label maps of any size and content, written by Pillow at any level (rows filtered as it likes) or
    by segmad: each decoder combination reads exactly what Pillow reads."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, top, (height // block + 1, width // block + 1))
    truth = np.kron(blocks, np.ones((block, block), np.int64))[:height, :width].astype(np.uint8)
    truth[rng.random(truth.shape) < 0.05] = 255
    if mode == "L":
        data = png(Image.fromarray(truth), compress_level=level)
    elif mode == "P":
        image = Image.frombytes("P", (width, height), truth.tobytes())
        image.putpalette([v for i in range(256) for v in (i, 255 - i, (7 * i) % 256)])
        data = png(image, compress_level=level)
    else:
        data = codec.encode_png(truth)
    assert np.array_equal(pillow_pixels(data), truth)
    saved = codec.pyspng, codec.zlib_ng
    try:
        for keep_spng, keep_zlib_ng in ((True, True), (True, False), (False, True), (False, False)):
            codec.pyspng, codec.zlib_ng = (saved[0] if keep_spng else None), (saved[1] if keep_zlib_ng else None)
            decoded = codec.decode_label_png(data)
            assert decoded.dtype == np.uint8 and np.array_equal(decoded, truth)
    finally:
        codec.pyspng, codec.zlib_ng = saved


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 70), width=st.integers(1, 70), level=st.integers(0, 9), noise=st.integers(0, 60),
       seed=st.integers(0, 2**16))
def test_every_decoder_gives_pillow_s_pixels_for_any_rgb_image(height, width, level, noise, seed):
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, max(height, width))
    base = np.stack([ramp[:height, None] + 0 * ramp[None, :width], ramp[None, :width] + 0 * ramp[:height, None],
                     np.full((height, width), 90.0)], -1)
    rgb = (base + rng.normal(0, noise + 1e-9, base.shape)).clip(0, 255).astype(np.uint8)
    data = png(Image.fromarray(rgb), compress_level=level)
    saved = codec.pyspng, codec.zlib_ng
    try:
        for keep_spng, keep_zlib_ng in ((True, True), (True, False), (False, True), (False, False)):
            codec.pyspng, codec.zlib_ng = (saved[0] if keep_spng else None), (saved[1] if keep_zlib_ng else None)
            decoded = codec.decode_png(data)
            assert decoded.shape == (height, width, 3) and np.array_equal(decoded, rgb)
    finally:
        codec.pyspng, codec.zlib_ng = saved

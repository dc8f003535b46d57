"""Decoding and normalising one file: the bad-file corpus is refused with a reason or normalised, never a crash."""

import numpy as np
import pytest
from ingestion_fixtures import (
    BLUE, CORPUS, RED, WHITE, animated_gif, cmyk_jpeg, encode, exif_rotated_jpeg, halves, palette_png, png_header,
    rgba_png, sixteen_bit_png,
)
from PIL import Image

from segmad.ingestion.limits import Limits
from segmad.ingestion.normalise import Rejected, normalise

REFUSED = {
    "truncated.jpg": "corrupt",
    "truncated.png": "corrupt",
    "corrupt.png": "corrupt",
    "empty.jpg": "empty",
    "page.html": "not-an-image",
    "bomb.png": "decompression-bomb",
}


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_every_corpus_file_is_refused_with_its_reason_or_becomes_rgb(name):
    try:
        rgb = normalise(CORPUS[name]())
    except Rejected as why:
        assert why.code == REFUSED.get(name), f"{name} refused: {why}"
    else:
        assert name not in REFUSED, f"{name} was accepted"
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3


def test_a_huge_png_header_is_refused_from_the_header_by_the_limit():
    # 9000x9000 is under Pillow's own threshold; the file holds no pixels, so only the header check names a bomb.
    with pytest.raises(Rejected) as refused:
        normalise(png_header(9000, 9000), Limits(max_pixels=10_000_000))
    assert refused.value.code == "decompression-bomb"


def test_a_bomb_over_pillows_threshold_is_refused_under_max_pixels_from_the_header():
    # Over twice Pillow's limit Pillow refuses it from the header; the reason is said in segmad's --max-pixels.
    # The file holds no pixels: a decode would call it corrupt, so this reason comes from the header alone.
    with pytest.raises(Rejected) as refused:
        normalise(png_header(20_000, 20_000))
    assert Limits().max_pixels == 64_000_000
    assert (refused.value.code, refused.value.detail) == ("decompression-bomb", "400000000 pixels is over 64000000 pixels")


def test_a_bomb_under_twice_pillows_limit_leaves_no_warning_on_stderr(tmp_path):
    # In a process of its own: this suite turns every warning into an error, a user's process does not.
    import subprocess
    import sys

    (tmp_path / "bomb.png").write_bytes(png_header(10_000, 10_000))
    code = ("import sys\nfrom segmad.ingestion.normalise import Rejected, normalise\n"
            "try:\n    normalise(open(sys.argv[1], 'rb').read())\nexcept Rejected as why:\n    print(why)\n")
    run = subprocess.run([sys.executable, "-c", code, str(tmp_path / "bomb.png")], capture_output=True, text=True,
                         timeout=60, check=True)
    assert run.stdout.strip() == "decompression-bomb: 10000x10000 is over 64000000 pixels"
    assert run.stderr == ""  # Pillow's DecompressionBombWarning would print two lines here


def test_a_bomb_is_refused_even_when_the_limit_allows_it():
    with pytest.raises(Rejected, match="decompression-bomb"):
        normalise(png_header(30_000, 30_000), Limits(max_pixels=10**10, max_side=10**6))


@pytest.mark.parametrize(("size", "code"), [((20, 40), "too-small"), ((200, 40), "too-large")])
def test_absurd_dimensions_are_refused(size, code):
    with pytest.raises(Rejected, match=code):
        normalise(encode(Image.new("RGB", size), "PNG"), Limits(min_side=32, max_side=100))


def test_a_file_over_the_byte_limit_is_refused_unread():
    with pytest.raises(Rejected, match="file-too-large"):
        normalise(b"x" * 101, Limits(max_bytes=100))


def test_exif_orientation_turns_the_pixels_upright():
    rgb = normalise(exif_rotated_jpeg())
    assert rgb.shape == (64, 32, 3)  # stored 64 wide, 32 high; viewed turned a quarter clockwise
    assert np.abs(rgb[8, 16].astype(int) - RED).max() < 16  # the stored left half is now on top
    assert np.abs(rgb[56, 16].astype(int) - BLUE).max() < 16


def test_transparency_is_composited_on_white():
    rgb = normalise(rgba_png())
    assert tuple(rgb[5, 5]) == RED and tuple(rgb[5, 35]) == WHITE


def test_a_palette_image_keeps_its_colours():
    rgb = normalise(palette_png())
    assert tuple(rgb[0, 0]) == RED and tuple(rgb[0, 39]) == BLUE


def test_sixteen_bits_are_scaled_to_eight_not_clipped():
    assert np.unique(normalise(sixteen_bit_png(128 * 257))).tolist() == [128]


def test_cmyk_without_ink_is_white():
    assert np.abs(normalise(cmyk_jpeg()).astype(int) - 255).max() <= 2


def test_an_animation_keeps_its_first_frame():
    rgb = normalise(animated_gif())
    assert rgb.shape == (40, 40, 3) and tuple(rgb[20, 20]) == RED


def test_an_rgb_png_comes_back_unchanged():
    picture = halves(40, 40)
    assert np.array_equal(normalise(encode(picture, "PNG")), np.asarray(picture))

"""A large image is held about once while it is ingested, not as several full-size copies."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

WIDTH, HEIGHT = 6000, 4000  # 72 MB of RGB pixels; a 16000x3900 photo is 187 MB

# In a fresh process, so that the peak resident size belongs to this ingestion alone.
SCRIPT = textwrap.dedent("""
    import resource, sys
    from pathlib import Path
    from segmad import bootstrap
    from segmad.settings import Settings
    from segmad.ingestion.batch import ingest_all
    from segmad.ingestion.sources import inputs
    from segmad.ingestion.limits import Limits

    folder = Path(sys.argv[1])
    ports = bootstrap.build(Settings(data_dir=folder, database_url=f"sqlite:///{folder / 'c.db'}",
                                     blob_url=f"file://{folder / 'blobs'}", bus="memory"))
    items = inputs(str(folder / "big.png"), Limits(), 1.0, None)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    summary = ingest_all(ports, items)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(summary.ingested, (after - before) * 1024)
""")


@pytest.mark.slow
def test_ingesting_a_large_image_peaks_under_twice_its_decoded_size(tmp_path):
    pixels = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    pixels[..., 0], pixels[..., 1] = np.arange(WIDTH)[None, :] % 256, np.arange(HEIGHT)[:, None] % 256
    Image.fromarray(pixels).save(tmp_path / "big.png", compress_level=1)  # small on disk, large decoded
    del pixels
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    ingested, grown = map(int, done.stdout.split())
    assert ingested == 1 and grown < 2 * WIDTH * HEIGHT * 3

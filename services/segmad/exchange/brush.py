"""Label Studio's brush RLE: the bit-packed run-length code of a mask's RGBA bytes that its editor reads.

The layout follows label-studio-converter's `brush.encode_rle` / `decode_rle` (word size 8, run-length
fields of 3, 4, 8 and 16 bits); the tests decode what this writes with that library.
"""

from __future__ import annotations

import numpy as np

_RUN_BITS = (3, 4, 8, 16)


def encode_mask(binary: np.ndarray) -> list[int]:
    """Brush RLE of a (H, W) bool mask: alpha 255 where set, as Label Studio stores a brush stroke."""
    flat = np.repeat(np.where(binary, 255, 0).astype(np.uint8).ravel(), 4)  # R, G, B, A per pixel
    bits = [f"{flat.size:032b}", f"{8 - 1:05b}", "".join(f"{n - 1:04b}" for n in _RUN_BITS)]
    change = np.flatnonzero(flat[1:] != flat[:-1])
    ends = np.append(change, flat.size - 1)
    starts = np.append(0, ends[:-1] + 1)
    for start, end in zip(starts.tolist(), ends.tolist()):
        length, value = end - start + 1, int(flat[start])
        while length > 0:
            chunk = min(length, 2 ** 16)
            field = next(i for i, n in enumerate(_RUN_BITS) if chunk <= 2 ** n)
            bits.append(f"1{field:02b}{chunk - 1:0{_RUN_BITS[field]}b}{value:08b}")
            length -= chunk
    text = "".join(bits)
    text += "0" * (-len(text) % 8)
    return [int(text[i:i + 8], 2) for i in range(0, len(text), 8)]


def decode_mask(rle: list[int], height: int, width: int) -> np.ndarray:
    """The (H, W) bool mask of a brush RLE (alpha > 0)."""
    bits = "".join(f"{byte:08b}" for byte in rle)
    position = 0

    def read(n: int) -> int:
        nonlocal position
        position += n
        return int(bits[position - n:position], 2)

    total, word = read(32), read(5) + 1
    sizes = [read(4) + 1 for _ in range(4)]
    out = np.zeros(total, dtype=np.uint8)
    i = 0
    while i < total:
        repeated = read(1)
        j = i + 1 + read(sizes[read(2)])
        if repeated:
            out[i:j] = read(word)
        else:
            out[i:j] = [read(word) for _ in range(j - i)]
        i = j
    return out.reshape(height, width, 4)[:, :, 3] > 0

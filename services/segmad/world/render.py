"""Drawing primitives: backgrounds, posed textured objects, blur and noise (float RGB canvases)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from segmad.world.classes import Field


@dataclass(frozen=True)
class Pose:
    """Where an object lies: centre and radius in pixels, and its local frame."""

    cx: float
    cy: float
    radius: float
    angle: float = 0.0  # radians
    aspect: float = 1.0  # height / width of the local frame
    shear: float = 0.0
    tilt: tuple[float, float] = (0.0, 0.0)  # perspective: a plane receding along this direction


@functools.lru_cache(maxsize=8)
def pixel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y), each (size, size) float32."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    return x, y


@functools.lru_cache(maxsize=8)
def noise_bank(size: int, count: int = 32) -> np.ndarray:
    """Fixed unit Gaussian noise fields (count, size, size, 3); drawing fresh noise is the slow part."""
    rng = np.random.default_rng(20240917)
    bank = rng.standard_normal((count, size, size, 3), dtype=np.float32)
    bank.flags.writeable = False
    return bank


def smooth_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A plain, low-saturation background with a gentle linear gradient, (size, size, 3) float32."""
    x, y = pixel_grid(size)
    base = rng.uniform(80, 190) + rng.uniform(-18, 18, 3)
    gx, gy = rng.uniform(-35, 35, 3), rng.uniform(-35, 35, 3)
    xs, ys = (x / size - 0.5)[..., None], (y / size - 0.5)[..., None]
    return (base + xs * gx + ys * gy).astype(np.float32)


def busy_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A high-contrast background of crossing waves in random colours, (size, size, 3) float32."""
    x, y = pixel_grid(size)
    canvas = smooth_background(rng, size)
    for _ in range(2):
        angle, freq = rng.uniform(0, math.pi), rng.uniform(0.25, 0.7)
        wave = np.sin(freq * (x * math.cos(angle) + y * math.sin(angle)) + rng.uniform(0, 6.3))
        canvas += wave[..., None] * rng.uniform(-60, 60, 3).astype(np.float32)
    return canvas


def local_frame(pose: Pose, size: int) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray]:
    """The window of the image the object can touch and local coordinates (u, v) over it."""
    c, s = math.cos(pose.angle), math.sin(pose.angle)
    # forward map local -> pixel offset: radius * R(angle) @ [[1, shear], [0, aspect]]
    a, b = pose.radius * c, pose.radius * (c * pose.shear - s * pose.aspect)
    d, e = pose.radius * s, pose.radius * (s * pose.shear + c * pose.aspect)
    det = a * e - b * d
    tilted = pose.tilt != (0.0, 0.0)
    if tilted:
        window = (slice(0, size), slice(0, size))
    else:
        reach = 1.25 * math.sqrt(a * a + b * b + d * d + e * e)
        window = (slice(max(0, int(pose.cy - reach)), max(0, min(size, int(pose.cy + reach) + 1))),
                  slice(max(0, int(pose.cx - reach)), max(0, min(size, int(pose.cx + reach) + 1))))
    x, y = pixel_grid(size)
    dx, dy = x[window] - pose.cx, y[window] - pose.cy
    u, v = (e * dx - b * dy) / det, (a * dy - d * dx) / det
    if tilted:
        w = 1 + (pose.tilt[0] * dx + pose.tilt[1] * dy) / pose.radius
        w = np.maximum(w, 0.05)  # beyond the horizon: pushed far away, outside every shape
        u, v = u / w, v / w
    return window, u, v


def draw(canvas: np.ndarray, labels: np.ndarray, pose: Pose, shape: Field, texture: Field,
         palette: np.ndarray, label: int) -> None:
    """Paint a textured object over canvas and write label into labels where it is visible."""
    window, u, v = local_frame(pose, canvas.shape[0])
    if u.size == 0:
        return
    inside = shape(u, v)
    mix = texture(u, v)[..., None]
    colour = palette[0] + mix * (palette[1] - palette[0])
    canvas[window][inside] = colour[inside]
    labels[window][inside] = label


def fill_rect(canvas: np.ndarray, labels: np.ndarray, x0: int, y0: int, x1: int, y1: int,
              colour: np.ndarray, label: int) -> None:
    """Paint a solid axis-aligned rectangle (an occluder) and write label under it."""
    canvas[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = colour
    labels[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = label


def box_blur(canvas: np.ndarray, radius: int, passes: int = 2) -> np.ndarray:
    """Approximate Gaussian blur: separable box filters with edge padding, repeated."""
    out = canvas
    width = 2 * radius + 1
    for _ in range(passes):
        for axis in (0, 1):
            pad = [(0, 0)] * out.ndim
            pad[axis] = (radius + 1, radius)
            total = np.cumsum(np.pad(out, pad, mode="edge"), axis=axis, dtype=np.float32)
            hi = np.take(total, np.arange(width, total.shape[axis]), axis=axis)
            lo = np.take(total, np.arange(0, total.shape[axis] - width), axis=axis)
            out = (hi - lo) / width
    return out


def add_noise(rng: np.random.Generator, canvas: np.ndarray, sigma: float) -> np.ndarray:
    """Add Gaussian pixel noise of standard deviation sigma (a flipped field from the bank)."""
    bank = noise_bank(canvas.shape[0])
    field = bank[rng.integers(len(bank))]
    if rng.random() < 0.5:
        field = field[::-1]
    if rng.random() < 0.5:
        field = field[:, ::-1]
    return canvas + sigma * field


def to_uint8(canvas: np.ndarray) -> np.ndarray:
    """Round and clip a float canvas to a uint8 image."""
    return np.clip(canvas + 0.5, 0, 255).astype(np.uint8)

"""The foreground classes: each is a shape, a texture and a colour palette.

Shapes and textures are functions of an object's local coordinates (u, v), where the object
spans roughly the unit disc; textures therefore turn, shear and scale with their object.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

Field = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _frac(x: np.ndarray) -> np.ndarray:
    return x - np.floor(x)


# ---- shapes: (u, v) -> bool mask -------------------------------------------------------------
def disc(u, v):
    return u * u + v * v < 0.85


def square(u, v):
    return np.maximum(np.abs(u), np.abs(v)) < 0.75


def triangle(u, v):
    return (v < 0.6) & (np.abs(u) * 1.6 < v + 0.95)


def star(u, v):
    r = np.sqrt(u * u + v * v)
    return r < 0.55 + 0.4 * np.cos(5 * np.arctan2(u, -v))


def ring(u, v):
    r2 = u * u + v * v
    return (r2 < 0.95) & (r2 > 0.3)


def cross(u, v):
    au, av = np.abs(u), np.abs(v)
    return ((au < 0.3) & (av < 0.9)) | ((av < 0.3) & (au < 0.9))


def diamond(u, v):
    return np.abs(u) * 1.3 + np.abs(v) < 1.0


def crescent(u, v):
    return (u * u + v * v < 0.9) & ((u - 0.45) ** 2 + (v + 0.1) ** 2 > 0.45)


def wobbly(phase: float, depth: float) -> Field:
    """An irregular blob, the shape of no class (look-alikes, out-of-domain objects)."""

    def shape(u, v):
        a = np.arctan2(v, u)
        r = np.sqrt(u * u + v * v)
        return r < 0.7 + depth * np.sin(3 * a + phase) + 0.5 * depth * np.cos(7 * a - phase)

    return shape


# ---- textures: (u, v) -> float in [0, 1], the mix between the palette's two colours ------------
def rings(u, v):
    return 0.5 + 0.5 * np.sin(11 * np.sqrt(u * u + v * v))


def checker(u, v):
    return ((np.floor(u * 2.6) + np.floor(v * 2.6)) % 2).astype(np.float32)


def hstripes(u, v):
    return (np.sin(9 * v) > 0).astype(np.float32)


def dots(u, v):
    return ((_frac(u * 3) - 0.5) ** 2 + (_frac(v * 3) - 0.5) ** 2 < 0.09).astype(np.float32)


def diagonal(u, v):
    return (np.sin(6.5 * (u + v)) > 0).astype(np.float32)


def vstripes(u, v):
    return (np.sin(9 * u) > 0).astype(np.float32)


def grid(u, v):
    return ((_frac(u * 2.5) < 0.3) | (_frac(v * 2.5) < 0.3)).astype(np.float32)


def waves(u, v):
    return (np.sin(8 * v + 2.5 * np.sin(6 * u)) > 0).astype(np.float32)


def blotches(u, v):
    """A texture of no class, for out-of-domain objects."""
    return 0.5 + 0.5 * np.sin(5 * u + 3 * np.sin(4 * v)) * np.cos(4 * v - 2 * np.sin(5 * u))


def flat(u, v):
    """No texture at all, for out-of-domain objects and clutter."""
    return np.zeros_like(u)


# ---- the classes (index k is label k + 1) -----------------------------------------------------
CLASS_NAMES: tuple[str, ...] = (
    "background", "sun", "tile", "pyramid", "starfish", "donut", "plus", "kite", "moon",
)
SHAPES: tuple[Field, ...] = (disc, square, triangle, star, ring, cross, diamond, crescent)
TEXTURES: tuple[Field, ...] = (rings, checker, hstripes, dots, diagonal, vstripes, grid, waves)
OOD_TEXTURES: tuple[Field, ...] = (blotches, flat)

# Two RGB colours per class. A class usually wears its own palette and sometimes its
# partner's (classes 2i and 2i+1 are partners), so colour alone cannot name a class.
PALETTES = np.array([
    [[240, 140, 30], [250, 225, 120]],   # sun: orange on pale yellow
    [[40, 70, 200], [215, 225, 245]],    # tile: blue and white
    [[150, 55, 30], [230, 170, 110]],    # pyramid: rust and sand
    [[205, 35, 60], [250, 175, 190]],    # starfish: red and pink
    [[115, 45, 170], [200, 160, 240]],   # donut: purple and lavender
    [[30, 135, 55], [165, 230, 145]],    # plus: green and light green
    [[15, 140, 150], [155, 240, 230]],   # kite: teal and aqua
    [[225, 195, 25], [80, 60, 20]],      # moon: gold and dark brown
], dtype=np.float32)
OWN_PALETTE_PROBABILITY = 0.75


def partner(k: int) -> int:
    """The class (0-based) whose palette class k may also wear."""
    return k ^ 1

"""Compose one scene: background, objects and the shifts that change them."""

from __future__ import annotations

import math

import numpy as np

from segmad.world import classes
from segmad.world.render import (Pose, add_noise, box_blur, busy_background, draw, fill_rect,
                                 smooth_background, to_uint8)

IGNORE = 255
CAMERA_NOISE = 4.0  # every image carries a little noise, so clean renders are not a cue


def render(rng: np.random.Generator, size: int, num_classes: int,
           shifts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """An in-domain scene altered by shifts: (image (H, W, 3) uint8, mask (H, W) uint8)."""
    unit = size / 64
    canvas = busy_background(rng, size) if "clutter" in shifts else smooth_background(rng, size)
    labels = np.zeros((size, size), np.uint8)
    if "clutter" in shifts:
        for _ in range(int(rng.integers(5, 10))):
            _draw_junk(rng, canvas, labels, rng.uniform(2, 6) * unit)
    if "look_alike" in shifts:
        for _ in range(int(rng.integers(1, 3))):
            _draw_look_alike(rng, canvas, labels, num_classes, unit)
    poses = [_object_pose(rng, size, shifts) for _ in range(_object_count(rng, shifts))]
    for pose in poses:
        k = int(rng.integers(num_classes))
        texture = classes.TEXTURES[_other_class(rng, k, num_classes) if "texture_swap" in shifts else k]
        draw(canvas, labels, pose, classes.SHAPES[k], texture,
             _palette(rng, k, num_classes, swap="colour_swap" in shifts), k + 1)
    if "occlusion" in shifts:
        for pose in poses[:2]:
            _occlude(rng, canvas, labels, pose)
    if "blur" in shifts:
        canvas = box_blur(canvas, radius=max(1, round(rng.uniform(1.5, 3.0) * unit)))
    sigma = rng.uniform(28, 50) if "noise" in shifts else CAMERA_NOISE
    return to_uint8(add_noise(rng, canvas, sigma)), labels


def render_out_of_domain(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A scene of objects from no known class; no pixel has a known label, so the mask is all 255."""
    unit = size / 64
    canvas = busy_background(rng, size) if rng.random() < 0.3 else smooth_background(rng, size)
    for _ in range(int(rng.integers(1, 4))):
        pose = Pose(cx=rng.uniform(0.15, 0.85) * size, cy=rng.uniform(0.15, 0.85) * size,
                    radius=rng.uniform(8, 18) * unit, angle=rng.uniform(0, 2 * math.pi),
                    aspect=rng.uniform(0.6, 1.0))
        shape = classes.wobbly(rng.uniform(0, 2 * math.pi), rng.uniform(0.12, 0.25))
        texture = classes.OOD_TEXTURES[int(rng.integers(len(classes.OOD_TEXTURES)))]
        palette = rng.uniform(20, 240, (2, 3)).astype(np.float32)
        draw(canvas, np.zeros((size, size), np.uint8), pose, shape, texture, palette, IGNORE)
    return to_uint8(add_noise(rng, canvas, CAMERA_NOISE)), np.full((size, size), IGNORE, np.uint8)


def _object_count(rng: np.random.Generator, shifts: tuple[str, ...]) -> int:
    if "scale_huge" in shifts:
        return 1
    if "scale_tiny" in shifts:
        return int(rng.integers(2, 6))
    return int(rng.integers(1, 4))


def _object_pose(rng: np.random.Generator, size: int, shifts: tuple[str, ...]) -> Pose:
    """Canonical pose (upright, usual size, anywhere) unless a viewpoint or scale shift says otherwise."""
    unit = size / 64
    radius, margin = rng.uniform(9, 14) * unit, 0.15
    if "scale_tiny" in shifts:
        radius = rng.uniform(2.5, 5) * unit
    elif "scale_huge" in shifts:
        radius, margin = rng.uniform(28, 42) * unit, 0.3
    angle, aspect, shear, tilt = rng.uniform(-0.14, 0.14), rng.uniform(0.9, 1.1), 0.0, (0.0, 0.0)
    if "rotation" in shifts:
        angle = rng.uniform(0.5, 2 * math.pi - 0.5)
    if "shear" in shifts:
        shear, aspect = rng.choice([-1, 1]) * rng.uniform(0.6, 1.1), rng.uniform(0.45, 0.7)
    if "perspective" in shifts:
        direction, strength = rng.uniform(0, 2 * math.pi), rng.uniform(0.35, 0.6)
        tilt = (strength * math.cos(direction), strength * math.sin(direction))
        aspect *= rng.uniform(0.6, 0.85)
    return Pose(cx=rng.uniform(margin, 1 - margin) * size, cy=rng.uniform(margin, 1 - margin) * size,
                radius=radius, angle=angle, aspect=aspect, shear=shear, tilt=tilt)


def _other_class(rng: np.random.Generator, k: int, num_classes: int,
                 avoid: frozenset[int] = frozenset()) -> int:
    options = [j for j in range(len(classes.SHAPES)) if j != k and j not in avoid]
    in_world = [j for j in options if j < num_classes]
    return int(rng.choice(in_world or options))


def _palette(rng: np.random.Generator, k: int, num_classes: int, swap: bool) -> np.ndarray:
    """Class k's colours (sometimes its partner's), jittered; another class's when swapped."""
    mate = classes.partner(k)
    if swap:
        source = _other_class(rng, k, num_classes, avoid=frozenset({mate}))
    elif mate < num_classes and rng.random() > classes.OWN_PALETTE_PROBABILITY:
        source = mate
    else:
        source = k
    jitter = rng.uniform(0.85, 1.1) * classes.PALETTES[source] + rng.uniform(-12, 12, 3)
    return jitter.astype(np.float32)


def _draw_junk(rng: np.random.Generator, canvas: np.ndarray, labels: np.ndarray,
               radius: float) -> None:
    size = canvas.shape[0]
    pose = Pose(cx=rng.uniform(0, size), cy=rng.uniform(0, size), radius=radius,
                angle=rng.uniform(0, 2 * math.pi), aspect=rng.uniform(0.4, 1.0))
    shape = classes.wobbly(rng.uniform(0, 2 * math.pi), 0.2)
    palette = rng.uniform(0, 255, (2, 3)).astype(np.float32)
    draw(canvas, labels, pose, shape, classes.blotches, palette, 0)


def _draw_look_alike(rng: np.random.Generator, canvas: np.ndarray, labels: np.ndarray,
                     num_classes: int, unit: float) -> None:
    """A class's colours and texture on a shape of no class: background, however it looks."""
    size = canvas.shape[0]
    k = int(rng.integers(num_classes))
    pose = Pose(cx=rng.uniform(0.15, 0.85) * size, cy=rng.uniform(0.15, 0.85) * size,
                radius=rng.uniform(9, 14) * unit, angle=rng.uniform(0, 2 * math.pi),
                aspect=rng.uniform(0.35, 0.6))
    shape = classes.wobbly(rng.uniform(0, 2 * math.pi), 0.15)
    draw(canvas, labels, pose, shape, classes.TEXTURES[k], _palette(rng, k, num_classes, False), 0)


def _occlude(rng: np.random.Generator, canvas: np.ndarray, labels: np.ndarray, pose: Pose) -> None:
    """A solid bar over part of the object: background in the mask, as the object is hidden there."""
    long, short = pose.radius * rng.uniform(1.6, 2.6), pose.radius * rng.uniform(0.7, 1.2)
    w, h = (long, short) if rng.random() < 0.5 else (short, long)
    cx = pose.cx + rng.uniform(-0.5, 0.5) * pose.radius
    cy = pose.cy + rng.uniform(-0.5, 0.5) * pose.radius
    colour = (rng.uniform(40, 200) + rng.uniform(-25, 25, 3)).astype(np.float32)
    fill_rect(canvas, labels, int(cx - w / 2), int(cy - h / 2), int(cx + w / 2), int(cy + h / 2),
              colour, 0)

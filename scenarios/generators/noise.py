"""Smooth random fields shared by the image generators."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian-filtered white noise (coarse grid for large sigma)."""
    step = max(1, int(sigma // 4))
    coarse = (shape[0] // step + 2, shape[1] // step + 2)
    field = ndimage.gaussian_filter(rng.standard_normal(coarse), sigma / step, mode="wrap")
    if step > 1:
        coords = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64) / step
        field = ndimage.map_coordinates(field, coords, order=1, mode="nearest")
    else:
        field = field[: shape[0], : shape[1]]
    std = float(field.std())
    return (field - field.mean()) / (std if std > 0 else 1.0)

"""Seeded procedural PA chest radiograph phantoms.

The phantom is built as a projected attenuation map ``D`` (soft tissue of the
torso minus lung air, plus bones, vessels and findings) and displayed through a
film-like sigmoid, so bright = dense as on a conventional film. Anatomy is laid
out in fractions of ``size_px``; ``px_per_mm`` only fixes the physical scale
(defaults give an adult thorax of about 30 cm), i.e. nodule sizes, pneumothorax
rim and the ruler.

Conventions (PA projection): the patient's right is the image LEFT. Each
finding's ``side`` is the patient's side.

Ground truth that is exact by construction:

* nodules are uniform soft-tissue spheres of exactly ``diameter_mm``;
* the widest horizontal extent of the heart is exactly
  ``cardiothoracic_ratio`` x the widest internal thoracic width (lateral lung
  borders);
* a radio-opaque ruler of exactly ``RULER_MM`` (ticks every ``RULER_TICK_MM``)
  lies near the bottom-left corner, outside the lungs, rendered pure white.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import ndimage
from scipy.interpolate import CubicSpline

from scenarios.generators.noise import smooth_noise as _smooth_noise

__all__ = [
    "RULER_MM",
    "RULER_TICK_MM",
    "NoduleSpec",
    "ConsolidationSpec",
    "ChestPhantomParams",
    "generate_chest_phantom",
    "nodule_centres",
    "ruler_box",
]

Side = Literal["right", "left"]
Zone = Literal["upper", "mid", "lower"]

#: Physical length of the radio-opaque ruler and its tick spacing.
RULER_MM = 50.0
RULER_TICK_MM = 10.0
#: Ruler bar thickness and tick height (mm), and its position (fractions of size).
RULER_BAR_MM = 1.6
RULER_TICK_HEIGHT_MM = 4.0
RULER_LEFT_FRACTION = 0.05
RULER_BOTTOM_FRACTION = 0.955
#: The ruler may use at most this fraction of the image width.
RULER_MAX_WIDTH_FRACTION = 0.35

#: Supersampling factor used to rasterise outlines.
SUPERSAMPLE = 2
#: Display curve: D at mid-grey and the sigmoid width.
DISPLAY_MID = 2.0
DISPLAY_WIDTH = 0.9
DISPLAY_FLOOR_D = -0.6
#: Grey level ceiling of anatomy (the ruler alone is pure white).
ANATOMY_MAX_GREY = 246.0
#: Attenuation scales (arbitrary D units).
BODY_D = 4.1
NECK_D = 3.0
LUNG_AIR_D = 2.35
LUNG_EDGE_TAPER_FRACTION = 0.012
HEART_EXTRA_D = 0.05
RETROCARDIAC_AIR = 0.12
#: Nodule attenuation per mm of chord (soft tissue replacing aerated lung).
NODULE_D_PER_MM = 0.065
NODULE_EDGE_BLUR_PX = 0.6
#: Nodules are nudged so their centre is at least this many radii (+6 px) from the lung edge.
NODULE_PLEURA_CLEARANCE = 1.5
RIB_D = 0.38
ANTERIOR_RIB_D = 0.3
CLAVICLE_D = 0.7
SPINE_D = 0.4
VESSEL_D = 0.55
HILUM_D = 0.22
VESSEL_TRUNK_FRACTION = 0.0068
VESSEL_MIN_FRACTION = 0.0009
TRACHEA_D = 0.55
GASTRIC_D = 0.9
EFFUSION_FILL = 1.0
EFFUSION_EDGE_FRACTION = 0.025
PNEUMO_EXTRA_AIR_D = 0.35
PLEURAL_LINE_D = 0.25
CONSOLIDATION_FILL = 0.55
#: Quantum-like noise std in D units (at the lung level) and the detector blur.
NOISE_D = 0.018
DETECTOR_BLUR_PX = 0.7

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class NoduleSpec(BaseModel):
    """One round soft-tissue nodule (side = the patient's side)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    side: Side
    zone: Zone
    diameter_mm: float = Field(ge=3.0, le=60.0)
    lateral: Fraction = 0.5


class ConsolidationSpec(BaseModel):
    """Patchy airspace opacity filling part of one lung zone."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    side: Side
    zone: Zone
    air_bronchograms: bool = True


class ChestPhantomParams(BaseModel):
    """Parameters (and exact ground truth) of one synthetic PA chest film."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int
    size_px: int = Field(default=1024, ge=384, le=4096)
    px_per_mm: float = Field(default=2.5, gt=0.0)
    nodules: list[NoduleSpec] = Field(default_factory=list, max_length=20)
    effusion_side: Literal["none", "right", "left", "bilateral"] = "none"
    effusion_fraction: float = Field(default=0.0, ge=0.0, le=0.6)
    pneumothorax_side: Literal["none", "right", "left"] = "none"
    pneumothorax_rim_mm: float = Field(default=0.0, ge=0.0, le=60.0)
    cardiothoracic_ratio: float = Field(default=0.45, ge=0.35, le=0.7)
    consolidation: list[ConsolidationSpec] = Field(default_factory=list, max_length=6)

    @model_validator(mode="after")
    def _check(self) -> ChestPhantomParams:
        if (self.effusion_side == "none") != (self.effusion_fraction == 0.0):
            raise ValueError("effusion_side and effusion_fraction must be both set or both empty")
        if (self.pneumothorax_side == "none") != (self.pneumothorax_rim_mm == 0.0):
            raise ValueError("pneumothorax_side and pneumothorax_rim_mm must be both set or both empty")
        if RULER_MM * self.px_per_mm > RULER_MAX_WIDTH_FRACTION * self.size_px:
            raise ValueError("the 50 mm ruler does not fit: lower px_per_mm or raise size_px")
        lung_width_mm = 0.3 * self.size_px / self.px_per_mm
        for n in self.nodules:
            if n.diameter_mm > 0.6 * lung_width_mm:
                raise ValueError(f"a {n.diameter_mm} mm nodule does not fit in the lung at this scale")
        return self

    @property
    def ruler_px(self) -> int:
        """Exact ruler length in pixels."""
        return round(RULER_MM * self.px_per_mm)


def ruler_box(params: ChestPhantomParams) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) pixel box of the ruler bar (inclusive)."""
    s = params.size_px
    bar = max(2, round(RULER_BAR_MM * params.px_per_mm))
    x0 = round(RULER_LEFT_FRACTION * s)
    y1 = round(RULER_BOTTOM_FRACTION * s)
    return x0, y1 - bar + 1, x0 + params.ruler_px - 1, y1


# ------------------------------------------------------------------ geometry

# Outline of the patient's right lung (image left), (u, v) in fractions of size,
# clockwise from the apex. The patient's left lung is mirrored and adjusted.
_RIGHT_LUNG: tuple[tuple[float, float], ...] = (
    (0.315, 0.108),
    (0.275, 0.118),
    (0.240, 0.140),
    (0.210, 0.175),
    (0.187, 0.220),
    (0.168, 0.280),
    (0.152, 0.360),
    (0.141, 0.450),
    (0.134, 0.540),
    (0.130, 0.620),
    (0.131, 0.690),
    (0.137, 0.735),
    (0.144, 0.760),
    (0.158, 0.750),
    (0.186, 0.716),
    (0.225, 0.685),
    (0.272, 0.664),
    (0.320, 0.655),
    (0.370, 0.658),
    (0.415, 0.670),
    (0.448, 0.687),
    (0.458, 0.640),
    (0.452, 0.560),
    (0.445, 0.470),
    (0.440, 0.400),
    (0.437, 0.330),
    (0.436, 0.260),
    (0.428, 0.200),
    (0.405, 0.150),
    (0.365, 0.117),
)
#: The left hemidiaphragm sits lower; the aortic knob indents the left lung.
_LEFT_DOME_DROP = 0.016
_AORTIC_KNOB = (0.325, 0.036)  # (v, extra medial-border offset)

# Heart outline in (x / heart width from the midline, v); x spans -0.36..0.64.
_HEART: tuple[tuple[float, float], ...] = (
    (-0.150, 0.420),
    (-0.250, 0.460),
    (-0.320, 0.510),
    (-0.355, 0.570),
    (-0.360, 0.620),
    (-0.340, 0.670),
    (-0.280, 0.710),
    (-0.100, 0.750),
    (0.200, 0.765),
    (0.480, 0.745),
    (0.590, 0.710),
    (0.635, 0.665),
    (0.640, 0.630),
    (0.615, 0.585),
    (0.560, 0.540),
    (0.480, 0.505),
    (0.380, 0.475),
    (0.300, 0.445),
    (0.220, 0.405),
    (0.080, 0.382),
    (-0.080, 0.390),
)

_RIB_COUNT = 10
_RIB_FIRST_V = 0.07
_RIB_PITCH_V = 0.0585


@dataclass
class _Anatomy:
    """Rasterised anatomy shared by the renderers (all arrays are size x size)."""

    size: int
    lung_r: np.ndarray  # coverage of the patient's right lung (image left)
    lung_l: np.ndarray
    heart: np.ndarray
    lateral_r: float  # lateral-most x (px) of each lung
    lateral_l: float
    top: dict[str, float]  # apex row per side
    bottom: dict[str, float]  # costophrenic row per side
    inner: dict[str, np.ndarray]  # distance (px) to the lung edge, 0 outside


def _inner_distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance to the nearest outside pixel, computed on the bounding box."""
    out = np.zeros(mask.shape)
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return out
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = np.pad(mask[y0:y1, x0:x1], 1)
    out[y0:y1, x0:x1] = ndimage.distance_transform_edt(crop)[1:-1, 1:-1]
    return out


def _closed_spline(points: np.ndarray, n: int = 900) -> np.ndarray:
    """Smooth closed curve (n, 2) through the control points."""
    pts = np.vstack([points, points[:1]])
    seg = np.hypot(*np.diff(pts, axis=0).T)
    t = np.concatenate([[0.0], np.cumsum(seg)])
    spline = CubicSpline(t, pts, bc_type="periodic")
    return np.asarray(spline(np.linspace(0.0, t[-1], n, endpoint=False)))


def _coverage(curve_px: np.ndarray, size: int) -> np.ndarray:
    """Anti-aliased fill (0..1) of a closed pixel-space outline."""
    ss = SUPERSAMPLE
    canvas = Image.new("L", (size * ss, size * ss), 0)
    poly = [(float(x) * ss, float(y) * ss) for x, y in curve_px]
    ImageDraw.Draw(canvas).polygon(poly, fill=255)
    small = canvas.resize((size, size), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64) / 255.0


def _lung_outline(side: Side) -> np.ndarray:
    pts = np.asarray(_RIGHT_LUNG, dtype=np.float64)
    if side == "right":
        return pts
    pts = pts.copy()
    lower = pts[:, 1] > 0.6
    # drop the left dome a little (more at the dome than at the angle)
    pts[lower, 1] += _LEFT_DOME_DROP
    kv, depth = _AORTIC_KNOB
    medial = pts[:, 0] > 0.42
    pts[medial, 0] -= depth * np.exp(-(((pts[medial, 1] - kv) / 0.05) ** 2))
    pts[:, 0] = 1.0 - pts[:, 0]
    return pts[::-1]


def _heart_outline(width_px: float, size: int) -> np.ndarray:
    pts = np.asarray(_HEART, dtype=np.float64)
    curve = _closed_spline(pts)
    span = float(curve[:, 0].max() - curve[:, 0].min())
    x = curve[:, 0] / span * width_px
    # The apex sits slightly left of the midline; keep it fixed in the image.
    return np.stack([x + 0.5 * size - 0.02 * size, curve[:, 1] * size], axis=1)


def _build_anatomy(params: ChestPhantomParams) -> _Anatomy:
    s = params.size_px
    curves = {side: _closed_spline(_lung_outline(side)) * s for side in ("right", "left")}
    lung_r = _coverage(curves["right"], s)
    lung_l = _coverage(curves["left"], s)
    cols_r = np.nonzero(lung_r.max(axis=0) >= 0.5)[0]
    cols_l = np.nonzero(lung_l.max(axis=0) >= 0.5)[0]
    lateral_r, lateral_l = float(cols_r.min()), float(cols_l.max())
    thoracic = lateral_l - lateral_r + 1.0
    heart = _coverage(_heart_outline(params.cardiothoracic_ratio * thoracic, s), s)
    top = {k: float(c[:, 1].min()) for k, c in curves.items()}
    bottom = {k: float(c[:, 1].max()) for k, c in curves.items()}
    inner = {"right": _inner_distance(lung_r >= 0.5), "left": _inner_distance(lung_l >= 0.5)}
    return _Anatomy(s, lung_r, lung_l, heart, lateral_r, lateral_l, top, bottom, inner)


# ------------------------------------------------------------------- helpers


def _bezier(ctrl: np.ndarray, n: int) -> np.ndarray:
    """Points (n, 2) on a cubic Bezier with 4 control points."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2, p3 = ctrl
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3


def _bone_profile(s: np.ndarray) -> np.ndarray:
    """Projected density across a tubular bone (cortex brighter), s = d / half-width."""
    k = 0.72
    s = np.clip(s, 0.0, 1.0)
    outer = np.sqrt(1.0 - s**2)
    inner = k * np.sqrt(np.clip(1.0 - (s / k) ** 2, 0.0, None))
    return (outer - inner) + 0.35 * inner


def _add_band(d: np.ndarray, pts: np.ndarray, half_width: np.ndarray, weight: np.ndarray) -> None:
    """Add a bone band along a pixel polyline (per-sample half-width and weight)."""
    h, w = d.shape
    pad = int(math.ceil(float(half_width.max()))) + 2
    x0 = max(0, int(pts[:, 0].min()) - pad)
    x1 = min(w, int(pts[:, 0].max()) + pad + 1)
    y0 = max(0, int(pts[:, 1].min()) - pad)
    y1 = min(h, int(pts[:, 1].max()) + pad + 1)
    if x1 <= x0 or y1 <= y0:
        return
    idx = np.full((y1 - y0, x1 - x0), -1, dtype=np.int64)
    ix = np.clip(np.rint(pts[:, 0]).astype(int) - x0, 0, x1 - x0 - 1)
    iy = np.clip(np.rint(pts[:, 1]).astype(int) - y0, 0, y1 - y0 - 1)
    idx[iy, ix] = np.arange(len(pts))
    _, (ny, nx) = ndimage.distance_transform_edt(idx < 0, return_indices=True)
    nearest = idx[ny, nx]
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    dist = np.hypot(xx - pts[nearest, 0], yy - pts[nearest, 1])
    s = dist / half_width[nearest]
    d[y0:y1, x0:x1] += weight[nearest] * np.where(s < 1.0, _bone_profile(s), 0.0)


# ------------------------------------------------------------------ renderers


def _body(size: int) -> np.ndarray:
    """Soft tissue of neck, shoulders, torso and abdomen."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / size
    t = np.clip((yy - 0.015) / 0.16, 0.0, 1.0)
    shoulder = np.sin(0.5 * math.pi * t) ** 1.5
    half = 0.095 + (0.47 - 0.095) * shoulder - 0.02 * np.clip((yy - 0.75) / 0.25, 0, 1)
    x = np.abs(xx - 0.5) / half
    prof = np.clip(1.0 - x**3, 0.0, None) ** (1.0 / 3.0)
    depth = NECK_D + (BODY_D - NECK_D) * shoulder
    body = depth * prof
    return ndimage.gaussian_filter(body, 1.5)


def _lung_air(anat: _Anatomy) -> tuple[np.ndarray, np.ndarray]:
    """Air thickness (0..1) in each lung, deeper centrally and towards the base."""
    s = anat.size
    out = []
    for cov, side in ((anat.lung_r, "right"), (anat.lung_l, "left")):
        dist = anat.inner[side]
        taper = np.clip(dist / (LUNG_EDGE_TAPER_FRACTION * s), 0.0, 1.0) ** 0.5
        rows = np.arange(s, dtype=np.float64)[:, None]
        rel = np.clip((rows - anat.top[side]) / (anat.bottom[side] - anat.top[side]), 0.0, 1.0)
        vertical = 0.78 + 0.22 * np.sqrt(rel)
        air = taper * vertical
        air = ndimage.gaussian_filter(air, 0.8) * np.clip(cov * 1.5, 0.0, 1.0)
        out.append(air)
    return out[0], out[1]


def _wall_distance(anat: _Anatomy, v: float, mirror: bool) -> float:
    """Distance (fraction of size) from the midline to the lateral lung border at row v."""
    s = anat.size
    cov = anat.lung_l if mirror else anat.lung_r
    row = int(np.clip(max(v * s, anat.top["left" if mirror else "right"] + 0.03 * s), 0, s - 1))
    cols = np.nonzero(cov[row] >= 0.5)[0]
    if len(cols) == 0:
        return 0.3
    edge = float(cols.max()) if mirror else float(cols.min())
    return abs(edge - 0.5 * s) / s


def _ribs_and_clavicles(d: np.ndarray, anat: _Anatomy) -> None:
    s = anat.size
    for mirror in (False, True):
        sign = -1.0 if not mirror else 1.0

        def ux(u: float, _sign: float = sign) -> float:
            return (0.5 + _sign * u) * s  # u = distance from the midline

        for i in range(_RIB_COUNT):
            v0 = _RIB_FIRST_V + _RIB_PITCH_V * i + (0.004 if mirror else 0.0)
            wall = _wall_distance(anat, v0 + 0.08, mirror) + 0.014
            post = np.array(
                [
                    [ux(0.03), v0 * s],
                    [ux(0.11), (v0 - 0.045) * s],
                    [ux(wall - 0.01), (v0 - 0.04) * s],
                    [ux(wall + 0.004), (v0 + 0.09) * s],
                ]
            )
            pts = _bezier(post, 600)
            hw = np.full(len(pts), (0.0125 + 0.0003 * i) * s)
            taper = np.clip(np.linspace(0.0, 1.0, len(pts)) / 0.12, 0.55, 1.0)
            _add_band(d, pts, hw, RIB_D * taper)
            ant = np.array(
                [
                    [ux(wall + 0.004), (v0 + 0.09) * s],
                    [ux(wall + 0.008), (v0 + 0.115) * s],
                    [ux(wall - 0.08), (v0 + 0.14) * s],
                    [ux(wall * 0.38), (v0 + 0.21) * s],
                ]
            )
            pts = _bezier(ant, 500)
            hw = np.full(len(pts), 0.0105 * s)
            fade = np.clip(1.0 - np.linspace(0.0, 1.0, len(pts)) ** 1.5, 0.0, 1.0)
            _add_band(d, pts, hw, ANTERIOR_RIB_D * fade)
        clav = np.array(
            [
                [ux(0.045), 0.205 * s],
                [ux(0.14), 0.192 * s],
                [ux(0.25), 0.185 * s],
                [ux(0.355), 0.128 * s],
            ]
        )
        pts = _bezier(clav, 500)
        t = np.linspace(0.0, 1.0, len(pts))
        hw = (0.0125 + 0.004 * np.abs(t - 0.45)) * s
        _add_band(d, pts, hw, np.full(len(pts), CLAVICLE_D))
        # humeral head and scapular edge in the shoulder
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float64)
        cx, cy, r = ux(0.447), 0.155 * s, 0.052 * s
        rr = np.hypot(xx - cx, yy - cy) / r
        d += 0.6 * np.where(rr < 1.0, _bone_profile(rr), 0.0)


def _spine(d: np.ndarray, size: int) -> None:
    """Vertebral bodies, pedicles and spinous processes along the midline."""
    s = size
    x0, x1 = int(0.42 * s), int(0.58 * s)
    yy, xx = np.mgrid[0:s, x0:x1].astype(np.float64) / s
    pitch = 0.046
    body_h = 0.036
    local = np.mod(yy - 0.01, pitch)
    vy = (local - body_h / 2) / (body_h / 2)
    half_w = 0.028 + 0.01 * np.clip(yy, 0, 1)
    vx = (xx - 0.5) / (half_w * (1.0 - 0.06 * (1.0 - vy**2)))
    r = (np.abs(vx) ** 6 + np.abs(vy) ** 6) ** (1.0 / 6.0)
    vert = np.where(r < 1.0, 0.5 + 0.5 * np.clip((r - 0.82) / 0.18, 0, 1), 0.0)
    column = np.clip(1.0 - ((xx - 0.5) / (half_w * 1.15)) ** 2, 0.0, None) ** 0.5
    pedicle = np.zeros_like(vert)
    for side in (-1.0, 1.0):
        px = (xx - (0.5 + side * 0.7 * half_w)) / 0.0062
        py = (local - body_h * 0.3) / 0.0095
        pr = np.hypot(px, py)
        pedicle += np.where(pr < 1.0, np.clip(1.0 - np.abs(pr - 0.78) / 0.22, 0, 1), 0.0)
    sp_y = (local - body_h * 0.95) / 0.012
    sp_x = (xx - 0.5) / (0.006 * np.clip(1.0 - sp_y, 0.2, 1.5))
    spinous = np.where((np.abs(sp_y) < 1) & (np.abs(sp_x) < 1), 1.0 - np.abs(sp_x), 0.0)
    spine = SPINE_D * (0.8 * vert + 0.25 * column + 0.5 * pedicle + 0.4 * spinous)
    d[:, x0:x1] += ndimage.gaussian_filter(spine, 1.0)


def _airways(size: int) -> np.ndarray:
    """Trachea and main bronchi as an air map (0..1)."""
    s = size
    ss = SUPERSAMPLE
    canvas = Image.new("L", (s * ss, s * ss), 0)
    draw = ImageDraw.Draw(canvas)
    carina = (0.503 * s, 0.305 * s)
    draw.line([(0.5 * s * ss, 0), (carina[0] * ss, carina[1] * ss)], fill=255, width=int(0.036 * s * ss))
    draw.line(
        [(carina[0] * ss, carina[1] * ss), (0.455 * s * ss, 0.355 * s * ss), (0.44 * s * ss, 0.40 * s * ss)],
        fill=200,
        width=int(0.02 * s * ss),
        joint="curve",
    )
    draw.line(
        [(carina[0] * ss, carina[1] * ss), (0.56 * s * ss, 0.345 * s * ss), (0.585 * s * ss, 0.375 * s * ss)],
        fill=190,
        width=int(0.018 * s * ss),
        joint="curve",
    )
    small = canvas.resize((s, s), Image.Resampling.BOX)
    return ndimage.gaussian_filter(np.asarray(small, dtype=np.float64) / 255.0, 0.004 * s)


def _vessels(anat: _Anatomy, rng: np.random.Generator, lungs: np.ndarray) -> np.ndarray:
    """Pulmonary vessels radiating from the hila (density 0..~1).

    Monopodial branching: each vessel continues slightly thinner and gives off
    thinner side branches, until the calibre drops below ``VESSEL_MIN_FRACTION``.
    """
    s = anat.size
    ss = SUPERSAMPLE
    w_min = VESSEL_MIN_FRACTION * s
    segments: list[tuple[float, float, float, float, float]] = []
    hila = {"right": (0.425 * s, 0.43 * s), "left": (0.575 * s, 0.405 * s)}
    for side, (hx, hy) in hila.items():
        out = -1.0 if side == "right" else 1.0
        trunks = [(-80, 0.8), (-50, 0.9), (-15, 0.8), (15, 0.9), (45, 1.0), (75, 1.0), (100, 0.9)]
        for ang_deg, wscale in trunks:
            ang = math.radians(ang_deg + rng.normal(0, 6))
            a0 = math.atan2(math.sin(ang), out * math.cos(ang))
            stack = [(hx, hy, a0, VESSEL_TRUNK_FRACTION * s * wscale)]
            while stack:
                x, y, a, w = stack.pop()
                while w >= w_min:
                    a += rng.normal(0.0, 0.12)
                    step = max(3.0, 6.0 * w)
                    nx, ny = x + step * math.cos(a), y + step * math.sin(a)
                    iy, ix = int(ny), int(nx)
                    if not (0 <= iy < s and 0 <= ix < s) or lungs[iy, ix] < 0.5:
                        break
                    segments.append((x, y, nx, ny, w))
                    x, y = nx, ny
                    side_w = w * rng.uniform(0.45, 0.7)
                    if side_w >= w_min:
                        turn = rng.choice([-1.0, 1.0]) * rng.uniform(0.45, 0.95)
                        stack.append((x, y, a + turn, side_w))
                    w *= rng.uniform(0.85, 0.91)
    canvas = Image.new("L", (s * ss, s * ss), 0)
    draw = ImageDraw.Draw(canvas)
    for x, y, nx, ny, w in sorted(segments, key=lambda seg: seg[4]):
        value = int(min(255.0, 255.0 * w / (VESSEL_TRUNK_FRACTION * s)))
        draw.line([(x * ss, y * ss), (nx * ss, ny * ss)], fill=value, width=max(1, round(2 * w * ss)))
    small = canvas.resize((s, s), Image.Resampling.BOX)
    return ndimage.gaussian_filter(np.asarray(small, dtype=np.float64) / 255.0, 1.0)


def _nodule_centre(anat: _Anatomy, n: NoduleSpec, index: int, seed: int, ppm: float) -> tuple[float, float]:
    """Pixel centre of a nodule: zone band x lateral position, kept inside the lung."""
    cov = anat.lung_r if n.side == "right" else anat.lung_l
    mask = (cov >= 0.5) & (anat.heart < 0.5)
    inner = _inner_distance(mask)
    top, bottom = anat.top[n.side], anat.bottom[n.side]
    height = bottom - top
    k = {"upper": 0, "mid": 1, "lower": 2}[n.zone]
    rng = np.random.default_rng([seed, 404, index])
    rel = (k + 0.5 + rng.uniform(-0.12, 0.12)) / 3.0
    if n.zone == "lower":
        rel -= 0.06  # stay above the dome
    if n.zone == "upper":
        rel += 0.04
    radius = n.diameter_mm * ppm / 2.0
    y = int(round(top + rel * height))
    for _ in range(60):
        row = inner[y]
        ok = np.nonzero(row > max(radius * 0.5, 3.0))[0]
        if len(ok):
            break
        y += 2
    cols = np.nonzero(mask[y])[0]
    med, lat = (cols.max(), cols.min()) if n.side == "right" else (cols.min(), cols.max())
    margin = 0.1 * abs(lat - med)
    x = med + (lat - med) * (0.08 + 0.84 * n.lateral)
    x = float(np.clip(x, min(med, lat) + margin, max(med, lat) - margin))
    # nudge inwards until the nodule is (as far as possible) inside the lung
    best = (x, float(y))
    best_d = -1.0
    for dx in np.linspace(-0.25, 0.25, 11) * abs(lat - med):
        for dy in np.linspace(-0.08, 0.08, 9) * height:
            cx, cy = int(round(x + dx)), int(round(y + dy))
            if 0 <= cy < anat.size and 0 <= cx < anat.size:
                score = min(float(inner[cy, cx]), NODULE_PLEURA_CLEARANCE * radius + 6.0) - 0.02 * math.hypot(dx, dy)
                if score > best_d:
                    best_d, best = score, (float(cx), float(cy))
    return best


def nodule_centres(params: ChestPhantomParams) -> list[tuple[float, float]]:
    """Pixel centres (x, y) of ``params.nodules``, in order (ground truth for tests)."""
    anat = _build_anatomy(params)
    return [_nodule_centre(anat, n, i, params.seed, params.px_per_mm) for i, n in enumerate(params.nodules)]


def _nodules(anat: _Anatomy, params: ChestPhantomParams) -> np.ndarray:
    s = anat.size
    out = np.zeros((s, s))
    for i, n in enumerate(params.nodules):
        cx, cy = _nodule_centre(anat, n, i, params.seed, params.px_per_mm)
        r = n.diameter_mm * params.px_per_mm / 2.0
        pad = int(r) + 4
        y0, y1 = max(0, int(cy) - pad), min(s, int(cy) + pad + 1)
        x0, x1 = max(0, int(cx) - pad), min(s, int(cx) + pad + 1)
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        rho = np.hypot(xx - cx, yy - cy)
        chord_mm = 2.0 * np.sqrt(np.clip(r**2 - rho**2, 0.0, None)) / params.px_per_mm
        out[y0:y1, x0:x1] += NODULE_D_PER_MM * chord_mm
    return ndimage.gaussian_filter(out, NODULE_EDGE_BLUR_PX)


def _effusion(anat: _Anatomy, side: Side, fraction: float) -> np.ndarray:
    """Fluid fill (0..1) of the lung base with a meniscus rising laterally."""
    s = anat.size
    cov = anat.lung_r if side == "right" else anat.lung_l
    cols = np.nonzero(cov.max(axis=0) >= 0.5)[0]
    lat, med = (cols.min(), cols.max()) if side == "right" else (cols.max(), cols.min())
    top, bottom = anat.top[side], anat.bottom[side]
    h = fraction * (bottom - top)
    xx = np.arange(s, dtype=np.float64)
    q = np.clip((xx - med) / (lat - med), 0.0, 1.0)
    surface = bottom - h * (0.3 + 0.7 * q**2.5)
    yy = np.arange(s, dtype=np.float64)[:, None]
    edge = EFFUSION_EDGE_FRACTION * s
    fill = np.clip((yy - surface[None, :]) / edge, 0.0, 1.0) ** 0.7
    return fill * np.clip(cov * 1.2, 0.0, 1.0)


def _pneumothorax(anat: _Anatomy, side: Side, rim_px: float) -> tuple[np.ndarray, np.ndarray]:
    """(pleural air 0..1, visceral pleural line 0..1): the lung falls away from the
    lateral and apical chest wall by ``rim_px`` (less towards the base)."""
    s = anat.size
    cov = anat.lung_r if side == "right" else anat.lung_l
    lung = cov >= 0.5
    xx = np.arange(s)[None, :]
    yy = np.arange(s)[:, None]
    rows_any = lung.any(axis=1)
    cols_any = lung.any(axis=0)
    if side == "right":
        edge_x = np.where(rows_any, np.argmax(lung, axis=1), s)
        lateral = xx < edge_x[:, None]
    else:
        edge_x = np.where(rows_any, s - 1 - np.argmax(lung[:, ::-1], axis=1), -1)
        lateral = xx > edge_x[:, None]
    top_y = np.where(cols_any, np.argmax(lung, axis=0), s)
    above = yy < top_y[None, :]
    wall = ~lung & (lateral | above) & (yy < anat.bottom[side] - 0.01 * s)
    dist = ndimage.distance_transform_edt(~wall)
    rel = np.clip((yy - anat.top[side]) / (anat.bottom[side] - anat.top[side]), 0.0, 1.0)
    local_rim = rim_px * np.clip(1.1 - 0.85 * rel**2, 0.2, 1.1)
    gap = lung & (dist <= local_rim)
    gap_soft = ndimage.gaussian_filter(gap.astype(np.float64), 0.8)
    line = (np.abs(dist - local_rim) < 1.0) & lung & (rel < 0.93)
    line_soft = ndimage.gaussian_filter(line.astype(np.float64), 0.6)
    return gap_soft, line_soft


def _zone_rows(anat: _Anatomy, side: Side, zone: Zone) -> tuple[float, float]:
    top, bottom = anat.top[side], anat.bottom[side]
    k = {"upper": 0, "mid": 1, "lower": 2}[zone]
    h = (bottom - top) / 3.0
    return top + k * h, top + (k + 1) * h


def _consolidation(anat: _Anatomy, spec: ConsolidationSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(airspace fill 0..1, air bronchogram air 0..1) for one patchy opacity."""
    s = anat.size
    cov = anat.lung_r if spec.side == "right" else anat.lung_l
    lung = (cov >= 0.5) & (anat.heart < 0.5)
    r0, r1 = _zone_rows(anat, spec.side, spec.zone)
    rows = np.arange(s)[:, None]
    band = lung & (rows >= r0) & (rows < r1)
    ys, xs = np.nonzero(band)
    cy, cx = float(ys.mean()), float(xs.mean())
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float64)
    ry = 0.5 * (r1 - r0)
    rx = 0.45 * float(xs.max() - xs.min())
    radial = np.hypot((xx - cx) / rx, (yy - cy) / ry)
    blotch = _smooth_noise(rng, (s, s), 0.018 * s)
    fine = _smooth_noise(rng, (s, s), 0.005 * s)
    field = 1.0 - radial + 0.3 * blotch + 0.1 * fine
    soft = ndimage.gaussian_filter(np.clip(field / 0.6, 0.0, 1.0), 0.004 * s)
    soft *= np.clip(cov * 1.2, 0.0, 1.0) * (1.0 - anat.heart)
    air = np.zeros((s, s))
    if spec.air_bronchograms:
        ss = SUPERSAMPLE
        canvas = Image.new("L", (s * ss, s * ss), 0)
        draw = ImageDraw.Draw(canvas)
        hx = 0.43 * s if spec.side == "right" else 0.57 * s
        hy = 0.43 * s
        start_x, start_y = hx + 0.45 * (cx - hx), hy + 0.45 * (cy - hy)
        base = math.atan2(cy - hy, cx - hx)
        stack = [(start_x, start_y, base + rng.normal(0, 0.2), 0.0045 * s, 0)]
        while stack:
            x, y, a, w, gen = stack.pop()
            pts = [(x * ss, y * ss)]
            for _step in range(int(rng.integers(5, 9))):
                a += rng.normal(0, 0.12)
                x += 0.006 * s * math.cos(a)
                y += 0.006 * s * math.sin(a)
                pts.append((x * ss, y * ss))
            draw.line(pts, fill=int(255 * min(1.0, w / (0.0045 * s))), width=max(1, round(2 * w * ss)), joint="curve")
            if gen < 3:
                for turn in (-1.0, 1.0):
                    stack.append((x, y, a + turn * rng.uniform(0.3, 0.6), w * 0.72, gen + 1))
        small = canvas.resize((s, s), Image.Resampling.BOX)
        air = ndimage.gaussian_filter(np.asarray(small, dtype=np.float64) / 255.0, 0.9)
        air *= np.clip((soft - 0.55) / 0.3, 0.0, 1.0)
    return soft, air


def _draw_ruler(img: np.ndarray, params: ChestPhantomParams) -> None:
    x0, y0, x1, y1 = ruler_box(params)
    img[y0 : y1 + 1, x0 : x1 + 1] = 255
    ppm = params.px_per_mm
    tick_w = max(2, round(0.6 * ppm))
    tick_h = max(4, round(RULER_TICK_HEIGHT_MM * ppm))
    n = int(RULER_MM // RULER_TICK_MM)
    for k in range(n + 1):
        xs = x0 + round(k * RULER_TICK_MM * ppm)
        xs = min(max(xs - tick_w // 2, x0), x1 - tick_w + 1)
        img[y0 - tick_h : y0, xs : xs + tick_w] = 255


# ------------------------------------------------------------------- public


def _display(d: np.ndarray) -> np.ndarray:
    lo = 1.0 / (1.0 + math.exp((DISPLAY_MID - DISPLAY_FLOOR_D) / DISPLAY_WIDTH))
    sig = 1.0 / (1.0 + np.exp(-(d - DISPLAY_MID) / DISPLAY_WIDTH))
    return ANATOMY_MAX_GREY * np.clip((sig - lo) / (1.0 - lo), 0.0, 1.0)


def _attenuation(params: ChestPhantomParams) -> np.ndarray:
    """Projected attenuation map D (before display, noise included)."""
    s = params.size_px
    anat = _build_anatomy(params)
    rng = np.random.default_rng([params.seed, 11])
    lungs = np.clip(anat.lung_r + anat.lung_l, 0.0, 1.0)
    air_r, air_l = _lung_air(anat)
    air = (air_r + air_l) * (1.0 - (1.0 - RETROCARDIAC_AIR) * anat.heart)

    tissue = np.ones((s, s))  # multiplies vessels/lung markings (0 in pleural air)
    extra_air = np.zeros((s, s))
    opacity = np.zeros((s, s))  # fraction of lung air replaced by fluid/exudate
    pleural_line = np.zeros((s, s))
    sides: list[Side] = []
    if params.effusion_side in ("right", "bilateral"):
        sides.append("right")
    if params.effusion_side in ("left", "bilateral"):
        sides.append("left")
    for side in sides:
        opacity = np.maximum(opacity, EFFUSION_FILL * _effusion(anat, side, params.effusion_fraction))
    bronchogram = np.zeros((s, s))
    for i, spec in enumerate(params.consolidation):
        fill, br = _consolidation(anat, spec, np.random.default_rng([params.seed, 505, i]))
        opacity = np.maximum(opacity, CONSOLIDATION_FILL * fill)
        bronchogram = np.maximum(bronchogram, br)
    if params.pneumothorax_side != "none":
        gap, line = _pneumothorax(anat, params.pneumothorax_side, params.pneumothorax_rim_mm * params.px_per_mm)
        tissue *= 1.0 - gap
        extra_air += gap
        pleural_line = line

    d = _body(s)
    lung_texture = 0.012 * _smooth_noise(rng, (s, s), 0.002 * s) + 0.025 * _smooth_noise(rng, (s, s), 0.008 * s)
    d -= LUNG_AIR_D * air * (1.0 - opacity) * (1.0 + lung_texture * tissue)
    d -= PNEUMO_EXTRA_AIR_D * extra_air * (1.0 - anat.heart)
    d += PLEURAL_LINE_D * pleural_line
    d += HEART_EXTRA_D * anat.heart
    d -= TRACHEA_D * _airways(s)
    vessels = _vessels(anat, np.random.default_rng([params.seed, 22]), lungs)
    d += VESSEL_D * vessels * lungs * tissue * (1.0 - 0.75 * anat.heart) * (1.0 - opacity)
    d -= 0.35 * LUNG_AIR_D * bronchogram * air
    d += _nodules(anat, params)
    _spine(d, s)
    _ribs_and_clavicles(d, anat)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float64) / s
    # hilar vascular shadows
    for hx, hy in ((0.43, 0.445), (0.57, 0.42)):
        blob = np.exp(-(((xx - hx) / 0.025) ** 2 + ((yy - hy) / 0.045) ** 2))
        d += HILUM_D * blob * lungs * (1.0 - opacity)
    # gastric bubble under the left hemidiaphragm
    bubble = np.clip(1.0 - np.hypot((xx - 0.655) / 0.05, (yy - 0.79) / 0.028), 0.0, 1.0) ** 0.5
    d -= GASTRIC_D * bubble * (1.0 - anat.lung_l)
    # heel effect, noise and detector blur
    d *= 1.0 + 0.03 * (yy - 0.5)
    noise = ndimage.gaussian_filter(rng.standard_normal((s, s)), 0.7) * 2.2
    d += NOISE_D * noise * np.exp(np.clip(d - 2.0, -2.0, 2.0) / 2.0)
    return ndimage.gaussian_filter(d, DETECTOR_BLUR_PX)


def generate_chest_phantom(params: ChestPhantomParams) -> Image.Image:
    """Render a deterministic 8-bit PA chest radiograph phantom."""
    img = _display(_attenuation(params))
    out = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    _draw_ruler(out, params)
    return Image.fromarray(out, mode="L")

"""Seeded procedural colour fundus photographs (posterior pole, 45-degree field).

Convention: the photo is shown as the examiner sees the fundus, so the optic
disc lies on the NASAL side: on the image RIGHT for a right eye and on the image
LEFT for a left eye, with the fovea about 2.5 disc diameters temporal to it and
slightly below the disc centre. Anatomy is laid out in fractions of
``size_px``; the circular field has radius ``FIELD_RADIUS_FRACTION * size_px``
on black.

Ground truth that is exact by construction:

* the vertical cup diameter is ``cup_to_disc`` x the vertical disc diameter;
* every lesion count is exact: lesions are placed apart from each other, from
  the disc and from the larger vessels, so each is a separate spot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

from scenarios.generators.noise import smooth_noise as _smooth_noise

__all__ = [
    "FIELD_RADIUS_FRACTION",
    "FundusPhantomParams",
    "FundusLayout",
    "fundus_layout",
    "generate_fundus_phantom",
]

#: Radius of the circular field of view (fraction of size).
FIELD_RADIUS_FRACTION = 0.47
#: Disc centre offset from the image centre (fractions of size, nasal positive).
DISC_OFFSET = (0.205, -0.01)
#: Fovea offset from the image centre (temporal negative).
FOVEA_OFFSET = (-0.095, 0.02)
#: Vertical and horizontal disc diameters (fractions of size).
DISC_VERTICAL_FRACTION = 0.118
DISC_HORIZONTAL_FRACTION = 0.106
#: Swollen discs are this much larger and their margin ramps over this width.
SWELLING_SCALE = 1.15
SWELLING_EDGE_FRACTION = 0.04
NORMAL_EDGE_PX = 1.2
#: Background RGB per pigmentation, and choroidal texture amplitude.
BACKGROUND_RGB: dict[str, tuple[float, float, float]] = {
    "light": (226.0, 118.0, 62.0),
    "medium": (204.0, 84.0, 42.0),
    "dark": (160.0, 62.0, 34.0),
}
CHOROID_TEXTURE: dict[str, float] = {"light": 0.09, "medium": 0.05, "dark": 0.025}
#: Disc rim and cup colours (RGB).
DISC_RIM_RGB = (250.0, 188.0, 128.0)
DISC_CUP_RGB = (255.0, 236.0, 198.0)
SWOLLEN_DISC_RGB = (246.0, 150.0, 104.0)
#: Vessel transmittance (RGB multipliers) for veins and arteries.
VEIN_RGB = (0.72, 0.38, 0.42)
ARTERY_RGB = (0.90, 0.62, 0.64)
VEIN_WIDTH_FRACTION = 0.0095
ARTERY_WIDTH_FRACTION = 0.0072
VESSEL_MIN_WIDTH_PX = 1.0
#: Lesion appearance.
HAEMORRHAGE_RGB = (0.68, 0.34, 0.42)
MICROANEURYSM_RGB = (0.68, 0.38, 0.50)
EXUDATE_RGB = (252.0, 232.0, 120.0)
DRUSEN_RGB = (240.0, 204.0, 132.0)
COTTON_WOOL_RGB = (236.0, 222.0, 205.0)
DRUSEN_ALPHA = 0.75
#: Lesion sizes (diameters, fractions of size).
MA_DIAMETER = (0.0045, 0.0065)
DOT_HAEM_DIAMETER = (0.012, 0.024)
FLAME_HAEM_SIZE = ((0.026, 0.040), (0.008, 0.012))  # length, width
EXUDATE_DIAMETER = (0.005, 0.011)
DRUSEN_DIAMETER = (0.008, 0.015)
COTTON_WOOL_DIAMETER = (0.024, 0.038)
#: Minimum clear gap between lesion outlines (px) and from large vessels.
LESION_GAP_PX = 4.0
#: Pixel noise std (0..255) and final blur.
NOISE_STD = 1.6
OPTICAL_BLUR_PX = 0.6


class FundusPhantomParams(BaseModel):
    """Parameters (and exact ground truth) of one synthetic fundus photograph."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int
    size_px: int = Field(default=768, ge=256, le=4096)
    eye: Literal["right", "left"] = "right"
    cup_to_disc: float = Field(default=0.3, ge=0.1, le=0.95)
    haemorrhages: int = Field(default=0, ge=0, le=40)
    exudates: int = Field(default=0, ge=0, le=60)
    microaneurysms: int = Field(default=0, ge=0, le=60)
    cotton_wool_spots: int = Field(default=0, ge=0, le=10)
    drusen: int = Field(default=0, ge=0, le=80)
    disc_swelling: bool = False
    pigmentation: Literal["light", "medium", "dark"] = "medium"


@dataclass(frozen=True)
class FundusLayout:
    """Pixel geometry of one phantom (exposed for tests and scenario authors)."""

    centre: tuple[float, float]
    field_radius: float
    disc_centre: tuple[float, float]
    disc_radii: tuple[float, float]  # (horizontal, vertical) semi-axes
    cup_centre: tuple[float, float]
    cup_radii: tuple[float, float]
    fovea: tuple[float, float]


def fundus_layout(params: FundusPhantomParams) -> FundusLayout:
    """Where the field, disc, cup and fovea are for these parameters."""
    s = params.size_px
    nasal = 1.0 if params.eye == "right" else -1.0
    c = (s / 2.0, s / 2.0)
    disc = (c[0] + nasal * DISC_OFFSET[0] * s, c[1] + DISC_OFFSET[1] * s)
    scale = SWELLING_SCALE if params.disc_swelling else 1.0
    rx, ry = DISC_HORIZONTAL_FRACTION * s / 2 * scale, DISC_VERTICAL_FRACTION * s / 2 * scale
    cdr = params.cup_to_disc
    cup_ry = cdr * ry
    cup_rx = min(rx * 0.97, cup_ry * 0.92)
    shift = -nasal * 0.5 * (rx - cup_rx) * 0.6  # cups sit slightly temporal
    cup = (disc[0] + shift, disc[1])
    fovea = (c[0] + nasal * FOVEA_OFFSET[0] * s, c[1] + FOVEA_OFFSET[1] * s)
    return FundusLayout(c, FIELD_RADIUS_FRACTION * s, disc, (rx, ry), cup, (cup_rx, cup_ry), fovea)


# ------------------------------------------------------------------ helpers


def _ellipse_alpha(
    xx: np.ndarray, yy: np.ndarray, centre: tuple[float, float], radii: tuple[float, float], edge: float
) -> np.ndarray:
    """Soft ellipse coverage with a linear ramp ``edge`` px wide."""
    rx, ry = radii
    rho = np.hypot((xx - centre[0]) / rx, (yy - centre[1]) / ry)
    dist = (rho - 1.0) * min(rx, ry)  # approx. signed distance to the outline (px)
    return np.clip(0.5 - dist / max(edge, 1e-6), 0.0, 1.0)


def _blend(img: np.ndarray, alpha: np.ndarray, rgb: tuple[float, float, float]) -> None:
    img *= 1.0 - alpha[..., None]
    img += alpha[..., None] * np.asarray(rgb)[None, None, :]


def _tint(img: np.ndarray, alpha: np.ndarray, ratio: tuple[float, float, float]) -> None:
    img *= 1.0 - alpha[..., None] * (1.0 - np.asarray(ratio))[None, None, :]


# ------------------------------------------------------------------- vessels


@dataclass
class _Vessel:
    points: list[tuple[float, float]]
    widths: list[float]


def _wrap(a: float) -> float:
    return math.atan2(math.sin(a), math.cos(a))


def _trace(
    rng: np.random.Generator,
    start: tuple[float, float],
    angle: float,
    width: float,
    layout: FundusLayout,
    guide: list[tuple[float, float]] | None,
    out: list[_Vessel],
    depth: int = 0,
) -> None:
    """Trace one vessel (following ``guide`` points if given) with side branches.

    Free vessels drift away from the disc and are pushed around the fovea; all
    taper, and each side branch takes some calibre from its parent.
    """
    x, y = start
    pts = [(x, y)]
    widths = [width]
    fx, fy = layout.fovea
    dx, dy = layout.disc_centre
    r_field = layout.field_radius
    cx, cy = layout.centre
    step = 3.0
    w = width
    idx = 0
    for _ in range(3000):
        if w < VESSEL_MIN_WIDTH_PX:
            break
        if guide is not None and idx < len(guide):
            gx, gy = guide[idx]
            if math.hypot(gx - x, gy - y) < 14.0:
                idx += 1
                continue
            angle += 0.22 * _wrap(math.atan2(gy - y, gx - x) - angle)
        else:
            angle += 0.015 * _wrap(math.atan2(y - dy, x - dx) - angle)
            if math.hypot(x - fx, y - fy) < 0.25 * r_field:
                angle += 0.06 * _wrap(math.atan2(y - fy, x - fx) - angle)
        angle += rng.normal(0.0, 0.045)
        x += step * math.cos(angle)
        y += step * math.sin(angle)
        if math.hypot(x - cx, y - cy) > r_field + 4 or math.hypot(x - fx, y - fy) < 0.06 * r_field:
            break
        pts.append((x, y))
        widths.append(w)
        w *= 0.9978 if guide is not None else 0.996
        if depth < 3 and rng.random() < (0.016 if depth == 0 else 0.01):
            branch_w = w * rng.uniform(0.5, 0.75)
            if branch_w >= VESSEL_MIN_WIDTH_PX * 1.5:
                turn = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 0.95)
                _trace(rng, (x, y), angle + turn, branch_w, layout, None, out, depth + 1)
                w *= 0.93
    out.append(_Vessel(pts, widths))


#: Temporal arcade guide, relative to the disc centre in fractions of size
#: (x towards the temporal side, y towards the superior/inferior side).
_ARCADE: tuple[tuple[float, float], ...] = (
    (0.01, 0.06),
    (0.05, 0.12),
    (0.11, 0.165),
    (0.19, 0.19),
    (0.28, 0.19),
    (0.37, 0.165),
    (0.46, 0.13),
    (0.56, 0.09),
)


def _vessel_trees(rng: np.random.Generator, layout: FundusLayout, nasal: float) -> dict[str, list[_Vessel]]:
    """Arteries and veins leaving the disc: two temporal arcades, nasal and small branches."""
    s = 2 * layout.centre[0]
    trees: dict[str, list[_Vessel]] = {"vein": [], "artery": []}
    dx, dy = layout.disc_centre
    temporal = -nasal
    for kind, base_w, spread in (("vein", VEIN_WIDTH_FRACTION * s, 1.0), ("artery", ARTERY_WIDTH_FRACTION * s, 0.86)):
        out = trees[kind]
        for up in (-1.0, 1.0):  # -1: superior (image up), +1: inferior
            jitter = rng.normal(0.0, 0.008, size=(len(_ARCADE), 2))
            guide = [
                (dx + temporal * (gx * s * spread + jx * s), dy + up * (gy * s * spread + jy * s))
                for (gx, gy), (jx, jy) in zip(_ARCADE, jitter, strict=True)
            ]
            _trace(rng, (dx, dy), math.atan2(up, temporal * 0.2), base_w, layout, guide, out)
            ang_n = math.atan2(up * rng.uniform(0.6, 1.2), nasal * 1.0)
            _trace(rng, (dx, dy), ang_n, base_w * 0.75, layout, None, out)
        for ang in (math.atan2(rng.normal(0, 0.2), nasal), math.atan2(rng.normal(0, 0.3), temporal)):
            _trace(rng, (dx, dy), ang, base_w * 0.45, layout, None, out)
    return trees


def _render_vessels(vessels: list[_Vessel], size: int, ss: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(coverage 0..1, central reflex 0..1) of a vessel family."""
    canvas = Image.new("L", (size * ss, size * ss), 0)
    reflex = Image.new("L", (size * ss, size * ss), 0)
    draw = ImageDraw.Draw(canvas)
    rdraw = ImageDraw.Draw(reflex)
    for v in vessels:
        for (x0, y0), (x1, y1), w in zip(v.points[:-1], v.points[1:], v.widths[1:], strict=True):
            seg = [(x0 * ss, y0 * ss), (x1 * ss, y1 * ss)]
            draw.line(seg, fill=255, width=max(1, round(w * ss)))
            if w >= 3.0:
                rdraw.line(seg, fill=255, width=max(1, round(w * ss * 0.25)))
    cov = np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.float64) / 255.0
    ref = np.asarray(reflex.resize((size, size), Image.Resampling.BOX), dtype=np.float64) / 255.0
    return ndimage.gaussian_filter(cov, 0.6), ndimage.gaussian_filter(ref, 0.5)


# -------------------------------------------------------------------- lesions


@dataclass
class _Spot:
    x: float
    y: float
    radius: float


def _place(
    rng: np.random.Generator,
    count: int,
    radius_range: tuple[float, float],
    region: tuple[tuple[float, float], float, float],
    taken: list[_Spot],
    keep_out: np.ndarray,
    layout: FundusLayout,
) -> list[_Spot]:
    """Rejection-sample ``count`` separate spots in an annulus ((cx, cy), r_in, r_out)."""
    (cx, cy), r_in, r_out = region
    placed: list[_Spot] = []
    attempts = 0
    h, w = keep_out.shape
    while len(placed) < count:
        attempts += 1
        if attempts > 20000:
            raise ValueError("could not place all lesions apart; lower the counts or raise size_px")
        grow = 1.0 + attempts / 4000.0  # widen the region if it is crowded
        r = math.sqrt(rng.uniform(r_in**2, (r_out * grow) ** 2))
        a = rng.uniform(0.0, 2 * math.pi)
        x, y = cx + r * math.cos(a), cy + r * math.sin(a)
        rad = rng.uniform(*radius_range)
        if math.hypot(x - layout.centre[0], y - layout.centre[1]) > layout.field_radius * 0.9 - rad:
            continue
        dxd = (x - layout.disc_centre[0]) / layout.disc_radii[0]
        dyd = (y - layout.disc_centre[1]) / layout.disc_radii[1]
        if math.hypot(dxd, dyd) < 1.35 + rad / layout.disc_radii[0]:
            continue
        ix, iy = int(round(x)), int(round(y))
        m = int(rad + LESION_GAP_PX)
        if not (m <= ix < w - m and m <= iy < h - m) or keep_out[iy - m : iy + m + 1, ix - m : ix + m + 1].any():
            continue
        if any(math.hypot(x - o.x, y - o.y) < rad + o.radius + LESION_GAP_PX for o in taken + placed):
            continue
        placed.append(_Spot(x, y, rad))
    return placed


def _disc_alpha(
    xx: np.ndarray, yy: np.ndarray, layout: FundusLayout, swollen: bool, rng: np.random.Generator
) -> np.ndarray:
    edge = SWELLING_EDGE_FRACTION * 2 * layout.centre[0] if swollen else NORMAL_EDGE_PX
    alpha = _ellipse_alpha(xx, yy, layout.disc_centre, layout.disc_radii, edge)
    if swollen:
        # feathered, striated margin
        ang = np.arctan2(yy - layout.disc_centre[1], xx - layout.disc_centre[0])
        stripes = 0.5 + 0.5 * np.sin(ang * 37.0 + 2.0 * np.sin(ang * 5.0 + rng.uniform(0, 6)))
        halo = _ellipse_alpha(
            xx, yy, layout.disc_centre, (layout.disc_radii[0] * 1.35, layout.disc_radii[1] * 1.35), edge
        )
        alpha = np.maximum(alpha, 0.35 * halo * stripes)
    return alpha


def generate_fundus_phantom(params: FundusPhantomParams) -> Image.Image:
    """Render a deterministic RGB fundus photograph phantom."""
    s = params.size_px
    layout = fundus_layout(params)
    nasal = 1.0 if params.eye == "right" else -1.0
    rng_bg = np.random.default_rng([params.seed, 1])
    rng_v = np.random.default_rng([params.seed, 2])
    rng_l = np.random.default_rng([params.seed, 3])
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float64)
    cx, cy = layout.centre
    r_norm = np.hypot(xx - cx, yy - cy) / layout.field_radius

    # background: colour, vignetting, illumination gradient, choroidal texture
    base = np.asarray(BACKGROUND_RGB[params.pigmentation])
    vignette = np.clip(1.0 - 0.42 * r_norm**2.6, 0.0, 1.0)
    tilt = rng_bg.uniform(0, 2 * math.pi)
    gradient = 1.0 + 0.06 * ((xx - cx) * math.cos(tilt) + (yy - cy) * math.sin(tilt)) / layout.field_radius
    amp = CHOROID_TEXTURE[params.pigmentation]
    ridges = (1.0 - np.abs(np.tanh(_smooth_noise(rng_bg, (s, s), 0.012 * s)))) ** 3
    choroid = ridges - float(ridges.mean())
    blotch = _smooth_noise(rng_bg, (s, s), 0.05 * s)
    texture = 1.0 + amp * choroid + 0.03 * blotch + 0.012 * _smooth_noise(rng_bg, (s, s), 0.003 * s)
    light = vignette * gradient
    img = base[None, None, :] * (light * texture)[..., None]
    img[..., 2] *= 1.0 + 0.5 * amp * choroid  # texture is mostly orange/red
    # macula and fovea: darker, less saturated
    fx, fy = layout.fovea
    rf = np.hypot(xx - fx, yy - fy)
    macula = np.exp(-((rf / (0.075 * s)) ** 2))
    fovea = np.exp(-((rf / (0.018 * s)) ** 2))
    _tint(img, 0.75 * macula, (0.8, 0.66, 0.75))
    _tint(img, 0.7 * fovea, (0.75, 0.6, 0.7))
    reflex = np.exp(-((rf / 1.6) ** 2))
    img += 50.0 * reflex[..., None] * np.array([0.8, 1.0, 1.0])

    # optic disc with cup
    disc = _disc_alpha(xx, yy, layout, params.disc_swelling, rng_bg)
    rim_rgb = SWOLLEN_DISC_RGB if params.disc_swelling else DISC_RIM_RGB
    disc_shade = 1.0 - 0.06 * np.clip((xx - layout.disc_centre[0]) * -nasal / layout.disc_radii[0], -1, 1)
    _blend(img, disc * 0.95, rim_rgb)
    img *= (1.0 - 0.2 * disc + 0.2 * disc * disc_shade)[..., None]
    cup_edge = 0.25 * layout.cup_radii[1]
    cup = _ellipse_alpha(xx, yy, layout.cup_centre, layout.cup_radii, cup_edge)
    cup_strength = 0.35 if params.disc_swelling else 0.92
    _blend(img, cup * cup_strength, DISC_CUP_RGB)
    # thin peripapillary pigment crescent on the temporal side
    if not params.disc_swelling:
        ring = _ellipse_alpha(xx, yy, layout.disc_centre, (layout.disc_radii[0] + 3, layout.disc_radii[1] + 3), 1.5)
        ring = ring * (1.0 - disc)
        crescent = np.clip(-nasal * (xx - layout.disc_centre[0]) / layout.disc_radii[0], 0.0, 1.0)
        _tint(img, 0.45 * ring * crescent, (0.7, 0.65, 0.7))

    # vessels
    trees = _vessel_trees(rng_v, layout, nasal)
    vein, vein_reflex = _render_vessels(trees["vein"], s)
    artery, art_reflex = _render_vessels(trees["artery"], s)
    if params.disc_swelling:
        rho = np.hypot(
            (xx - layout.disc_centre[0]) / layout.disc_radii[0], (yy - layout.disc_centre[1]) / layout.disc_radii[1]
        )
        obscured = 1.0 - 0.85 * np.exp(-(((rho - 1.0) / 0.3) ** 2))
        vein = vein * obscured
        artery = artery * obscured
    _tint(img, vein, VEIN_RGB)
    _tint(img, artery, ARTERY_RGB)
    img += 22.0 * (art_reflex * artery)[..., None] + 10.0 * (vein_reflex * vein)[..., None]

    # lesions (kept apart from big vessels and each other)
    keep_out = ndimage.binary_dilation(np.maximum(vein, artery) > 0.3, iterations=2)
    posterior = (layout.fovea, 0.0, 0.36 * s)
    taken: list[_Spot] = []
    unit = float(s)

    def radii(rng_range: tuple[float, float]) -> tuple[float, float]:
        return rng_range[0] * unit / 2, rng_range[1] * unit / 2

    drusen = _place(
        rng_l, params.drusen, radii(DRUSEN_DIAMETER), (layout.fovea, 0.02 * s, 0.13 * s), taken, keep_out, layout
    )
    taken += drusen
    exudate_centres = [
        (fx + 0.1 * s * math.cos(a), fy + 0.1 * s * math.sin(a)) for a in rng_l.uniform(0, 2 * math.pi, 2)
    ]
    exudates: list[_Spot] = []
    for i, centre in enumerate(exudate_centres):
        n = params.exudates // 2 + (params.exudates % 2 if i == 0 else 0)
        got = _place(rng_l, n, radii(EXUDATE_DIAMETER), (centre, 0.0, 0.07 * s), taken + exudates, keep_out, layout)
        exudates += got
    taken += exudates
    cws = _place(
        rng_l,
        params.cotton_wool_spots,
        radii(COTTON_WOOL_DIAMETER),
        (layout.disc_centre, 0.1 * s, 0.3 * s),
        taken,
        keep_out,
        layout,
    )
    taken += cws
    n_flame = params.haemorrhages * 2 // 5
    flames = _place(
        rng_l,
        n_flame,
        (FLAME_HAEM_SIZE[0][1] * s / 2, FLAME_HAEM_SIZE[0][1] * s / 2),
        (layout.disc_centre, 0.1 * s, 0.25 * s),
        taken,
        keep_out,
        layout,
    )
    taken += flames
    dots = _place(rng_l, params.haemorrhages - n_flame, radii(DOT_HAEM_DIAMETER), posterior, taken, keep_out, layout)
    taken += dots
    mas = _place(
        rng_l, params.microaneurysms, radii(MA_DIAMETER), (layout.fovea, 0.03 * s, 0.3 * s), taken, keep_out, layout
    )

    red = np.zeros((s, s))
    ma_map = np.zeros((s, s))
    yel = np.zeros((s, s))
    dru = np.zeros((s, s))
    cw = np.zeros((s, s))

    def stamp(spot: _Spot, pad: float = 3.0) -> tuple[slice, slice, np.ndarray, np.ndarray]:
        """Window around a spot and pixel offsets from its centre."""
        m = int(spot.radius * pad) + 2
        y0, y1 = max(0, int(spot.y) - m), min(s, int(spot.y) + m + 1)
        x0, x1 = max(0, int(spot.x) - m), min(s, int(spot.x) + m + 1)
        return slice(y0, y1), slice(x0, x1), xx[y0:y1, x0:x1] - spot.x, yy[y0:y1, x0:x1] - spot.y

    for spot in dots:
        sy, sx, dx, dy = stamp(spot)
        ang = np.arctan2(dy, dx)
        wobble = 1.0 + 0.12 * np.sin(2 * ang + rng_l.uniform(0, 6)) + 0.05 * np.sin(5 * ang + rng_l.uniform(0, 6))
        rho = np.hypot(dx, dy) / (spot.radius * wobble)
        red[sy, sx] = np.maximum(
            red[sy, sx], np.clip((1.0 - rho) * spot.radius / 1.2 + 0.5, 0, 1) * rng_l.uniform(0.85, 1.0)
        )
    for spot in flames:
        sy, sx, dx, dy = stamp(spot, pad=4.0)
        length = rng_l.uniform(*FLAME_HAEM_SIZE[0]) * s / 2
        width = rng_l.uniform(*FLAME_HAEM_SIZE[1]) * s / 2
        radial = math.atan2(spot.y - layout.disc_centre[1], spot.x - layout.disc_centre[0])
        ca, sa = math.cos(radial), math.sin(radial)
        u = (dx * ca + dy * sa) / length
        v = (-dx * sa + dy * ca) / (width * (1.0 - 0.5 * np.clip(u, -1, 1)))
        rho = np.hypot(u, v)
        feather = np.clip((1.0 - rho) * 3.0, 0, 1) * (0.75 + 0.25 * np.sin(v * 6.0))
        red[sy, sx] = np.maximum(red[sy, sx], feather)
    for spot in mas:
        sy, sx, dx, dy = stamp(spot)
        rho = np.hypot(dx, dy)
        ma_map[sy, sx] = np.maximum(ma_map[sy, sx], np.clip(spot.radius - rho + 0.5, 0, 1))
    for spot in exudates:
        sy, sx, dx, dy = stamp(spot)
        ang = np.arctan2(dy, dx)
        wobble = 1.0 + 0.1 * np.sin(2 * ang + rng_l.uniform(0, 6))
        rho = np.hypot(dx, dy) / wobble
        yel[sy, sx] = np.maximum(yel[sy, sx], np.clip(spot.radius - rho + 0.5, 0, 1))
    for spot in drusen:
        sy, sx, dx, dy = stamp(spot)
        rho = np.hypot(dx, dy) / spot.radius
        dru[sy, sx] = np.maximum(dru[sy, sx], np.exp(-(rho**2) * 1.6))
    for spot in cws:
        sy, sx, dx, dy = stamp(spot)
        ang = np.arctan2(dy, dx)
        wobble = 1.0 + 0.2 * np.sin(2 * ang + rng_l.uniform(0, 6)) + 0.1 * np.sin(5 * ang + rng_l.uniform(0, 6))
        rho = np.hypot(dx, dy) / (spot.radius * wobble)
        cw[sy, sx] = np.maximum(cw[sy, sx], np.clip(1.0 - rho**2, 0, 1) ** 0.7)
    _tint(img, ndimage.gaussian_filter(red, 0.7), HAEMORRHAGE_RGB)
    _tint(img, ma_map, MICROANEURYSM_RGB)
    _blend(img, DRUSEN_ALPHA * dru, DRUSEN_RGB)
    _blend(img, 0.85 * ndimage.gaussian_filter(yel, 0.5), EXUDATE_RGB)
    _blend(img, 0.6 * ndimage.gaussian_filter(cw, 1.5), COTTON_WOOL_RGB)

    # optics, noise and the circular field stop
    img = np.stack([ndimage.gaussian_filter(img[..., c], OPTICAL_BLUR_PX) for c in range(3)], axis=-1)
    img += NOISE_STD * rng_bg.standard_normal(img.shape)
    field = np.clip((1.0 - r_norm) * layout.field_radius / 1.5 + 0.5, 0.0, 1.0)
    img *= field[..., None]
    return Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), mode="RGB")

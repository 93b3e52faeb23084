"""Pixel-only image analysis for the reference/pixel baseline model.

Everything here looks at pixels only (numpy + scipy.ndimage); it never sees
generator parameters or other ground truth.

* :func:`classify_image` - skin photo vs radiograph vs unknown.
* :func:`analyse_skin` - scale bar, lesion segmentation, ABCD-style features.
* :func:`compare_skin` - change between a prior and a current lesion.
* :func:`analyse_radiograph` - rough lung fields and round-opacity detection.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw
from pydantic import BaseModel
from scipy import ndimage as ndi

__all__ = [
    "ImageKind",
    "SkinFeatures",
    "SkinChange",
    "Nodule",
    "RadiographFeatures",
    "classify_image",
    "analyse_skin",
    "compare_skin",
    "analyse_radiograph",
]

ImageKind = Literal["skin_photo", "radiograph", "unknown"]

# ------------------------------------------------------------ classification
#: Pixel saturation ((max-min)/max) above which a pixel counts as coloured.
COLOURED_PIXEL_SATURATION = 0.10
#: Mean saturation below which an image is treated as grayscale.
GRAYSCALE_MAX_MEAN_SATURATION = 0.03
#: Minimum fraction of coloured pixels for a skin photo.
SKIN_MIN_COLOURED_FRACTION = 0.5
#: Minimum fraction of coloured pixels with a warm (R >= G >= B-ish) hue.
SKIN_MIN_WARM_FRACTION = 0.7
#: Minimum grayscale intensity std (0..1) for a radiograph.
RADIOGRAPH_MIN_STD = 0.06

# --------------------------------------------------------------------- skin
#: Physical length of the scale bar expected in the label strip.
SCALE_BAR_MM = 5.0
#: A label-strip row has at least this fraction of achromatic pixels.
LABEL_ROW_ACHROMATIC_FRACTION = 0.97
#: Saturation below which a pixel counts as achromatic (label strip).
ACHROMATIC_SATURATION = 0.06
#: Luminance (0..1) below which label-strip pixels count as dark ink.
SCALE_BAR_MAX_LUMINANCE = 0.35
#: Minimum width/height ratio and width (px) of the scale bar component.
SCALE_BAR_MIN_ASPECT = 5.0
SCALE_BAR_MIN_WIDTH_PX = 10
#: Lowest summed optical density accepted as lesion boundary threshold.
LESION_MIN_DENSITY_THRESHOLD = 0.35
#: Boundary threshold sits this far from skin towards the lightest lesion part.
LESION_THRESHOLD_FRACTION = 0.5
#: Growth threshold: skin median + this many robust skin-noise sigmas.
LESION_NOISE_SIGMAS = 6.0
#: Radius (px) of the opening that removes hairs and pores.
HAIR_OPENING_RADIUS_PX = 3
#: Minimum lesion area (px) to report a lesion.
LESION_MIN_AREA_PX = 30
#: The outline's radius profile r(theta) is split at this harmonic: lower
#: harmonics are "shape" (used for asymmetry), higher ones are "border".
OUTLINE_LOWPASS_HARMONIC = 4
#: Raw mirror mismatch (fraction of area) mapped to asymmetry 0 and 1.
ASYMMETRY_RAW_FLOOR = 0.005
ASYMMETRY_RAW_FULL = 0.105
#: Raw border roughness (rms of high-harmonic radius / mean radius) mapped to 0 and 1.
BORDER_RAW_FLOOR = 0.005
BORDER_RAW_FULL = 0.075
#: k-means clusters used for colour counting, and the minimum area share
#: (of the eroded lesion) for a named colour to be counted.
COLOUR_CLUSTERS = 6
MIN_COLOUR_FRACTION = 0.08
KMEANS_MAX_SAMPLES = 4000
#: Weight of the hue direction relative to log density in colour clustering.
COLOUR_HUE_WEIGHT = 3.0
#: Colour regions thinner than this (fraction of lesion radius) are blends.
COLOUR_MIN_THICKNESS = 0.05
#: Colour naming thresholds on optical density relative to skin.
BLACK_MIN_DENSITY = 4.0
DARK_BROWN_MIN_DENSITY = 2.2
BLUE_MIN_RED_MINUS_BLUE = 0.05
RED_MAX_RED_DENSITY = 0.3
RED_MIN_GREEN_MINUS_RED = 0.3
#: Relative diameter growth above which a lesion is said to have grown.
GROWTH_THRESHOLD = 0.10

# ---------------------------------------------------------------- radiograph
#: Longest side of the working copy used for radiograph analysis.
RADIOGRAPH_WORK_SIDE = 512
#: LoG scales (px at working resolution).
NODULE_SIGMAS: tuple[float, ...] = (7.0, 10.0, 14.0, 19.0)
#: Minimum scale-normalised LoG response (image normalised to lung range).
NODULE_MIN_RESPONSE = 0.11
#: Minimum Hessian eigenvalue ratio (1 = perfectly round, 0 = ridge).
NODULE_MIN_ROUNDNESS = 0.3
#: Minimum mean(disk) - mean(ring) contrast in the normalised image.
NODULE_MIN_CONTRAST = 0.10
#: Minimum fraction of the surrounding ring that lies in the lung field.
NODULE_MIN_RING_IN_LUNG = 0.6
#: Hilar exclusion: medial fraction of lung width, and vertical band (of lung height).
HILAR_MEDIAL_FRACTION = 0.3
HILAR_BAND: tuple[float, float] = (0.3, 0.75)
#: Detections this close (fraction of lung width) to the mediastinum are dropped.
MEDIASTINAL_MARGIN_FRACTION = 0.15
#: Lung seed components must cover this fraction of the image.
LUNG_MIN_AREA_FRACTION = 0.02
#: Growth threshold: Otsu + this fraction of (p90 - Otsu).
LUNG_GROW_FRACTION = 0.35
#: Downward growth allowance as a fraction of seed height.
LUNG_GROW_DOWN = 0.25


# ================================================================== models


class SkinFeatures(BaseModel):
    """Pixel measurements of one skin-lesion photo (mm fields need a scale bar)."""

    lesion_found: bool
    scale_bar_found: bool
    px_per_mm: float | None
    diameter_px: float
    diameter_mm: float | None
    area_px: int
    area_mm2: float | None
    perimeter_px: float
    asymmetry: float
    border_irregularity: float
    compactness: float
    n_colours: int
    colour_names: list[str]
    colour_fractions: dict[str, float]
    centroid_xy: tuple[float, float] | None
    photo_height_px: int


class SkinChange(BaseModel):
    """Change from a prior to a current lesion."""

    diameter_change_mm: float | None
    diameter_change_px: float
    relative_growth: float
    grew: bool
    area_change_mm2: float | None
    asymmetry_change: float
    border_irregularity_change: float
    new_colours: list[str]
    lost_colours: list[str]


class Nodule(BaseModel):
    """One round opacity; coordinates/sizes in input-image pixels."""

    x: float
    y: float
    diameter_px: float
    side: Literal["right", "left"]
    zone: Literal["upper", "mid", "lower"]
    score: float
    contrast: float


class RadiographFeatures(BaseModel):
    """Pixel measurements of a (chest) radiograph.

    ``side`` follows the PA convention: image left is the patient's right.
    """

    width: int
    height: int
    mean_intensity: float
    std_intensity: float
    lung_field_found: bool
    lung_area_fraction: float
    n_nodules: int
    nodules: list[Nodule]
    n_right: int
    n_left: int
    bilateral: bool


# ================================================================= helpers


def _rgb_float(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.float64) / 255.0


def _saturation(rgb: np.ndarray) -> np.ndarray:
    mx = rgb.max(axis=-1)
    return (mx - rgb.min(axis=-1)) / np.maximum(mx, 1e-6)


def _otsu(values: np.ndarray, bins: int = 256) -> float:
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2.0
    w0 = np.cumsum(hist).astype(np.float64)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres)
    with np.errstate(invalid="ignore", divide="ignore"):
        between = (m0[-1] * w0 / w0[-1] - m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = -1.0
    return float(centres[int(np.argmax(between))])


def _erode(mask: np.ndarray, radius: float) -> np.ndarray:
    """Erode by a Euclidean disk (computed on the bounding box only)."""
    out = np.zeros_like(mask)
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return out
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = np.pad(mask[y0:y1, x0:x1], 1)
    out[y0:y1, x0:x1] = (ndi.distance_transform_edt(crop) > radius)[1:-1, 1:-1]
    return out


def _open(mask: np.ndarray, radius: float) -> np.ndarray:
    """Morphological opening with a Euclidean disk (via distance transforms)."""
    eroded = ndi.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1] > radius
    if not eroded.any():
        return eroded
    return ndi.distance_transform_edt(~eroded) <= radius


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill background regions that do not touch the image border."""
    labels, _ = ndi.label(~mask)
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return mask | ~np.isin(labels, edge)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    labels, n = ndi.label(mask)
    if n == 0:
        return mask
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _convex_hull(points: np.ndarray) -> np.ndarray:
    """Monotone-chain convex hull of (N, 2) points, counter-clockwise."""
    pts = np.unique(points, axis=0)
    if len(pts) < 3:
        return pts.astype(np.float64)

    def half(seq: np.ndarray) -> list[np.ndarray]:
        chain: list[np.ndarray] = []
        for p in seq:
            while len(chain) >= 2:
                o, a = chain[-2], chain[-1]
                if (a[0] - o[0]) * (p[1] - o[1]) - (a[1] - o[1]) * (p[0] - o[0]) > 0:
                    break
                chain.pop()
            chain.append(p)
        return chain

    lower = half(pts)
    upper = half(pts[::-1])
    return np.asarray(lower[:-1] + upper[:-1], dtype=np.float64)


def _polygon_mask(poly: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Rasterise a convex counter-clockwise (x, y) polygon."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    mask = np.ones(shape, dtype=bool)
    for (x0, y0), (x1, y1) in zip(poly, np.roll(poly, -1, axis=0), strict=True):
        mask &= (x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0) >= -0.5
    return mask


def _boundary_points(mask: np.ndarray) -> np.ndarray:
    edge = mask & ~ndi.binary_erosion(mask)
    ys, xs = np.nonzero(edge)
    return np.stack([xs, ys], axis=1)


def _crofton_perimeter(mask: np.ndarray) -> float:
    """Perimeter from boundary crossings in 4 directions (Cauchy-Crofton)."""
    m = np.pad(mask, 1).astype(np.int8)
    n_h = np.count_nonzero(np.diff(m, axis=1))
    n_v = np.count_nonzero(np.diff(m, axis=0))
    n_d1 = np.count_nonzero(m[1:, 1:] != m[:-1, :-1])
    n_d2 = np.count_nonzero(m[1:, :-1] != m[:-1, 1:])
    return math.pi / 8.0 * (n_h + n_v + (n_d1 + n_d2) / math.sqrt(2.0))


def _unit_scale(value: float, floor: float, full: float) -> float:
    return float(np.clip((value - floor) / (full - floor), 0.0, 1.0))


def _max_feret(hull: np.ndarray) -> float:
    if len(hull) < 2:
        return 0.0
    d2 = np.sum((hull[:, None, :] - hull[None, :, :]) ** 2, axis=-1)
    return float(math.sqrt(d2.max()))


# ========================================================== classification


def classify_image(img: Image.Image) -> ImageKind:
    """Tell a colour skin photo from a grayscale radiograph by saturation."""
    if img.mode in ("L", "I", "I;16", "F", "1", "LA"):
        gray = np.asarray(img.convert("F"), dtype=np.float64)
        span = float(gray.max() - gray.min()) or 1.0
        return "radiograph" if float(gray.std()) / span >= RADIOGRAPH_MIN_STD else "unknown"
    rgb = _rgb_float(img)
    sat = _saturation(rgb)
    valid = rgb.max(axis=-1) > 0.08
    if not valid.any():
        return "unknown"
    if float(sat[valid].mean()) < GRAYSCALE_MAX_MEAN_SATURATION:
        lum = rgb.mean(axis=-1)
        return "radiograph" if float(lum.std()) >= RADIOGRAPH_MIN_STD else "unknown"
    coloured = (sat > COLOURED_PIXEL_SATURATION) & valid
    if coloured.mean() < SKIN_MIN_COLOURED_FRACTION * valid.mean():
        return "unknown"
    r, g, b = (rgb[..., i][coloured] for i in range(3))
    warm = (r >= g) & (r > b + 0.03) & (g >= b - 0.03)
    return "skin_photo" if float(warm.mean()) >= SKIN_MIN_WARM_FRACTION else "unknown"


# ==================================================================== skin


def _label_strip_top(rgb: np.ndarray) -> int:
    """Row index where a bottom achromatic label strip starts (or height)."""
    half = rgb.shape[0] // 2  # a label strip never covers more than half
    achromatic = _saturation(rgb[half:]) < ACHROMATIC_SATURATION
    row_ok = achromatic.mean(axis=1) >= LABEL_ROW_ACHROMATIC_FRACTION
    top = len(row_ok)
    while top > 0 and row_ok[top - 1]:
        top -= 1
    return half + top


def _scale_bar_px(strip: np.ndarray) -> float | None:
    if strip.shape[0] < 3:
        return None
    ink = strip.mean(axis=-1) < SCALE_BAR_MAX_LUMINANCE
    labels, _ = ndi.label(ink)
    best = 0
    for sl in ndi.find_objects(labels):
        if sl is None:
            continue
        h = sl[0].stop - sl[0].start
        w = sl[1].stop - sl[1].start
        if w >= SCALE_BAR_MIN_WIDTH_PX and w >= SCALE_BAR_MIN_ASPECT * h and w > best:
            best = w
    return float(best) if best else None


def _density(photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Optical density relative to the skin (per channel) and its sum."""
    h, w = photo.shape[:2]
    ring = max(2, round(0.05 * min(h, w)))
    border = np.concatenate(
        [
            photo[:ring].reshape(-1, 3),
            photo[-ring:].reshape(-1, 3),
            photo[:, :ring].reshape(-1, 3),
            photo[:, -ring:].reshape(-1, 3),
        ]
    )
    skin = np.maximum(np.median(border, axis=0), 1e-3)
    od = -np.log(np.clip(photo, 1.0 / 255.0, None) / skin)
    od = np.stack([ndi.gaussian_filter(od[..., c], 1.0) for c in range(3)], axis=-1)
    return od, od.sum(axis=-1)


def _flatten_background(f: np.ndarray, lesion: np.ndarray) -> np.ndarray:
    """Subtract a smooth skin-density field estimated away from the lesion."""
    step = 8
    weight = (ndi.distance_transform_edt(~lesion) > 5.0).astype(np.float64)
    sigma = 0.12 * min(f.shape) / step
    num = ndi.gaussian_filter((f * weight)[::step, ::step], sigma)
    den = ndi.gaussian_filter(weight[::step, ::step], sigma)
    coarse = num / np.maximum(den, 1e-3)
    coords = np.mgrid[0 : f.shape[0], 0 : f.shape[1]].astype(np.float64) / step
    return f - ndi.map_coordinates(coarse, coords, order=1, mode="nearest")


def _keep_touching(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """Components of ``mask`` that overlap ``seed``."""
    labels, _ = ndi.label(mask)
    ids = np.unique(labels[seed & mask])
    return np.isin(labels, ids[ids > 0])


def _segment_lesion(f: np.ndarray) -> np.ndarray:
    """Otsu core -> grow over everything clearly above skin noise -> final
    boundary halfway between skin and the lightest lesion pigment."""
    core = _largest_component(f > max(_otsu(f), LESION_MIN_DENSITY_THRESHOLD))
    if core.sum() < LESION_MIN_AREA_PX:
        return core
    f = _flatten_background(f, core)
    skin_vals = f[~core]
    if skin_vals.size == 0:
        return core
    bg = float(np.median(skin_vals))
    noise = 1.4826 * float(np.median(np.abs(skin_vals - bg)))
    t_low = max(LESION_MIN_DENSITY_THRESHOLD, bg + LESION_NOISE_SIGMAS * noise)
    grown = _fill_holes(_keep_touching(_open(f > t_low, HAIR_OPENING_RADIUS_PX), core) | core)
    inner = _erode(grown, 3.0)
    if inner.sum() < LESION_MIN_AREA_PX:
        return grown
    lightest = float(np.percentile(f[inner], 10))
    t = max(t_low, bg + LESION_THRESHOLD_FRACTION * (lightest - bg))
    mask = _keep_touching(_open(f > t, HAIR_OPENING_RADIUS_PX), inner)
    return _fill_holes(_largest_component(mask))


def _radial_profile(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroid (x, y), bin angles and outermost boundary radius per angle bin."""
    ys, xs = np.nonzero(mask)
    centre = np.array([xs.mean(), ys.mean()])
    d = _boundary_points(mask).astype(np.float64) - centre
    bins = int(np.clip(len(d) // 2, 32, 360))
    theta = np.arctan2(d[:, 1], d[:, 0])
    idx = ((theta + math.pi) / (2 * math.pi) * bins).astype(int) % bins
    prof = np.zeros(bins)
    np.maximum.at(prof, idx, np.hypot(d[:, 0], d[:, 1]))
    ok = prof > 0
    k = np.arange(bins)
    prof = np.interp(k, k[ok], prof[ok], period=bins)
    angles = (k + 0.5) / bins * 2 * math.pi - math.pi
    return centre, angles, prof


def _lowpass(prof: np.ndarray, harmonic: int) -> np.ndarray:
    spec = np.fft.rfft(prof)
    spec[harmonic + 1 :] = 0
    return np.fft.irfft(spec, n=len(prof))


def _profile_mask(centre: np.ndarray, angles: np.ndarray, prof: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    xs = centre[0] + prof * np.cos(angles)
    ys = centre[1] + prof * np.sin(angles)
    poly = [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
    canvas = Image.new("1", (shape[1], shape[0]), 0)
    ImageDraw.Draw(canvas).polygon(poly, fill=1)
    return np.asarray(canvas, dtype=bool)


def _outline_scores(mask: np.ndarray) -> tuple[float, float]:
    """Raw (mirror mismatch of the low-pass outline, high-harmonic roughness)."""
    centre, angles, prof = _radial_profile(mask)
    smooth = _lowpass(prof, OUTLINE_LOWPASS_HARMONIC)
    roughness = float(np.sqrt(np.mean((prof - smooth) ** 2)) / max(float(prof.mean()), 1e-6))
    shape = _profile_mask(centre, angles, smooth, mask.shape)
    return _mirror_mismatch(shape if shape.sum() >= LESION_MIN_AREA_PX else mask), roughness


def _mirror_mismatch(mask: np.ndarray) -> float:
    """Mean fraction of the mask not covered by its mirror image about each
    principal axis (0 = symmetric)."""
    ys, xs = np.nonzero(mask)
    pts = np.stack([xs, ys], axis=1).astype(np.float64)
    centre = pts.mean(axis=0)
    d = pts - centre
    _, vecs = np.linalg.eigh(np.cov(d.T))
    h, w = mask.shape
    scores = []
    for k in range(2):
        a = vecs[:, k]
        refl = 2.0 * np.outer(d @ a, a) - d + centre
        rx = np.rint(refl[:, 0]).astype(int)
        ry = np.rint(refl[:, 1]).astype(int)
        inside = (rx >= 0) & (rx < w) & (ry >= 0) & (ry < h)
        hit = np.zeros(len(pts), dtype=bool)
        hit[inside] = mask[ry[inside], rx[inside]]
        scores.append(1.0 - float(hit.mean()))
    return float(np.mean(scores))


def _name_colour(od: np.ndarray) -> str:
    r, g, b = (float(v) for v in od)
    total = r + g + b
    if total >= BLACK_MIN_DENSITY:
        return "black"
    if r - b >= BLUE_MIN_RED_MINUS_BLUE:
        return "blue-grey"
    if r <= RED_MAX_RED_DENSITY and g - r >= RED_MIN_GREEN_MINUS_RED:
        return "red"
    if total >= DARK_BROWN_MIN_DENSITY:
        return "dark-brown"
    return "light-brown"


def _colour_features(od: np.ndarray) -> np.ndarray:
    """log total density + weighted hue direction (shading-invariant)."""
    total = np.maximum(od.sum(axis=1, keepdims=True), 0.05)
    return np.concatenate([np.log(total), COLOUR_HUE_WEIGHT * od / total], axis=1)


def _kmeans(x: np.ndarray, k: int, iters: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic k-means (init at density quantiles)."""
    order = np.argsort(x.sum(axis=1), kind="stable")
    k = min(k, len(x))
    centres = x[order[((np.arange(k) + 0.5) / k * len(x)).astype(int)]].copy()
    labels = np.zeros(len(x), dtype=int)
    for _ in range(iters):
        d = ((x[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1)
        labels = d.argmin(axis=1)
        new = np.array([x[labels == j].mean(axis=0) if np.any(labels == j) else centres[j] for j in range(k)])
        if np.allclose(new, centres, atol=1e-4):
            break
        centres = new
    return centres, labels


def _colours(od: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """Named colour -> share of the lesion interior.

    k-means clusters are named, every interior pixel takes its cluster's name,
    and each name's region is opened so thin blend bands between two colours
    (or along the rim) are not counted as a colour of their own.
    """
    radius = math.sqrt(mask.sum() / math.pi)
    core = _erode(mask, max(2.0, 0.08 * radius))
    if core.sum() < LESION_MIN_AREA_PX:
        core = mask
    pixels = od[core]
    feats = _colour_features(pixels)
    centres, _ = _kmeans(feats[:: max(1, len(feats) // KMEANS_MAX_SAMPLES)], COLOUR_CLUSTERS)
    nearest = ((feats[:, None, :] - centres[None, :, :]) ** 2).sum(axis=-1).argmin(axis=1)
    cluster_names = [_name_colour(pixels[nearest == j].mean(axis=0)) for j in range(len(centres))]
    vocabulary = sorted(set(cluster_names))
    name_ids = np.full(mask.shape, -1, dtype=int)
    name_ids[core] = np.asarray([vocabulary.index(n) for n in cluster_names])[nearest]
    thin = max(1.5, COLOUR_MIN_THICKNESS * radius)
    total = float(core.sum())
    shares: dict[str, float] = {}
    for i, name in enumerate(vocabulary):
        region = _open(name_ids == i, thin)
        share = float(region.sum()) / total
        if share >= MIN_COLOUR_FRACTION:
            shares[name] = round(share, 4)
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


def _empty_skin(px_per_mm: float | None, photo_h: int) -> SkinFeatures:
    return SkinFeatures(
        lesion_found=False,
        scale_bar_found=px_per_mm is not None,
        px_per_mm=px_per_mm,
        diameter_px=0.0,
        diameter_mm=None,
        area_px=0,
        area_mm2=None,
        perimeter_px=0.0,
        asymmetry=0.0,
        border_irregularity=0.0,
        compactness=0.0,
        n_colours=0,
        colour_names=[],
        colour_fractions={},
        centroid_xy=None,
        photo_height_px=photo_h,
    )


def analyse_skin(img: Image.Image) -> SkinFeatures:
    """Measure the largest pigmented lesion in a skin photo.

    The scale is read from a dark bar of ``SCALE_BAR_MM`` in a white label
    strip at the bottom; without it the mm fields are ``None``.
    """
    rgb = _rgb_float(img)
    top = _label_strip_top(rgb)
    bar = _scale_bar_px(rgb[top:])
    ppm = bar / SCALE_BAR_MM if bar else None
    photo = rgb[:top]
    if photo.shape[0] < 16:
        return _empty_skin(ppm, top)
    od, f = _density(photo)
    mask = _segment_lesion(f)
    area = int(mask.sum())
    if area < LESION_MIN_AREA_PX:
        return _empty_skin(ppm, top)

    hull = _convex_hull(_boundary_points(mask))
    diameter = _max_feret(hull) + 1.0  # pixel centres -> pixel extent
    perimeter = _crofton_perimeter(mask)
    compactness = perimeter**2 / (4.0 * math.pi * area)
    raw_asym, raw_border = _outline_scores(mask)
    asym = _unit_scale(raw_asym, ASYMMETRY_RAW_FLOOR, ASYMMETRY_RAW_FULL)
    border = _unit_scale(raw_border, BORDER_RAW_FLOOR, BORDER_RAW_FULL)
    colours = _colours(od, mask)
    ys, xs = np.nonzero(mask)
    return SkinFeatures(
        lesion_found=True,
        scale_bar_found=ppm is not None,
        px_per_mm=ppm,
        diameter_px=round(diameter, 2),
        diameter_mm=round(diameter / ppm, 3) if ppm else None,
        area_px=area,
        area_mm2=round(area / ppm**2, 3) if ppm else None,
        perimeter_px=round(perimeter, 2),
        asymmetry=round(asym, 4),
        border_irregularity=round(border, 4),
        compactness=round(compactness, 4),
        n_colours=len(colours),
        colour_names=list(colours),
        colour_fractions=colours,
        centroid_xy=(round(float(xs.mean()), 1), round(float(ys.mean()), 1)),
        photo_height_px=top,
    )


def compare_skin(prior: SkinFeatures, current: SkinFeatures) -> SkinChange:
    """Compare two lesion measurements (mm when both have a scale bar)."""
    if not (prior.lesion_found and current.lesion_found):
        raise ValueError("both images need a segmented lesion to compare")
    d_mm: float | None = None
    a_mm: float | None = None
    if prior.diameter_mm and current.diameter_mm:
        growth = current.diameter_mm / prior.diameter_mm - 1.0
        d_mm = round(current.diameter_mm - prior.diameter_mm, 3)
        a_mm = round((current.area_mm2 or 0.0) - (prior.area_mm2 or 0.0), 3)
    else:  # no common scale: compare pixel sizes (assumes the same magnification)
        growth = current.diameter_px / prior.diameter_px - 1.0
    return SkinChange(
        diameter_change_mm=d_mm,
        diameter_change_px=round(current.diameter_px - prior.diameter_px, 2),
        relative_growth=round(growth, 4),
        grew=growth > GROWTH_THRESHOLD,
        area_change_mm2=a_mm,
        asymmetry_change=round(current.asymmetry - prior.asymmetry, 4),
        border_irregularity_change=round(current.border_irregularity - prior.border_irregularity, 4),
        new_colours=[c for c in current.colour_names if c not in prior.colour_names],
        lost_colours=[c for c in prior.colour_names if c not in current.colour_names],
    )


# ============================================================== radiograph


def _work_copy(img: Image.Image) -> tuple[np.ndarray, float]:
    gray = img.convert("L")
    scale = min(1.0, RADIOGRAPH_WORK_SIDE / max(gray.size))
    if scale < 1.0:
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        gray = gray.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(gray, dtype=np.float64) / 255.0, scale


def _lung_fields(g: np.ndarray) -> list[np.ndarray]:
    """Rough lung masks: dark interior components grown downwards, hulled."""
    h, w = g.shape
    t = _otsu(g)
    dark = ndi.binary_opening(g < t, iterations=2)
    labels, _ = ndi.label(dark)
    seeds: list[tuple[int, int, tuple[slice, slice]]] = []
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        touches = sl[0].start == 0 or sl[1].start == 0 or sl[0].stop == h or sl[1].stop == w
        area = int((labels[sl] == i).sum())
        if not touches and area >= LUNG_MIN_AREA_FRACTION * h * w:
            seeds.append((area, i, sl))
    seeds = sorted(seeds, key=lambda s: -s[0])[:2]
    grow_t = t + LUNG_GROW_FRACTION * (float(np.percentile(g, 90)) - t)
    fields = []
    for _, i, sl in seeds:
        seed = labels == i
        cy = int(ndi.center_of_mass(seed)[0])
        sh, sw = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        box = np.zeros_like(seed)
        x0 = max(0, sl[1].start - int(0.08 * sw))
        box[cy : min(h, sl[0].stop + int(LUNG_GROW_DOWN * sh)), x0 : min(w, sl[1].stop + int(0.08 * sw))] = True
        cand_labels, _ = ndi.label((g < grow_t) & box)
        ids = np.unique(cand_labels[seed & (cand_labels > 0)])
        region = seed | np.isin(cand_labels, ids[ids > 0])
        fields.append(_polygon_mask(_convex_hull(_boundary_points(region)), g.shape))
    return fields


def _is_chest(fields: list[np.ndarray], shape: tuple[int, int]) -> bool:
    if len(fields) != 2:
        return False
    (ay, ax), (by, bx) = (ndi.center_of_mass(f) for f in fields)
    sa, sb = (int(f.sum()) for f in fields)
    mid = shape[1] / 2.0
    side_by_side = (ax - mid) * (bx - mid) < 0 and abs(ay - by) < 0.25 * shape[0]
    return side_by_side and min(sa, sb) >= 0.4 * max(sa, sb)


def _hessian_roundness(img: np.ndarray, sigma: float, y: int, x: int) -> float:
    r = int(4 * sigma)
    y0, y1, x0, x1 = max(0, y - r), y + r + 1, max(0, x - r), x + r + 1
    patch = img[y0:y1, x0:x1]
    cy, cx = y - y0, x - x0
    hyy = ndi.gaussian_filter(patch, sigma, order=(2, 0))[cy, cx]
    hxx = ndi.gaussian_filter(patch, sigma, order=(0, 2))[cy, cx]
    hxy = ndi.gaussian_filter(patch, sigma, order=(1, 1))[cy, cx]
    half_tr = (hxx + hyy) / 2.0
    disc = math.sqrt(max(half_tr**2 - (hxx * hyy - hxy**2), 0.0))
    l_small, l_large = half_tr + disc, half_tr - disc  # both < 0 for a bright blob
    return float(l_small / l_large) if l_large < 0 else -1.0


def _ring_stats(img: np.ndarray, lung: np.ndarray, y: int, x: int, rad: float) -> tuple[float, float]:
    r = int(math.ceil(2 * rad))
    y0, x0 = max(0, y - r), max(0, x - r)
    patch = img[y0 : y + r + 1, x0 : x + r + 1]
    lpatch = lung[y0 : y + r + 1, x0 : x + r + 1]
    yy, xx = np.mgrid[0 : patch.shape[0], 0 : patch.shape[1]]
    d = np.hypot(yy - (y - y0), xx - (x - x0))
    disk, ring = d <= rad, (d > 1.3 * rad) & (d <= 2 * rad)
    ring_total = math.pi * ((2 * rad) ** 2 - (1.3 * rad) ** 2)
    in_lung = float((ring & lpatch).sum()) / ring_total
    return float(patch[disk].mean() - patch[ring].mean()), in_lung


def _detect_nodules(
    a: np.ndarray, fields: list[np.ndarray], on_image_left: list[bool]
) -> list[tuple[float, float, float, float, float, int]]:
    """Return (score, x, y, radius, contrast, field index) at working scale."""
    lung = np.logical_or.reduce(fields)
    lo, hi = np.percentile(a[lung], [2, 98])
    norm = np.clip((a - lo) / max(hi - lo, 1e-6), 0.0, 1.5)
    stack = np.stack([-(s**2) * ndi.gaussian_laplace(norm, s) for s in NODULE_SIGMAS])
    peaks = (stack == ndi.maximum_filter(stack, size=(3, 5, 5))) & (stack >= NODULE_MIN_RESPONSE) & lung[None]
    field_id = np.zeros(a.shape, dtype=int)
    for k, f in enumerate(fields, start=1):
        field_id[f & (field_id == 0)] = k
    boxes = [ndi.find_objects(f.astype(int))[0] for f in fields]
    cands = sorted(((float(stack[s, y, x]), int(s), int(y), int(x)) for s, y, x in np.argwhere(peaks)), reverse=True)
    kept: list[tuple[float, float, float, float, float, int]] = []
    for score, si, y, x in cands:
        sigma = NODULE_SIGMAS[si]
        rad = math.sqrt(2.0) * sigma
        k = field_id[y, x] - 1
        sl = boxes[k]
        lw, lh = sl[1].stop - sl[1].start, sl[0].stop - sl[0].start
        medial = (sl[1].stop - x) if on_image_left[k] else (x - sl[1].start)
        rel_y = (y - sl[0].start) / lh
        if medial < MEDIASTINAL_MARGIN_FRACTION * lw:
            continue
        if medial < HILAR_MEDIAL_FRACTION * lw and HILAR_BAND[0] < rel_y < HILAR_BAND[1]:
            continue
        if any(math.hypot(x - kx, y - ky) < rad + kr for _, kx, ky, kr, _, _ in kept):
            continue
        if _hessian_roundness(norm, sigma, y, x) < NODULE_MIN_ROUNDNESS:
            continue
        contrast, in_lung = _ring_stats(norm, lung, y, x, rad)
        if contrast < NODULE_MIN_CONTRAST or in_lung < NODULE_MIN_RING_IN_LUNG:
            continue
        kept.append((score, float(x), float(y), rad, contrast, k))
    return kept


def analyse_radiograph(img: Image.Image) -> RadiographFeatures:
    """Find rough lung fields and count round bright opacities within them."""
    a, scale = _work_copy(img)
    full = np.asarray(img.convert("L"), dtype=np.float64)
    g = ndi.gaussian_filter(a, 2.0)
    fields = _lung_fields(g)
    found = _is_chest(fields, a.shape)
    nodules: list[Nodule] = []
    lung_frac = float(np.logical_or.reduce(fields).mean()) if found else 0.0
    if found:
        centres_x = [float(ndi.center_of_mass(f)[1]) for f in fields]
        on_image_left = [cx < float(np.mean(centres_x)) for cx in centres_x]
        boxes = [ndi.find_objects(f.astype(int))[0] for f in fields]
        for score, x, y, rad, contrast, k in _detect_nodules(a, fields, on_image_left):
            sl = boxes[k]
            rel_y = (y - sl[0].start) / (sl[0].stop - sl[0].start)
            zone: Literal["upper", "mid", "lower"] = "upper" if rel_y < 1 / 3 else "mid" if rel_y < 2 / 3 else "lower"
            nodules.append(
                Nodule(
                    x=round(x / scale, 1),
                    y=round(y / scale, 1),
                    diameter_px=round(2 * rad / scale, 1),
                    side="right" if on_image_left[k] else "left",
                    zone=zone,
                    score=round(score, 4),
                    contrast=round(contrast, 4),
                )
            )
    n_right = sum(n.side == "right" for n in nodules)
    n_left = len(nodules) - n_right
    return RadiographFeatures(
        width=img.width,
        height=img.height,
        mean_intensity=round(float(full.mean()), 2),
        std_intensity=round(float(full.std()), 2),
        lung_field_found=found,
        lung_area_fraction=round(lung_frac, 4),
        n_nodules=len(nodules),
        nodules=nodules,
        n_right=n_right,
        n_left=n_left,
        bilateral=n_right > 0 and n_left > 0,
    )

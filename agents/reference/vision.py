"""Pixel-only image analysis for the reference/pixel baseline model.

Everything here looks at pixels only (numpy + scipy.ndimage); it never sees
generator parameters or other ground truth.

* :func:`classify_image` - skin photo vs radiograph vs unknown.
* :func:`analyse_skin` - scale bar, lesion segmentation, ABCD-style features.
* :func:`compare_skin` - change between a prior and a current lesion.
* :func:`analyse_radiograph` - lung fields, round opacities, ruler scale,
  effusion, pneumothorax, consolidation and cardiothoracic ratio.
* :func:`compare_radiographs` - nodule growth / new nodules / effusion change.
* :func:`analyse_fundus` - optic disc and cup, retinal lesion counts.
* :func:`compare_fundus` - lesion count changes between two fundus photos.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image, ImageDraw
from pydantic import BaseModel, Field
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
    "RadiographChange",
    "compare_radiographs",
    "FundusFeatures",
    "FundusChange",
    "analyse_fundus",
    "compare_fundus",
]

ImageKind = Literal["skin_photo", "radiograph", "fundus", "unknown"]

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
#: Fundus photo: the corners are black (max channel below FUNDUS_FIELD_MIN) ...
FUNDUS_MIN_DARK_CORNERS = 0.9
#: ... the lit field is round (area / inscribed-ellipse area of its bounding box) ...
FUNDUS_MIN_ROUNDNESS = 0.85
#: ... and red-dominated (median red / green inside the field).
FUNDUS_MIN_RED_GREEN = 1.5

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
#: Lung seed components must cover this fraction of the image; smaller dark
#: pieces down to LUNG_PIECE_MIN_FRACTION may join a lung beside them.
LUNG_MIN_AREA_FRACTION = 0.02
LUNG_PIECE_MIN_FRACTION = 0.002
#: Growth threshold: Otsu + this fraction of (p90 - Otsu).
LUNG_GROW_FRACTION = 0.35
#: Downward growth allowance as a fraction of seed height.
LUNG_GROW_DOWN = 0.25

# ------------------------------------------------ calibrated chest radiographs
#: Radio-opaque ruler: physical length, tick spacing, and how it is recognised
#: (near-white, long and thin, with evenly spaced ticks).
RULER_MM = 50.0
RULER_TICK_MM = 10.0
RULER_MIN_GREY = 250
RULER_MIN_ASPECT = 8.0
RULER_MIN_LENGTH_PX = 20
RULER_TICK_TOLERANCE = 0.2
#: Nodule diameters (mm) searched on a calibrated film, and the smallest LoG
#: sigma (work px) that is still above the noise.
CAL_NODULE_DIAMETERS_MM: tuple[float, ...] = (5.0, 6.5, 8.5, 11.0, 14.0, 18.0, 23.0, 30.0, 38.0, 48.0, 60.0)
CAL_NODULE_MIN_SIGMA = 1.5
CAL_NODULE_MIN_RESPONSE = 0.06
CAL_NODULE_MIN_CONTRAST = 0.1
CAL_NODULE_MIN_RING_IN_LUNG = 0.5
#: Mediastinal and hilar exclusion (fractions of lung width) on calibrated films,
#: where the roundness and isolation tests reject vessel and hilar blobs.
CAL_NODULE_MARGINS: tuple[float, float] = (0.04, 0.15)
#: Edge sharpness (steepest radial slope x radius / contrast) below which a blob
#: is a fluffy opacity rather than a nodule.
CAL_NODULE_MIN_SHARPNESS = 0.9
#: Share of rays whose edge radius is within NODULE_EDGE_TOLERANCE of the median.
CAL_NODULE_MIN_EDGE_ROUNDNESS = 0.9
NODULE_EDGE_TOLERANCE = 0.2
NODULE_MIN_RAY_DROP = 0.4
#: The steepest point of a blurred disc edge lies this far (px) inside the true edge.
NODULE_EDGE_BIAS_PX = 1.2
#: A nodule is surrounded by aerated lung: at least NODULE_MIN_RING_AERATED of
#: its ring has opacity below NODULE_RING_MAX_OPACITY.
NODULE_MIN_RING_AERATED = 0.6
NODULE_RING_MAX_OPACITY = 0.3
NODULE_AERATED_RING: tuple[float, float] = (1.15, 1.5)
#: Blobs smaller than this in or next to a consolidated zone (same lung) are taken
#: as part of the consolidation.
NODULE_IN_CONSOLIDATION_MIN_MM = 12.0
#: A blob touching a patch of intermediate opacity larger than this many times
#: its own area is part of a consolidation, not a nodule.
NODULE_MAX_PATCH_RATIO = 2.0
#: Smallest nodule diameter reported on a calibrated film (below this, vessel
#: crossings look the same).
CAL_NODULE_MIN_DIAMETER_MM = 6.0
#: LoG scales above this many px run on a decimated grid (calibrated films).
LOG_DECIMATE_SIGMA = 5.0
#: Radial profile sampling for the nodule diameter (angles; step in full-res px).
NODULE_PROFILE_ANGLES = 72
NODULE_PROFILE_STEP = 0.5
#: Cardiothoracic ratio: heart borders are the lungs' medial edges in this band of
#: lung height, in rows where the lung continues at least CTR_MIN_BELOW x lung
#: height below the edge pixel (otherwise the edge is the diaphragm, not the heart).
CTR_BAND: tuple[float, float] = (0.45, 0.98)
CTR_MIN_BELOW = 0.02
CTR_HEART_OPACITY = 0.7
#: Effusion: the costophrenic angle (lowest aerated point within
#: EFFUSION_ANGLE_BAND of the lung width from the chest wall) normally dips at
#: least EFFUSION_MIN_ANGLE_DEPTH x lung height below the diaphragm just medial
#: to it (lowest point within EFFUSION_DIAPHRAGM_BAND); otherwise it is blunted.
EFFUSION_ANGLE_BAND: tuple[float, float] = (0.0, 0.15)
EFFUSION_DIAPHRAGM_BAND: tuple[float, float] = (0.2, 0.4)
EFFUSION_MIN_ANGLE_DEPTH = 0.04
#: Pixels denser than this opacity (fluid) do not count as lung for the angle;
#: patchy consolidation stays below it.
EFFUSION_MAX_OPACITY = 0.75
#: Pneumothorax: lung pixels are binned by distance from the lateral/apical wall
#: (up to PTX_MAX_DEPTH x lung width, upper PTX_ROWS of the lung); a dark
#: marking-free rim then a step up to lung level of at least PTX_MIN_STEP
#: (0..1 grey) means a pneumothorax.
PTX_MAX_DEPTH = 0.7
PTX_ROWS = 0.7
PTX_MIN_STEP = 0.08
#: Consolidation: lung-hull pixels whose opacity (0 = aerated lung, 1 =
#: mediastinum) lies in CONSOLIDATION_OPACITY, opened by CONSOLIDATION_OPEN_PX,
#: covering at least CONSOLIDATION_MIN_FRACTION of a zone.
CONSOLIDATION_OPACITY: tuple[float, float] = (0.35, 0.85)
CONSOLIDATION_OPEN_PX = 4.0
CONSOLIDATION_MIN_FRACTION = 0.12
#: Nodule growth threshold (relative diameter) and the match distance (mm) for
#: calling a nodule new.
NODULE_GROWTH_THRESHOLD = 0.20
NODULE_MATCH_MM = 20.0
NODULE_MATCH_FRACTION = 0.05


# ------------------------------------------------------------------- fundus
#: Longest side of the working copy used for fundus analysis.
FUNDUS_WORK_SIDE = 768
#: Pixels whose brightest channel exceeds this (0..1) belong to the field of view.
FUNDUS_FIELD_MIN = 0.06
#: Background (illumination) smoothing, fraction of the field radius, and the
#: relative deviation beyond which a pixel is left out of the background fit.
FUNDUS_BG_SIGMA = 0.05
FUNDUS_BG_OUTLIER = 0.10
#: Expected optic disc radius (fraction of the field radius) and the fraction of
#: (peak - background) at which the disc is thresholded.
DISC_RADIUS_GUESS = 0.115
DISC_THRESHOLD_FRACTION = 0.4
#: Vessels up to this half-width (fraction of the field radius) are erased by a grey closing.
VESSEL_ERASE_FRACTION = 0.014
#: Minimum disc brightness over the background (relative) to accept a disc.
DISC_MIN_CONTRAST = 0.35
#: The cup is thresholded halfway between the rim level and the cup peak.
CUP_THRESHOLD_FRACTION = 0.5
#: The rim level is this percentile (above the vessels) of a band this deep
#: (fraction of the disc radius) just inside the disc margin.
CUP_RIM_BAND = 0.08
CUP_RIM_PERCENTILE = 60.0
#: Minimum paleness step (0..1 grey levels) between rim and cup to report a cup.
CUP_MIN_STEP = 0.03
#: Disc margin width (rim-to-background step / steepest slope, in disc radii)
#: above which the margin counts as blurred (swollen disc; its cup is then not measured).
DISC_BLUR_WIDTH = 0.22
#: Relative green-channel darkening / brightening for red / bright lesion pixels.
RED_LESION_CONTRAST = 0.18
#: A red lesion must somewhere be at least this much darker than the background.
RED_LESION_MIN_PEAK = 0.4
#: Bright lesion pixels: green moved this fraction of the way from background to white.
BRIGHT_LESION_WHITENESS = 0.35
#: Lesions are searched outside this many disc radii from the disc centre.
LESION_DISC_EXCLUSION = 1.5
#: Dark components larger than this (fraction of field area) are vessel trees;
#: fainter dark pixels connected to them (hysteresis) belong to the vessels too.
VESSEL_MIN_AREA_FRACTION = 0.0025
VESSEL_LOW_CONTRAST = 0.08
#: Dark components this elongated and thin (radius px at work scale) are vessel pieces.
VESSEL_MIN_ELONGATION = 3.5
VESSEL_MAX_HALF_WIDTH = 2.6
#: Red dots smaller than this (equivalent diameter, fraction of field radius) are microaneurysms.
MICROANEURYSM_MAX_DIAMETER = 0.02
#: Minimum red lesion area (px at work scale).
RED_LESION_MIN_AREA = 5
#: Bright spots at least this large (equivalent diameter at SHARPNESS_LOW x peak,
#: fraction of the field radius) are cotton wool spots.
COTTON_WOOL_MIN_DIAMETER = 0.04
#: Small bright spots are exudates when waxy-bright (peak whiteness at least
#: EXUDATE_MIN_WHITENESS) or sharp-edged (the area above SHARPNESS_HIGH x peak is at
#: least EXUDATE_MIN_SHARPNESS of the area above SHARPNESS_LOW x peak); drusen are
#: duller and soft.
SHARPNESS_LOW = 0.25
SHARPNESS_HIGH = 0.6
EXUDATE_MIN_SHARPNESS = 0.6
EXUDATE_MIN_WHITENESS = 0.6
#: Minimum bright lesion area (px at work scale).
BRIGHT_LESION_MIN_AREA = 4
#: The fovea is the darkest smooth spot; dark blobs this close (fraction of R) are the fovea itself.
FOVEA_EXCLUSION = 0.06
#: Count increase that counts as progression: at least this many lesions and this relative rise.
PROGRESSION_MIN_NEW = 3
PROGRESSION_MIN_RELATIVE = 0.3
#: Cup-to-disc increase that counts as progression.
CUP_PROGRESSION = 0.1


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
    """One round opacity; coordinates/sizes in input-image pixels (``diameter_mm``
    only on a calibrated film)."""

    x: float
    y: float
    diameter_px: float
    side: Literal["right", "left"]
    zone: Literal["upper", "mid", "lower"]
    score: float
    contrast: float
    diameter_mm: float | None = None


class RadiographFeatures(BaseModel):
    """Pixel measurements of a (chest) radiograph.

    ``side`` follows the PA convention: image left is the patient's right.
    ``px_per_mm`` comes from a radio-opaque ruler; only when it is set are the
    mm sizes, effusion, pneumothorax, consolidation ("right lower", ...) and the
    cardiothoracic ratio assessed (otherwise "none" / [] / None).
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
    px_per_mm: float | None = None
    effusion_side: Literal["none", "right", "left", "bilateral"] = "none"
    pneumothorax_side: Literal["none", "right", "left"] = "none"
    cardiothoracic_ratio: float | None = None
    consolidation: list[str] = Field(default_factory=list)


class RadiographChange(BaseModel):
    """Change from a prior to a current chest radiograph."""

    largest_nodule_prior_mm: float | None
    largest_nodule_current_mm: float | None
    nodule_growth_mm: float | None
    relative_growth: float | None
    grew: bool
    new_nodules: int
    effusion_change: str


class FundusFeatures(BaseModel):
    """Pixel measurements of one colour fundus photograph (positions in input pixels)."""

    field_found: bool
    disc_found: bool
    disc_centre: tuple[float, float] | None = None
    disc_diameter_px: float | None = None
    eye: Literal["right", "left"] | None = None
    cup_to_disc: float | None
    n_haemorrhages: int
    n_exudates: int
    n_microaneurysms: int
    n_cotton_wool_spots: int
    n_drusen: int
    disc_margin_blurred: bool
    disc_margin_width: float | None = None


class FundusChange(BaseModel):
    """Change from a prior to a current fundus photo (current minus prior)."""

    haemorrhages_change: int
    exudates_change: int
    microaneurysms_change: int
    cotton_wool_spots_change: int
    drusen_change: int
    cup_to_disc_change: float | None
    new_disc_swelling: bool
    progressed: bool


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


def _looks_like_fundus(rgb: np.ndarray) -> bool:
    """Black corners around a round, red-dominated field of view (checked on a thumbnail)."""
    step = max(1, max(rgb.shape[:2]) // 256)
    rgb = rgb[::step, ::step]
    h, w = rgb.shape[:2]
    lit = rgb.max(axis=-1) > FUNDUS_FIELD_MIN
    c = max(2, round(0.06 * min(h, w)))
    corners = np.concatenate([lit[:c, :c].ravel(), lit[:c, -c:].ravel(), lit[-c:, :c].ravel(), lit[-c:, -c:].ravel()])
    if 1.0 - float(corners.mean()) < FUNDUS_MIN_DARK_CORNERS:
        return False
    field = _largest_component(lit)
    ys, xs = np.nonzero(field)
    if len(ys) < 0.2 * h * w:
        return False
    ellipse = math.pi / 4.0 * (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
    if len(ys) / ellipse < FUNDUS_MIN_ROUNDNESS:
        return False
    r, g = rgb[..., 0][field], rgb[..., 1][field]
    return float(np.median(r / np.maximum(g, 1e-3))) >= FUNDUS_MIN_RED_GREEN


def classify_image(img: Image.Image) -> ImageKind:
    """Tell a colour skin photo, a fundus photo and a grayscale radiograph apart."""
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
    if _looks_like_fundus(rgb):
        return "fundus"
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


def _normalised_log(img: np.ndarray, sigma: float) -> np.ndarray:
    """Scale-normalised negative LoG; large sigmas run on a block-averaged grid."""
    step = max(1, int(sigma // LOG_DECIMATE_SIGMA))
    if step == 1:
        return np.asarray(-(sigma**2) * ndi.gaussian_laplace(img, sigma))
    h, w = img.shape
    padded = np.pad(img, ((0, -h % step), (0, -w % step)), mode="edge")
    coarse = padded.reshape(padded.shape[0] // step, step, padded.shape[1] // step, step).mean(axis=(1, 3))
    small = -((sigma / step) ** 2) * ndi.gaussian_laplace(coarse, sigma / step)
    coords = (np.mgrid[0:h, 0:w].astype(np.float64) - (step - 1) / 2.0) / step
    return np.asarray(ndi.map_coordinates(small, coords, order=1, mode="nearest"))


def _detect_nodules(
    a: np.ndarray,
    fields: list[np.ndarray],
    on_image_left: list[bool],
    sigmas: tuple[float, ...] = NODULE_SIGMAS,
    min_response: float = NODULE_MIN_RESPONSE,
    min_contrast: float = NODULE_MIN_CONTRAST,
    min_ring_in_lung: float = NODULE_MIN_RING_IN_LUNG,
    ring_mask: np.ndarray | None = None,
    margins: tuple[float, float] = (MEDIASTINAL_MARGIN_FRACTION, HILAR_MEDIAL_FRACTION),
    decimate: bool = False,
) -> list[tuple[float, float, float, float, float, int]]:
    """Return (score, x, y, radius, contrast, field index) at working scale.

    ``ring_mask`` (default: the fields) is the lung the surrounding ring must lie in;
    ``margins`` are the mediastinal and hilar exclusions (fractions of lung width);
    ``decimate`` runs large LoG scales on a coarser grid.
    """
    lung = np.logical_or.reduce(fields)
    lo, hi = np.percentile(a[lung], [2, 98])
    norm = np.clip((a - lo) / max(hi - lo, 1e-6), 0.0, 1.5)
    if decimate:
        stack = np.stack([_normalised_log(norm, s) for s in sigmas])
    else:
        stack = np.stack([-(s**2) * ndi.gaussian_laplace(norm, s) for s in sigmas])
    peaks = (stack == ndi.maximum_filter(stack, size=(3, 5, 5))) & (stack >= min_response) & lung[None]
    ring_lung = lung if ring_mask is None else ring_mask
    field_id = np.zeros(a.shape, dtype=int)
    for k, f in enumerate(fields, start=1):
        field_id[f & (field_id == 0)] = k
    boxes = [ndi.find_objects(f.astype(int))[0] for f in fields]
    cands = sorted(((float(stack[s, y, x]), int(s), int(y), int(x)) for s, y, x in np.argwhere(peaks)), reverse=True)
    kept: list[tuple[float, float, float, float, float, int]] = []
    for score, si, y, x in cands:
        sigma = sigmas[si]
        rad = math.sqrt(2.0) * sigma
        k = field_id[y, x] - 1
        sl = boxes[k]
        lw, lh = sl[1].stop - sl[1].start, sl[0].stop - sl[0].start
        medial = (sl[1].stop - x) if on_image_left[k] else (x - sl[1].start)
        rel_y = (y - sl[0].start) / lh
        if medial < margins[0] * lw:
            continue
        if medial < margins[1] * lw and HILAR_BAND[0] < rel_y < HILAR_BAND[1]:
            continue
        if any(math.hypot(x - kx, y - ky) < rad + kr for _, kx, ky, kr, _, _ in kept):
            continue
        if _hessian_roundness(norm, sigma, y, x) < NODULE_MIN_ROUNDNESS:
            continue
        contrast, in_lung = _ring_stats(norm, ring_lung, y, x, rad)
        if contrast < min_contrast or in_lung < min_ring_in_lung:
            continue
        kept.append((score, float(x), float(y), rad, contrast, k))
    return kept


def _find_ruler(gray: np.ndarray) -> float | None:
    """Length (px) of a near-white horizontal ruler with evenly spaced ticks, or None."""
    labels, _ = ndi.label(gray >= RULER_MIN_GREY)
    best: float | None = None
    n_ticks = round(RULER_MM / RULER_TICK_MM) + 1
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        h = sl[0].stop - sl[0].start
        w = sl[1].stop - sl[1].start
        if w < RULER_MIN_LENGTH_PX or w < RULER_MIN_ASPECT * h / 2:
            continue
        comp = labels[sl] == i
        rows = comp.sum(axis=1)
        if rows.max() < 0.95 * w:
            continue  # no continuous bar
        bar = int((rows >= 0.95 * w).sum())
        if w < RULER_MIN_ASPECT * bar:
            continue
        cols = comp.sum(axis=0) > bar + 1
        edges = np.diff(np.concatenate([[0], cols.astype(np.int8), [0]]))
        starts, stops = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
        if len(starts) != n_ticks:
            continue
        centres = (starts + stops - 1) / 2.0
        gaps = np.diff(centres)
        expected = (w - 1) / (n_ticks - 1)
        if np.all(np.abs(gaps - expected) <= RULER_TICK_TOLERANCE * expected) and (best is None or w > best):
            best = float(w)
    return best


def _dark_lungs(a: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(image-left, image-right) aerated lung masks, holes filled.

    Each lung is the largest dark interior region on its side of the image plus
    smaller dark pieces in the same columns (an apex cut off by the clavicle, a
    lung split by an opacity), unless they lie wholly below it.
    """
    g = ndi.gaussian_filter(a, 1.0)
    h, w = g.shape
    dark = ndi.binary_opening(g < _otsu(g), iterations=2)
    labels, _ = ndi.label(dark)
    pieces: list[tuple[int, int, slice, slice]] = []
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        if sl[0].start == 0 or sl[1].start == 0 or sl[0].stop == h or sl[1].stop == w:
            continue
        area = int((labels[sl] == i).sum())
        if area >= LUNG_PIECE_MIN_FRACTION * h * w:
            pieces.append((area, i, sl[0], sl[1]))
    lungs: list[np.ndarray] = []
    for on_left in (True, False):
        side = [p for p in pieces if ((p[3].start + p[3].stop) / 2.0 < w / 2.0) == on_left]
        if not side:
            return None
        main = max(side)
        mask = labels == main[1]
        for _, i, rows, cols in side:
            beside = cols.start < main[3].stop and cols.stop > main[3].start
            if i != main[1] and beside and rows.start < main[2].stop:  # not below the lung (gastric bubble)
                mask |= labels == i
        if mask.sum() < LUNG_MIN_AREA_FRACTION * h * w:
            return None
        lungs.append(_fill_holes(mask))
    left, right = lungs
    (ly, _), (ry, _) = ndi.center_of_mass(left), ndi.center_of_mass(right)
    if abs(ly - ry) > 0.25 * h or min(left.sum(), right.sum()) < 0.3 * max(left.sum(), right.sum()):
        return None
    return left, right


def _rows_span(mask: np.ndarray) -> tuple[int, int]:
    rows = np.nonzero(mask.any(axis=1))[0]
    return int(rows.min()), int(rows.max())


def _medial_edge(mask: np.ndarray, image_left: bool) -> np.ndarray:
    """Per-row medial-most lung column (NaN for rows without lung)."""
    any_row = mask.any(axis=1)
    w = mask.shape[1]
    if image_left:
        edge = w - 1 - np.argmax(mask[:, ::-1], axis=1)
    else:
        edge = np.argmax(mask, axis=1)
    return np.where(any_row, edge, np.nan).astype(np.float64)


def _cardiothoracic_ratio(chest: _Chest) -> float | None:
    """Widest heart span (between the lungs' medial edges) / widest internal thorax.

    The thorax width comes from the aerated lungs' lateral edges. The heart
    borders are where each hemithorax turns denser than CTR_HEART_OPACITY, so
    vessels, patchy consolidation or a denser collapsed lung next to the heart
    do not count as heart.
    """
    left, right = chest.dark
    cols_l = np.nonzero(left.any(axis=0))[0]
    cols_r = np.nonzero(right.any(axis=0))[0]
    thoracic = float(cols_r.max() - cols_l.min() + 1)
    lighter = chest.opacity < CTR_HEART_OPACITY
    masks = [_keep_touching(hull & lighter, seed) for hull, seed in zip(chest.hemithorax, chest.dark, strict=True)]
    top = min(_rows_span(left)[0], _rows_span(right)[0])
    bottom = max(_rows_span(m)[1] for m in masks)
    height = bottom - top
    y0, y1 = int(top + CTR_BAND[0] * height), int(top + CTR_BAND[1] * height)
    extremes: list[float] = []
    below = max(2, int(CTR_MIN_BELOW * height))
    for mask, image_left in zip(masks, (True, False), strict=True):
        edge = _medial_edge(mask, image_left)
        lowest = np.where(mask.any(axis=0), mask.shape[0] - 1 - np.argmax(mask[::-1], axis=0), -1)
        xs = [
            edge[y]
            for y in range(y0, y1)
            if not math.isnan(edge[y]) and lowest[int(edge[y])] - y >= below  # lung continues below: heart border
        ]
        if not xs:
            return None
        extremes.append(min(xs) if image_left else max(xs))
    heart = extremes[1] - extremes[0] - 1.0
    return heart / thoracic if heart > 0 else None


def _costophrenic_depth(mask: np.ndarray, image_left: bool) -> float:
    """How far (fraction of lung height) the costophrenic angle dips below the
    diaphragm just medial to it.

    Normally the angle is a deep, sharp recess (positive); fluid fills it with a
    meniscus that rises towards the chest wall (near zero or negative).
    """
    top, bottom = _rows_span(mask)
    height = max(1, bottom - top)
    cols = np.nonzero(mask.any(axis=0))[0]
    width = cols.max() - cols.min() + 1
    lowest = np.where(mask.any(axis=0), mask.shape[0] - 1 - np.argmax(mask[::-1], axis=0), -1)
    from_lateral = lowest[cols.min() : cols.max() + 1] if image_left else lowest[cols.min() : cols.max() + 1][::-1]
    a0, a1 = (int(f * width) for f in EFFUSION_ANGLE_BAND)
    d0, d1 = (int(f * width) for f in EFFUSION_DIAPHRAGM_BAND)
    angle, diaphragm = from_lateral[a0 : max(a0 + 1, a1)], from_lateral[d0 : max(d0 + 1, d1)]
    if angle.size == 0 or diaphragm.size == 0:
        return 0.0
    return (float(angle.max()) - float(diaphragm.max())) / height


def _pneumothorax_step(a: np.ndarray, mask: np.ndarray, image_left: bool) -> float:
    """Largest dark-rim-to-lung step (0..1 grey) along the lateral/apical wall."""
    h, w = mask.shape
    top, bottom = _rows_span(mask)
    cols = np.nonzero(mask.any(axis=0))[0]
    width = cols.max() - cols.min() + 1
    xx = np.arange(w)[None, :]
    yy = np.arange(h)[:, None]
    any_row = mask.any(axis=1)
    if image_left:
        edge = np.where(any_row, np.argmax(mask, axis=1), w)
        lateral = xx < edge[:, None]
    else:
        edge = np.where(any_row, w - 1 - np.argmax(mask[:, ::-1], axis=1), -1)
        lateral = xx > edge[:, None]
    top_row = np.where(mask.any(axis=0), np.argmax(mask, axis=0), h)
    wall = ~mask & (lateral | (yy < top_row[None, :]))
    dist = ndi.distance_transform_edt(~wall)
    d_max = int(PTX_MAX_DEPTH * width)
    roi = mask & (yy < top + PTX_ROWS * (bottom - top)) & (dist <= d_max)
    if not roi.any():
        return 0.0
    bins = np.clip(dist[roi].astype(int), 0, d_max)
    vals = ndi.gaussian_filter(a, 1.0)[roi]
    prof = np.full(d_max + 1, np.nan)
    for d in range(1, d_max + 1):
        sel = vals[bins == d]
        if sel.size >= 5:
            prof[d] = float(np.median(sel))
    best = 0.0
    for d in range(4, d_max - 6):
        outer = prof[2 : d - 1]
        inner = prof[d + 2 : min(d_max + 1, d + 14)]
        outer, inner = outer[~np.isnan(outer)], inner[~np.isnan(inner)]
        if outer.size < 2 or inner.size < 4:
            continue
        best = max(best, float(np.median(inner) - np.median(outer)))
    return best


@dataclass
class _Chest:
    """Shared geometry of a chest film at working scale (image-left lung first)."""

    dark: tuple[np.ndarray, np.ndarray]  # aerated lung (Otsu-dark, holes filled)
    hemithorax: tuple[np.ndarray, np.ndarray]  # hull of each lung and the mirrored other lung
    opacity: np.ndarray  # 0 = aerated lung level, 1 = mediastinum level


def _chest_geometry(a: np.ndarray, dark: tuple[np.ndarray, np.ndarray]) -> _Chest | None:
    """Opacity scale and mirrored hemithorax outlines (so an opacified zone still
    belongs to its hemithorax when the other side is aerated there)."""
    left, right = dark
    cols_l, cols_r = np.nonzero(left.any(axis=0))[0], np.nonzero(right.any(axis=0))[0]
    between = a[:, cols_l.max() + 1 : cols_r.min()]
    top = min(_rows_span(left)[0], _rows_span(right)[0])
    bottom = max(_rows_span(left)[1], _rows_span(right)[1])
    if between.size == 0:
        return None
    lung_ref = float(np.median(a[left | right]))
    tissue_ref = float(np.median(between[top:bottom]))
    if tissue_ref - lung_ref < 0.05:
        return None
    opacity = (ndi.gaussian_filter(a, 1.0) - lung_ref) / (tissue_ref - lung_ref)
    axis = (cols_l.min() + cols_r.max()) / 2.0
    w = a.shape[1]

    def mirrored(mask: np.ndarray) -> np.ndarray:
        out = np.zeros_like(mask)
        ys, xs = np.nonzero(mask)
        mx = np.rint(2 * axis - xs).astype(int)
        ok = (mx >= 0) & (mx < w)
        out[ys[ok], mx[ok]] = True
        return out

    hulls = tuple(
        _polygon_mask(_convex_hull(_boundary_points(own | mirrored(other))), a.shape)
        for own, other in ((left, right), (right, left))
    )
    return _Chest(dark=dark, hemithorax=(hulls[0], hulls[1]), opacity=opacity)


def _patchy_opacity(chest: _Chest) -> np.ndarray:
    """Pixels of intermediate opacity (denser than lung, lighter than soft tissue)
    inside the hemithoraces, with thin structures (vessels, rib edges) opened away."""
    lo, hi = CONSOLIDATION_OPACITY
    inside = chest.hemithorax[0] | chest.hemithorax[1]
    return _open(inside & (chest.opacity >= lo) & (chest.opacity <= hi), CONSOLIDATION_OPEN_PX)


def _in_patch(patches: np.ndarray, y: float, x: float, rad: float) -> bool:
    """Whether a blob is part of a larger patch of opacity (not an isolated nodule)."""
    labels, _ = ndi.label(patches)
    r = int(math.ceil(rad))
    yi, xi = int(round(y)), int(round(x))
    window = labels[max(0, yi - r) : yi + r + 1, max(0, xi - r) : xi + r + 1]
    ids = np.unique(window[window > 0])
    if len(ids) == 0:
        return False
    sizes = np.bincount(labels.ravel())[ids]
    return float(sizes.max()) > NODULE_MAX_PATCH_RATIO * math.pi * rad**2


def _consolidated_zones(chest: _Chest, patches: np.ndarray, exclude: np.ndarray) -> list[str]:
    """'right lower'-style names of lung zones with patchy airspace opacity."""
    found: list[str] = []
    for hull, side in zip(chest.hemithorax, ("right", "left"), strict=True):
        cand = _open(patches & hull & ~exclude, CONSOLIDATION_OPEN_PX)
        t, b = _rows_span(hull)
        for k, zone in enumerate(("upper", "mid", "lower")):
            r0, r1 = int(t + k * (b - t) / 3), int(t + (k + 1) * (b - t) / 3)
            area = float(hull[r0:r1].sum())
            if area > 0 and float(cand[r0:r1].sum()) / area >= CONSOLIDATION_MIN_FRACTION:
                found.append(f"{side} {zone}")
    return found


def _ring_aerated(opacity: np.ndarray, y: float, x: float, rad: float) -> float:
    """Share of the narrow ring just outside a blob's edge that is aerated lung."""
    inner, outer = NODULE_AERATED_RING
    r = int(math.ceil(outer * rad))
    yi, xi = int(round(y)), int(round(x))
    y0, x0 = max(0, yi - r), max(0, xi - r)
    patch = opacity[y0 : yi + r + 1, x0 : xi + r + 1]
    yy, xx = np.mgrid[0 : patch.shape[0], 0 : patch.shape[1]]
    d = np.hypot(yy - (yi - y0), xx - (xi - x0))
    ring = (d > inner * rad) & (d <= outer * rad)
    return float((patch[ring] < NODULE_RING_MAX_OPACITY).mean()) if ring.any() else 0.0


def _nodule_diameter(full: np.ndarray, x: float, y: float, radius: float) -> tuple[float, float, float]:
    """(diameter px, edge sharpness, edge roundness) from radial profiles at full resolution.

    The edge is the steepest fall of the median radial profile; each ray then
    refines it near that radius. The diameter is twice the median ray edge
    (plus NODULE_EDGE_BIAS_PX for the blurred edge). Roundness is the share of
    rays whose edge lies within NODULE_EDGE_TOLERANCE of the median and drops by
    at least NODULE_MIN_RAY_DROP of the median drop (a rib crossing is a
    parallelogram, not a circle). Sharpness is the steepest slope of the median
    profile x radius / contrast (fluffy opacities are low).
    """
    step = NODULE_PROFILE_STEP
    r = np.arange(0.0, 2.2 * radius + step, step)
    ang = np.linspace(0.0, 2 * math.pi, NODULE_PROFILE_ANGLES, endpoint=False)
    xs = x + r[None, :] * np.cos(ang)[:, None]
    ys = y + r[None, :] * np.sin(ang)[:, None]
    vals = ndi.map_coordinates(full, [ys.ravel(), xs.ravel()], order=1, mode="nearest").reshape(len(ang), len(r))
    rays = ndi.gaussian_filter1d(vals, 0.7 / step, axis=1)
    prof = np.median(rays, axis=0)
    slope = np.gradient(prof, step)
    idx = np.nonzero((r >= 0.35 * radius) & (r <= 1.7 * radius))[0]
    if len(idx) == 0:
        return 2 * radius, 0.0, 0.0
    k = int(idx[np.argmin(slope[idx])])
    edge0 = float(r[k])
    contrast = float(prof[0] - prof[-1])
    sharp = float(-slope[k] * edge0 / contrast) if contrast > 1e-6 else 0.0
    near = np.nonzero((r >= 0.6 * edge0) & (r <= 1.4 * edge0))[0]
    # steepest fall on each ray, favouring radii close to the median-profile edge
    prior = 1.0 - 0.6 * np.abs(r[near] - edge0) / edge0
    ray_slopes = np.gradient(rays, step, axis=1)[:, near] * prior[None, :]
    edges = r[near[np.argmin(ray_slopes, axis=1)]]
    edge = float(np.median(edges))
    lag = max(1, int(round(2.0 / step)))
    inner = np.clip(np.searchsorted(r, edges) - lag, 0, len(r) - 1)
    outer = np.clip(np.searchsorted(r, edges) + lag, 0, len(r) - 1)
    drops = rays[np.arange(len(ang)), inner] - rays[np.arange(len(ang)), outer]
    typical = float(np.median(drops))
    ok = (np.abs(edges - edge) <= NODULE_EDGE_TOLERANCE * edge + 1.0) & (drops >= NODULE_MIN_RAY_DROP * typical)
    roundness = float(ok.mean()) if typical > 0 else 0.0
    return 2.0 * (edge + NODULE_EDGE_BIAS_PX), sharp, roundness


def _zone(rel_y: float) -> Literal["upper", "mid", "lower"]:
    return "upper" if rel_y < 1 / 3 else "mid" if rel_y < 2 / 3 else "lower"


def _nodule_candidates(
    a: np.ndarray, scale: float, ppm: float | None, lungs: tuple[np.ndarray, np.ndarray] | None, chest: _Chest | None
) -> tuple[bool, list[np.ndarray], list[tuple[float, float, float, float, float, int]], list[bool]]:
    """(chest found, lung fields, raw LoG detections, field is on the image left).

    Uncalibrated films keep the original pixel-scale detector; calibrated ones
    search nodule sizes in mm inside the hulls of the aerated lungs.
    """
    if ppm is None:
        fields = _lung_fields(ndi.gaussian_filter(a, 2.0))
        found = _is_chest(fields, a.shape)
    else:
        found = lungs is not None and chest is not None
        fields = [_polygon_mask(_convex_hull(_boundary_points(m)), a.shape) for m in lungs] if lungs else []
    if not found:
        return False, fields, [], []
    centres_x = [float(ndi.center_of_mass(f)[1]) for f in fields]
    on_image_left = [cx < float(np.mean(centres_x)) for cx in centres_x]
    if ppm is None:
        return True, fields, _detect_nodules(a, fields, on_image_left), on_image_left
    to_sigma = ppm * scale / (2.0 * math.sqrt(2.0))
    sigmas = tuple(d * to_sigma for d in CAL_NODULE_DIAMETERS_MM if d * to_sigma >= CAL_NODULE_MIN_SIGMA)
    found_blobs = _detect_nodules(
        a,
        fields,
        on_image_left,
        sigmas,
        CAL_NODULE_MIN_RESPONSE,
        CAL_NODULE_MIN_CONTRAST,
        CAL_NODULE_MIN_RING_IN_LUNG,
        margins=CAL_NODULE_MARGINS,
        decimate=True,
    )
    return True, fields, found_blobs, on_image_left


def _keep_calibrated(
    full: np.ndarray,
    scale: float,
    ppm: float,
    chest: _Chest | None,
    patches: np.ndarray | None,
    x: float,
    y: float,
    rad: float,
) -> float | None:
    """Diameter (full-res px) of a candidate that passes the calibrated nodule tests, else None."""
    diameter, sharp, roundness = _nodule_diameter(full, x / scale, y / scale, rad / scale)
    if sharp < CAL_NODULE_MIN_SHARPNESS or roundness < CAL_NODULE_MIN_EDGE_ROUNDNESS:
        return None
    if diameter / ppm < CAL_NODULE_MIN_DIAMETER_MM:
        return None
    edge_radius = diameter * scale / 2
    if chest is not None and _ring_aerated(chest.opacity, y, x, edge_radius) < NODULE_MIN_RING_AERATED:
        return None  # a blob inside consolidation or at the chest wall, not an isolated nodule
    if patches is not None and _in_patch(patches, y, x, edge_radius):
        return None
    return diameter


def _drop_consolidation_blobs(nodules: list[Nodule], consolidation: list[str]) -> list[Nodule]:
    """Small round blobs in or next to a consolidated zone belong to the consolidation."""
    order = ("upper", "mid", "lower")
    zones = [(z.split()[0], order.index(z.split()[1])) for z in consolidation]
    return [
        n
        for n in nodules
        if (n.diameter_mm or 0.0) >= NODULE_IN_CONSOLIDATION_MIN_MM
        or not any(side == n.side and abs(k - order.index(n.zone)) <= 1 for side, k in zones)
    ]


def analyse_radiograph(img: Image.Image) -> RadiographFeatures:
    """Find lung fields and round opacities (sides are the patient's).

    On a calibrated film (a radio-opaque 50 mm ruler, as on the chest phantom)
    nodules are also measured in mm, and the cardiothoracic ratio, effusions, a
    pneumothorax and patchy consolidation are assessed. These detectors are
    tuned on the phantom only, so uncalibrated (real) films report
    ``px_per_mm=None``, ``cardiothoracic_ratio=None``, no effusion, no
    pneumothorax and no consolidation: not assessed, rather than normal.
    """
    a, scale = _work_copy(img)
    gray8 = np.asarray(img.convert("L"))
    full = gray8.astype(np.float64)
    ruler = _find_ruler(gray8)
    ppm = ruler / RULER_MM if ruler else None
    lungs = _dark_lungs(a)
    chest = _chest_geometry(a, lungs) if lungs is not None else None
    patches = _patchy_opacity(chest) if chest is not None and ppm is not None else None
    found, fields, candidates, on_image_left = _nodule_candidates(a, scale, ppm, lungs, chest)
    boxes = [ndi.find_objects(f.astype(int))[0] for f in fields] if found else []
    nodules: list[Nodule] = []
    for score, x, y, rad, contrast, k in candidates:
        diameter: float | None = 2 * rad / scale
        if ppm is not None:
            diameter = _keep_calibrated(full, scale, ppm, chest, patches, x, y, rad)
        if diameter is None:
            continue
        sl = boxes[k]
        nodules.append(
            Nodule(
                x=round(x / scale, 1),
                y=round(y / scale, 1),
                diameter_px=round(diameter, 1),
                side="right" if on_image_left[k] else "left",
                zone=_zone((y - sl[0].start) / (sl[0].stop - sl[0].start)),
                score=round(score, 4),
                contrast=round(contrast, 4),
                diameter_mm=round(diameter / ppm, 1) if ppm else None,
            )
        )
    effusion: Literal["none", "right", "left", "bilateral"] = "none"
    pneumothorax: Literal["none", "right", "left"] = "none"
    ctr: float | None = None
    consolidation: list[str] = []
    if found and lungs is not None and chest is not None and ppm is not None:
        left, right = lungs
        ctr = _cardiothoracic_ratio(chest)
        air = [
            _keep_touching(hull & (chest.opacity < EFFUSION_MAX_OPACITY), seed)
            for hull, seed in zip(chest.hemithorax, lungs, strict=True)
        ]
        eff_r = _costophrenic_depth(air[0], True) < EFFUSION_MIN_ANGLE_DEPTH
        eff_l = _costophrenic_depth(air[1], False) < EFFUSION_MIN_ANGLE_DEPTH
        effusion = "bilateral" if eff_r and eff_l else "right" if eff_r else "left" if eff_l else "none"
        steps = (_pneumothorax_step(a, left, True), _pneumothorax_step(a, right, False))
        if max(steps) >= PTX_MIN_STEP:
            pneumothorax = "right" if steps[0] >= steps[1] else "left"
        if patches is not None:  # always on a calibrated film; kept for the type checker
            yy, xx = np.mgrid[0 : a.shape[0], 0 : a.shape[1]]
            exclude = np.zeros(a.shape, dtype=bool)
            for n in nodules:
                exclude |= np.hypot(xx - n.x * scale, yy - n.y * scale) < 0.8 * n.diameter_px * scale
            consolidation = _consolidated_zones(chest, patches, exclude)
            nodules = _drop_consolidation_blobs(nodules, consolidation)
    n_right = sum(n.side == "right" for n in nodules)
    n_left = len(nodules) - n_right
    return RadiographFeatures(
        width=img.width,
        height=img.height,
        mean_intensity=round(float(full.mean()), 2),
        std_intensity=round(float(full.std()), 2),
        lung_field_found=found,
        lung_area_fraction=round(float(np.logical_or.reduce(fields).mean()) if found else 0.0, 4),
        n_nodules=len(nodules),
        nodules=nodules,
        n_right=n_right,
        n_left=n_left,
        bilateral=n_right > 0 and n_left > 0,
        px_per_mm=round(ppm, 4) if ppm else None,
        effusion_side=effusion,
        pneumothorax_side=pneumothorax,
        cardiothoracic_ratio=round(ctr, 4) if ctr is not None else None,
        consolidation=consolidation,
    )


def _largest_mm(f: RadiographFeatures) -> tuple[float | None, float | None]:
    """(largest diameter in mm or None, largest diameter in px or None)."""
    if not f.nodules:
        return None, None
    big = max(f.nodules, key=lambda n: n.diameter_px)
    return big.diameter_mm, big.diameter_px


def _effusion_change(prior: str, current: str) -> str:
    sides = {"none": set(), "right": {"right"}, "left": {"left"}, "bilateral": {"right", "left"}}
    before, now = sides[prior], sides[current]
    if not before and not now:
        return "no pleural effusion on either film"
    if before == now:
        return f"unchanged {'bilateral' if len(now) == 2 else next(iter(now))} pleural effusion"
    parts = [f"new {s} pleural effusion" for s in sorted(now - before)]
    parts += [f"{s} pleural effusion resolved" for s in sorted(before - now)]
    return ", ".join(parts)


def compare_radiographs(prior: RadiographFeatures, current: RadiographFeatures) -> RadiographChange:
    """Growth of the largest nodule, new nodules and effusion change (sides are the patient's).

    mm figures need a ruler on both films; otherwise growth is judged from pixel
    sizes, assuming the same magnification.
    """
    prior_mm, prior_px = _largest_mm(prior)
    current_mm, current_px = _largest_mm(current)
    growth_mm: float | None = None
    relative: float | None = None
    if prior_mm and current_mm:
        growth_mm = round(current_mm - prior_mm, 1)
        relative = current_mm / prior_mm - 1.0
    elif prior_px and current_px:
        relative = current_px / prior_px - 1.0
    scale = current.px_per_mm
    match_px = NODULE_MATCH_MM * scale if scale else NODULE_MATCH_FRACTION * max(current.width, current.height)
    new = 0
    for n in current.nodules:
        near = [
            p
            for p in prior.nodules
            if p.side == n.side and math.hypot(p.x - n.x, p.y - n.y) <= match_px + (n.diameter_px + p.diameter_px) / 4
        ]
        new += 0 if near else 1
    return RadiographChange(
        largest_nodule_prior_mm=prior_mm,
        largest_nodule_current_mm=current_mm,
        nodule_growth_mm=growth_mm,
        relative_growth=round(relative, 4) if relative is not None else None,
        grew=relative is not None and relative > NODULE_GROWTH_THRESHOLD,
        new_nodules=new,
        effusion_change=_effusion_change(prior.effusion_side, current.effusion_side),
    )


# ================================================================== fundus


def _fundus_field(rgb: np.ndarray) -> tuple[np.ndarray, tuple[float, float], float]:
    """Field-of-view mask, its centre (x, y) and radius."""
    lit = rgb.max(axis=-1) > FUNDUS_FIELD_MIN
    field = _fill_holes(_largest_component(ndi.binary_opening(lit, iterations=2)))
    ys, xs = np.nonzero(field)
    if len(ys) == 0:
        return field, (rgb.shape[1] / 2.0, rgb.shape[0] / 2.0), 0.0
    return field, (float(xs.mean()), float(ys.mean())), math.sqrt(len(ys) / math.pi)


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing; large sigmas run on a block-averaged grid and are interpolated back."""
    step = max(1, int(sigma // 4))
    if step == 1:
        return np.asarray(ndi.gaussian_filter(values, sigma))
    h, w = values.shape
    ph, pw = -h % step, -w % step
    padded = np.pad(values, ((0, ph), (0, pw)), mode="edge")
    coarse = padded.reshape(padded.shape[0] // step, step, padded.shape[1] // step, step).mean(axis=(1, 3))
    coarse = ndi.gaussian_filter(coarse, sigma / step)
    coords = (np.mgrid[0:h, 0:w].astype(np.float64) - (step - 1) / 2.0) / step
    return np.asarray(ndi.map_coordinates(coarse, coords, order=1, mode="nearest"))


def _masked_smooth(values: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    """Normalised convolution: smooth ``values`` using only pixels with weight."""
    num = _smooth(values * weight, sigma)
    den = _smooth(weight.astype(np.float64), sigma)
    return num / np.maximum(den, 1e-6)


def _fundus_background(ch: np.ndarray, field: np.ndarray, radius: float) -> np.ndarray:
    """Smooth illumination estimate of one channel, ignoring vessels, lesions and the disc."""
    sigma = max(2.0, FUNDUS_BG_SIGMA * radius)
    inner = _erode(field, 3.0)
    weight = inner.astype(np.float64)
    bg = _masked_smooth(ch, weight, sigma)
    for _ in range(2):
        keep = inner & (np.abs(ch / np.maximum(bg, 1e-3) - 1.0) < FUNDUS_BG_OUTLIER)
        bg = _masked_smooth(ch, keep.astype(np.float64), sigma)
    return np.maximum(bg, 1e-3)


def _find_disc(
    rgb: np.ndarray, field: np.ndarray, radius: float
) -> tuple[np.ndarray, tuple[float, float], float, float] | None:
    """Disc mask, centre, horizontal and vertical radius (work pixels), or None.

    The disc is the brightest blob of about the expected size; it is segmented
    in a window after a grey closing has erased the vessels crossing it.
    """
    lum = (rgb[..., 0] + rgb[..., 1]) / 2.0
    r0 = DISC_RADIUS_GUESS * radius
    inner = _erode(field, 0.08 * radius)
    blob = _smooth(lum, 0.5 * r0) - _masked_smooth(lum, field.astype(np.float64), 2.0 * r0)
    blob[~inner] = -np.inf
    cy, cx = np.unravel_index(int(np.argmax(blob)), blob.shape)
    h, w = lum.shape
    m = int(2.8 * r0)
    y0, y1, x0, x1 = max(0, cy - m), min(h, cy + m + 1), max(0, cx - m), min(w, cx + m + 1)
    vessel_r = max(2, round(VESSEL_ERASE_FRACTION * radius))
    g = ndi.grey_closing(ndi.gaussian_filter(rgb[y0:y1, x0:x1, 1], 1.0), footprint=_disk(vessel_r))
    yy, xx = np.mgrid[y0:y1, x0:x1]
    d = np.hypot(xx - cx, yy - cy)
    ring = (d > 1.8 * r0) & (d < 2.6 * r0) & field[y0:y1, x0:x1]
    if not ring.any():
        return None
    bg = float(np.median(g[ring]))
    peak = float(np.percentile(g[d < 1.2 * r0], 95))
    if peak < bg * (1.0 + DISC_MIN_CONTRAST):
        return None
    cand = (g > bg + DISC_THRESHOLD_FRACTION * (peak - bg)) & (d < 2.2 * r0)
    labels, _ = ndi.label(cand)
    core = labels[(d < 0.5 * r0) & cand]
    ids, counts = np.unique(core[core > 0], return_counts=True)
    if len(ids) == 0:
        return None
    local = _open(_fill_holes(labels == ids[int(np.argmax(counts))]), 3.0)
    if local.sum() < math.pi * (0.3 * r0) ** 2:
        return None
    mask = np.zeros(lum.shape, dtype=bool)
    mask[y0:y1, x0:x1] = local
    ys, xs = np.nonzero(mask)
    rx = (xs.max() - xs.min() + 1) / 2.0
    ry = (ys.max() - ys.min() + 1) / 2.0
    return mask, ((xs.max() + xs.min()) / 2.0, (ys.max() + ys.min()) / 2.0), rx, ry


def _disk(radius: int) -> np.ndarray:
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return np.asarray(xx**2 + yy**2 <= radius**2)


def _cup_ratio(rgb: np.ndarray, disc: np.ndarray, radius: float) -> float | None:
    """Vertical cup-to-disc ratio: extent of the palest part of the (vessel-erased) disc."""
    ys, xs = np.nonzero(disc)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    region = disc[y0:y1, x0:x1]
    pale = (rgb[y0:y1, x0:x1, 1] + rgb[y0:y1, x0:x1, 2]) / 2.0
    vessel_r = max(2, round(VESSEL_ERASE_FRACTION * radius))
    pale = ndi.grey_closing(ndi.gaussian_filter(pale, 1.0), footprint=_disk(vessel_r))
    dist = ndi.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    inside = region & (dist > 1.5 + 0.5 * vessel_r)
    if inside.sum() < 20:
        return None
    # rim level: a thin band just inside the disc margin, above its vessels
    band = region & (dist >= 1.5) & (dist <= 1.5 + max(2.0, CUP_RIM_BAND * (y1 - y0) / 2.0))
    if not band.any():
        return None
    rim = float(np.percentile(pale[band], CUP_RIM_PERCENTILE))
    peak = float(ndi.gaussian_filter(pale, 1.5)[inside].max())
    if peak - rim < CUP_MIN_STEP:
        return None
    # rows in which some part of the disc is cup-pale: vessels crossing the cup
    # hide parts of a row, rarely all of it
    row_best = np.where(inside, pale, -np.inf).max(axis=1)
    is_cup = row_best > rim + CUP_THRESHOLD_FRACTION * (peak - rim)
    peak_row = int(np.argmax(row_best))
    lo = hi = peak_row
    while lo > 0 and is_cup[lo - 1]:
        lo -= 1
    while hi < len(is_cup) - 1 and is_cup[hi + 1]:
        hi += 1
    return float((hi - lo + 1) / (y1 - y0))


def _margin_width(g: np.ndarray, centre: tuple[float, float], rx: float, ry: float) -> float | None:
    """Width (in disc radii) of the disc margin: the rim-to-background step of the
    median radial profile divided by its steepest slope (a sharp margin is narrow)."""
    angles = np.linspace(0.0, 2 * math.pi, 90, endpoint=False)
    rho = np.linspace(0.4, 2.2, 181)
    xs = centre[0] + rho[None, :] * rx * np.cos(angles)[:, None]
    ys = centre[1] + rho[None, :] * ry * np.sin(angles)[:, None]
    prof = ndi.map_coordinates(ndi.gaussian_filter(g, 1.0), [ys.ravel(), xs.ravel()], order=1, mode="nearest")
    prof = np.median(prof.reshape(len(angles), len(rho)), axis=0)
    hi = float(np.median(prof[(rho >= 0.8) & (rho <= 0.95)]))
    lo = float(np.median(prof[rho >= 1.8]))
    near = (rho >= 0.7) & (rho <= 1.5)
    steepest = float(-np.gradient(prof, rho)[near].min())
    if hi - lo <= 1e-3 or steepest <= 1e-6:
        return None
    return (hi - lo) / steepest


def _elongation(ys: np.ndarray, xs: np.ndarray) -> float:
    if len(ys) < 3:
        return 1.0
    cov = np.cov(np.stack([xs, ys]).astype(np.float64))
    ev = np.linalg.eigvalsh(cov)
    return float(math.sqrt(max(ev[1], 1e-6) / max(ev[0], 1e-6)))


def _fovea(
    g: np.ndarray, field: np.ndarray, centre: tuple[float, float], radius: float, disc_xy: tuple[float, float] | None
) -> tuple[float, float]:
    """Darkest smooth spot near the centre, away from the disc."""
    sm = _masked_smooth(g, field.astype(np.float64), 0.04 * radius)
    h, w = g.shape
    yy, xx = np.mgrid[0:h, 0:w]
    ok = field & (np.hypot(xx - centre[0], yy - centre[1]) < 0.6 * radius)
    if disc_xy is not None:
        ok &= np.hypot(xx - disc_xy[0], yy - disc_xy[1]) > 0.35 * radius
    sm = np.where(ok, sm, np.inf)
    fy, fx = np.unravel_index(int(np.argmin(sm)), sm.shape)
    return float(fx), float(fy)


def _count_red(contrast: np.ndarray, allowed: np.ndarray, radius: float, fovea: tuple[float, float]) -> tuple[int, int]:
    """(haemorrhages, microaneurysms) among dark non-vessel components."""
    max_area = VESSEL_MIN_AREA_FRACTION * math.pi * radius**2
    faint = contrast < -VESSEL_LOW_CONTRAST
    faint_labels, _ = ndi.label(faint)
    sizes = np.bincount(faint_labels.ravel())
    sizes[0] = 0
    vessels = (sizes > max_area)[faint_labels]
    dark = (contrast < -RED_LESION_CONTRAST) & allowed & ~vessels
    labels, _ = ndi.label(dark)
    n_haem = n_ma = 0
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        comp = labels[sl] == i
        area = int(comp.sum())
        if area < RED_LESION_MIN_AREA or area > max_area:
            continue
        ys, xs = np.nonzero(comp)
        half_width = float(ndi.distance_transform_edt(np.pad(comp, 1)).max())
        if _elongation(ys, xs) >= VESSEL_MIN_ELONGATION and half_width <= VESSEL_MAX_HALF_WIDTH:
            continue
        if float(contrast[sl][comp].min()) > -RED_LESION_MIN_PEAK:
            continue
        cy, cx = ys.mean() + sl[0].start, xs.mean() + sl[1].start
        if math.hypot(cx - fovea[0], cy - fovea[1]) < FOVEA_EXCLUSION * radius:
            continue
        diameter = 2.0 * math.sqrt(area / math.pi)
        if diameter < MICROANEURYSM_MAX_DIAMETER * radius:
            n_ma += 1
        else:
            n_haem += 1
    return n_haem, n_ma


def _count_bright(whiteness: np.ndarray, allowed: np.ndarray, radius: float) -> tuple[int, int, int]:
    """(exudates, drusen, cotton wool spots) among bright components (large, bright or soft).

    ``whiteness`` is how far each pixel's green level has moved from the local
    background towards white (0..1), which is comparable across pigmentation.
    """
    bright = (whiteness > BRIGHT_LESION_WHITENESS) & allowed
    labels, _ = ndi.label(bright)
    n_ex = n_dr = n_cw = 0
    h, w = whiteness.shape
    for i, sl in enumerate(ndi.find_objects(labels), start=1):
        if sl is None:
            continue
        comp = labels[sl] == i
        area = int(comp.sum())
        if area < BRIGHT_LESION_MIN_AREA:
            continue
        pad = int(2.0 * math.sqrt(area / math.pi)) + 3
        y0, y1 = max(0, sl[0].start - pad), min(h, sl[0].stop + pad)
        x0, x1 = max(0, sl[1].start - pad), min(w, sl[1].stop + pad)
        win = whiteness[y0:y1, x0:x1]
        seed = np.zeros(win.shape, dtype=bool)
        seed[sl[0].start - y0 : sl[0].stop - y0, sl[1].start - x0 : sl[1].stop - x0] = comp
        peak = float(win[seed].max())
        low = _keep_touching(win > SHARPNESS_LOW * peak, seed)
        high = (win > SHARPNESS_HIGH * peak) & low
        if 2.0 * math.sqrt(float(low.sum()) / math.pi) >= COTTON_WOOL_MIN_DIAMETER * radius:
            n_cw += 1
        elif peak >= EXUDATE_MIN_WHITENESS or float(high.sum()) / max(1.0, float(low.sum())) >= EXUDATE_MIN_SHARPNESS:
            n_ex += 1
        else:
            n_dr += 1
    return n_ex, n_dr, n_cw


def _fundus_work(img: Image.Image) -> tuple[np.ndarray, float]:
    rgb_img = img.convert("RGB")
    scale = min(1.0, FUNDUS_WORK_SIDE / max(rgb_img.size))
    if scale < 1.0:
        size = (max(1, round(rgb_img.width * scale)), max(1, round(rgb_img.height * scale)))
        rgb_img = rgb_img.resize(size, Image.Resampling.LANCZOS)
    return np.asarray(rgb_img, dtype=np.float64) / 255.0, scale


def analyse_fundus(img: Image.Image) -> FundusFeatures:
    """Find the optic disc and cup and count retinal lesions in a fundus photo.

    Lesions are dark (red) or bright spots in the green channel relative to a
    smooth illumination estimate. Dark ones that are not vessel pieces are
    microaneurysms (tiny) or haemorrhages; bright ones are cotton wool spots
    (large), exudates (sharp) or drusen (soft).
    """
    rgb, scale = _fundus_work(img)
    field, centre, radius = _fundus_field(rgb)
    empty = FundusFeatures(
        field_found=False,
        disc_found=False,
        cup_to_disc=None,
        n_haemorrhages=0,
        n_exudates=0,
        n_microaneurysms=0,
        n_cotton_wool_spots=0,
        n_drusen=0,
        disc_margin_blurred=False,
    )
    if radius < 40:
        return empty
    g = rgb[..., 1]
    disc = _find_disc(rgb, field, radius)
    cdr: float | None = None
    width: float | None = None
    disc_xy: tuple[float, float] | None = None
    disc_r = DISC_RADIUS_GUESS * radius
    if disc is not None:
        mask, disc_xy, rx, ry = disc
        disc_r = max(rx, ry)
        width = _margin_width(g, disc_xy, rx, ry)
        if width is None or width <= DISC_BLUR_WIDTH:
            cdr = _cup_ratio(rgb, mask, radius)  # a swollen disc hides its cup
    h, w = g.shape
    yy, xx = np.mgrid[0:h, 0:w]
    allowed = _erode(field, 0.04 * radius)
    if disc_xy is not None:
        allowed &= np.hypot(xx - disc_xy[0], yy - disc_xy[1]) > LESION_DISC_EXCLUSION * disc_r
    bg = _fundus_background(g, field, radius)
    contrast = g / bg - 1.0
    whiteness = (g - bg) / np.maximum(1.0 - bg, 1e-3)
    fovea = _fovea(g, field, centre, radius, disc_xy)
    n_haem, n_ma = _count_red(contrast, allowed, radius, fovea)
    n_ex, n_dr, n_cw = _count_bright(whiteness, allowed, radius)
    eye: Literal["right", "left"] | None = None
    if disc_xy is not None:
        eye = "right" if disc_xy[0] > fovea[0] else "left"
    return FundusFeatures(
        field_found=True,
        disc_found=disc is not None,
        disc_centre=(round(disc_xy[0] / scale, 1), round(disc_xy[1] / scale, 1)) if disc_xy else None,
        disc_diameter_px=round(2 * disc_r / scale, 1) if disc is not None else None,
        eye=eye,
        cup_to_disc=round(cdr, 3) if cdr is not None else None,
        n_haemorrhages=n_haem,
        n_exudates=n_ex,
        n_microaneurysms=n_ma,
        n_cotton_wool_spots=n_cw,
        n_drusen=n_dr,
        disc_margin_blurred=width is not None and width > DISC_BLUR_WIDTH,
        disc_margin_width=round(width, 4) if width is not None else None,
    )


def compare_fundus(prior: FundusFeatures, current: FundusFeatures) -> FundusChange:
    """Lesion count changes (current minus prior) and whether disease progressed."""
    changes = {
        "haemorrhages": current.n_haemorrhages - prior.n_haemorrhages,
        "exudates": current.n_exudates - prior.n_exudates,
        "microaneurysms": current.n_microaneurysms - prior.n_microaneurysms,
        "cotton_wool_spots": current.n_cotton_wool_spots - prior.n_cotton_wool_spots,
        "drusen": current.n_drusen - prior.n_drusen,
    }
    before = {
        "haemorrhages": prior.n_haemorrhages,
        "exudates": prior.n_exudates,
        "microaneurysms": prior.n_microaneurysms,
        "cotton_wool_spots": prior.n_cotton_wool_spots,
        "drusen": prior.n_drusen,
    }
    worse = any(d >= PROGRESSION_MIN_NEW and d >= PROGRESSION_MIN_RELATIVE * before[k] for k, d in changes.items())
    cdr_change = (
        round(current.cup_to_disc - prior.cup_to_disc, 3)
        if current.cup_to_disc is not None and prior.cup_to_disc is not None
        else None
    )
    new_swelling = current.disc_margin_blurred and not prior.disc_margin_blurred
    return FundusChange(
        haemorrhages_change=changes["haemorrhages"],
        exudates_change=changes["exudates"],
        microaneurysms_change=changes["microaneurysms"],
        cotton_wool_spots_change=changes["cotton_wool_spots"],
        drusen_change=changes["drusen"],
        cup_to_disc_change=cdr_change,
        new_disc_swelling=new_swelling,
        progressed=worse or new_swelling or (cdr_change is not None and cdr_change >= CUP_PROGRESSION),
    )

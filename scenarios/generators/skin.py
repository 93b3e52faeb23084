"""Seeded procedural close-up photos of pigmented skin lesions.

The lesion outline is a radial function ``r(theta)``: low harmonics (k=1..3)
scaled by ``asymmetry`` and high harmonics (k=5..16) scaled by
``border_irregularity``. The harmonic phases depend only on ``seed``, so two
parameter sets sharing a seed give the same lesion "family" (use this for
prior/current pairs). The outline is scaled so its maximum Feret diameter is
exactly ``diameter_mm * px_per_mm``. Pigment is applied multiplicatively
(optical density) so each named colour is relative to the skin tone.

A white label strip along the bottom carries a dark scale bar of exactly
``SCALE_BAR_MM`` millimetres.
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from scipy import ndimage

from scenarios.generators.noise import smooth_noise as _smooth_noise

__all__ = [
    "LESION_COLOURS",
    "SKIN_TONES",
    "SCALE_BAR_MM",
    "SkinLesionParams",
    "generate_skin_lesion",
    "generate_skin_lesion_with_mask",
    "lesion_outline",
    "derive_prior",
    "generate_pair",
]

#: Per-channel transmittance of each pigment relative to the skin (RGB).
LESION_COLOURS: dict[str, tuple[float, float, float]] = {
    "light-brown": (0.78, 0.64, 0.52),
    "dark-brown": (0.46, 0.34, 0.27),
    "black": (0.17, 0.15, 0.15),
    "blue-grey": (0.52, 0.58, 0.74),
    "red": (0.88, 0.52, 0.52),
}

#: Base skin colours (sRGB 0..255).
SKIN_TONES: dict[str, tuple[int, int, int]] = {
    "fair": (236, 202, 182),
    "light": (226, 184, 154),
    "medium": (200, 152, 116),
}

SCALE_BAR_MM = 5.0
LABEL_STRIP_FRACTION = 0.09
LABEL_STRIP_MIN_PX = 40
LESION_MARGIN_PX = 4
_ASYM_AMPLITUDES = (0.20, 0.10, 0.12)  # harmonics k = 1, 2, 3
_IRREG_HARMONICS = tuple(range(5, 17))
_IRREG_RMS = 0.075  # rms radial deviation at border_irregularity = 1
_BASE_ELLIPTICITY = 0.04
_OUTLINE_SAMPLES = 1440

Unit = Annotated[float, Field(ge=0.0, le=1.0)]


class SkinLesionParams(BaseModel):
    """Parameters (and exact ground truth) of one synthetic lesion photo."""

    model_config = ConfigDict(frozen=True)

    diameter_mm: float = Field(gt=0.0)
    asymmetry: Unit = 0.0
    border_irregularity: Unit = 0.0
    colours: list[str] = Field(default_factory=lambda: ["dark-brown"], min_length=1, max_length=4)
    skin_tone: str = "light"
    px_per_mm: float = Field(default=20.0, gt=0.0)
    size_px: int = Field(default=640, ge=128, le=4096)
    center_offset_mm: tuple[float, float] = (0.0, 0.0)
    seed: int = 0

    @field_validator("colours")
    @classmethod
    def _check_colours(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in LESION_COLOURS]
        if unknown:
            raise ValueError(f"unknown colours {unknown}; choose from {sorted(LESION_COLOURS)}")
        if len(set(value)) != len(value):
            raise ValueError("colours must be distinct")
        return value

    @field_validator("skin_tone")
    @classmethod
    def _check_tone(cls, value: str) -> str:
        if value not in SKIN_TONES:
            raise ValueError(f"unknown skin_tone {value!r}; choose from {sorted(SKIN_TONES)}")
        return value

    @model_validator(mode="after")
    def _check_fits(self) -> SkinLesionParams:
        bar = SCALE_BAR_MM * self.px_per_mm
        if bar > 0.7 * self.size_px:
            raise ValueError("scale bar does not fit: lower px_per_mm or raise size_px")
        return self

    @property
    def strip_px(self) -> int:
        """Height of the white label strip at the bottom."""
        return max(LABEL_STRIP_MIN_PX, round(LABEL_STRIP_FRACTION * self.size_px))

    @property
    def scale_bar_px(self) -> int:
        """Exact length of the drawn scale bar in pixels."""
        return round(SCALE_BAR_MM * self.px_per_mm)


# --------------------------------------------------------------------- shape


def _shape_coefficients(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Seed-only harmonic amplitudes/phases (identical for a lesion family)."""
    rng = np.random.default_rng([seed, 101])
    asym_amp = np.asarray(_ASYM_AMPLITUDES) * rng.uniform(0.75, 1.25, 3)
    asym_phase = rng.uniform(0.0, 2 * math.pi, 3)
    k = np.asarray(_IRREG_HARMONICS, dtype=float)
    irr_amp = rng.uniform(0.3, 1.7, k.size) * (k[0] / k)
    irr_amp *= _IRREG_RMS / math.sqrt(float(np.sum(irr_amp**2)) / 2.0)
    irr_phase = rng.uniform(0.0, 2 * math.pi, k.size)
    ellipse_phase = float(rng.uniform(0.0, math.pi))
    return asym_amp, asym_phase, irr_amp, irr_phase, ellipse_phase


def _unit_radius(theta: np.ndarray, params: SkinLesionParams) -> np.ndarray:
    asym_amp, asym_phase, irr_amp, irr_phase, ell_phase = _shape_coefficients(params.seed)
    r = 1.0 + _BASE_ELLIPTICITY * np.cos(2 * theta + ell_phase)
    for k, (a, p) in enumerate(zip(asym_amp, asym_phase, strict=True), start=1):
        r += params.asymmetry * a * np.cos(k * theta + p)
    for k, a, p in zip(_IRREG_HARMONICS, irr_amp, irr_phase, strict=True):
        r += params.border_irregularity * a * np.cos(k * theta + p)
    return np.maximum(r, 0.25)


def _max_feret(x: np.ndarray, y: np.ndarray) -> float:
    pts = np.stack([x, y], axis=1)[::2]
    d2 = np.sum((pts[:, None, :] - pts[None, :, :]) ** 2, axis=-1)
    return float(math.sqrt(d2.max()))


def lesion_outline(params: SkinLesionParams) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(theta, radius_px)`` samples of the lesion outline."""
    theta = np.linspace(0.0, 2 * math.pi, _OUTLINE_SAMPLES, endpoint=False)
    r = _unit_radius(theta, params)
    feret = _max_feret(r * np.cos(theta), r * np.sin(theta))
    return theta, r * (params.diameter_mm * params.px_per_mm / feret)


# ------------------------------------------------------------------ textures



def _skin_background(params: SkinLesionParams, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    tone = np.asarray(SKIN_TONES[params.skin_tone], dtype=float) / 255.0
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    cx, cy = w / 2.0, h / 2.0
    ang = rng.uniform(0.0, 2 * math.pi)
    vignette = 1.0 - 0.10 * (((xx - cx) ** 2 + (yy - cy) ** 2) / (cx**2 + cy**2))
    gradient = 1.0 + 0.04 * (((xx - cx) * math.cos(ang) + (yy - cy) * math.sin(ang)) / max(cx, cy))
    light = vignette * gradient
    mottle = 0.012 * _smooth_noise(rng, (h, w), 14.0) + 0.010 * _smooth_noise(rng, (h, w), 2.5)
    redness = 0.015 * _smooth_noise(rng, (h, w), 40.0)
    img = tone[None, None, :] * (light * (1.0 + mottle))[..., None]
    img[..., 1] *= 1.0 - np.clip(redness, 0, None)
    img[..., 2] *= 1.0 - np.clip(redness, 0, None)
    pores = np.zeros((h, w))
    n_pores = int(h * w / 900)
    py = rng.integers(0, h, n_pores)
    px = rng.integers(0, w, n_pores)
    pores[py, px] = rng.uniform(0.5, 1.0, n_pores)
    pores = ndimage.gaussian_filter(pores, 0.9) * 2 * math.pi * 0.81
    img *= (1.0 - 0.10 * np.clip(pores, 0, 1))[..., None]
    return img


def _hair_mask(params: SkinLesionParams, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(2, 6))):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        ang = rng.uniform(0, 2 * math.pi)
        bend = rng.uniform(-0.02, 0.02)
        length = rng.uniform(0.15, 0.35) * w
        pts = []
        for _step in range(int(length / 4)):
            pts.append((x, y))
            x += 4 * math.cos(ang)
            y += 4 * math.sin(ang)
            ang += bend
        draw.line(pts, fill=int(rng.integers(120, 200)), width=int(rng.integers(1, 3)))
    return ndimage.gaussian_filter(np.asarray(canvas, dtype=float) / 255.0, 0.6)


# -------------------------------------------------------------------- lesion


def _colour_density(
    params: SkinLesionParams, dx: np.ndarray, dy: np.ndarray, radius: float, rng: np.random.Generator
) -> np.ndarray:
    """Per-pixel optical density (H, W, 3) of the pigment pattern."""
    names = params.colours
    density = np.asarray([-np.log(LESION_COLOURS[n]) for n in names])
    labels = np.zeros(dx.shape, dtype=int)
    centre_ang = rng.uniform(0, 2 * math.pi)
    offsets = rng.uniform(0.25, 0.45, 4)
    sizes = rng.uniform(0.36, 0.48, 4)
    wobble = _smooth_noise(rng, dx.shape, max(2.0, 0.12 * radius))
    best = np.full(dx.shape, np.inf)
    for i in range(1, len(names)):
        a = centre_ang + 2 * math.pi * (i - 1) / max(1, len(names) - 1)
        cx, cy = offsets[i] * radius * math.cos(a), offsets[i] * radius * math.sin(a)
        dist = np.hypot(dx - cx, dy - cy) / (sizes[i] * radius) + 0.25 * wobble
        closer = dist < best
        best[closer] = dist[closer]
        labels[closer] = i
    labels[best >= 1.0] = 0
    od = density[labels]
    soft = max(1.0, 0.03 * radius)
    return np.stack([ndimage.gaussian_filter(od[..., c], soft) for c in range(3)], axis=-1)


def _lesion_alpha(params: SkinLesionParams, dx: np.ndarray, dy: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    theta_s, r_s = lesion_outline(params)
    theta = np.mod(np.arctan2(dy, dx), 2 * math.pi)
    r_at = np.interp(theta, theta_s, r_s, period=2 * math.pi)
    rho = np.hypot(dx, dy)
    edge = 2.0 + 3.0 * params.border_irregularity
    alpha = np.clip((r_at - rho) / edge + 0.5, 0.0, 1.0)
    return alpha, rho / r_at, float(r_s.mean())


def generate_skin_lesion_with_mask(params: SkinLesionParams) -> tuple[Image.Image, np.ndarray]:
    """Render the photo and return it with the exact boolean lesion mask."""
    size = params.size_px
    strip = params.strip_px
    h, w = size - strip, size
    cx = w / 2.0 + params.center_offset_mm[0] * params.px_per_mm
    cy = h / 2.0 + params.center_offset_mm[1] * params.px_per_mm
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    dx, dy = xx - cx, yy - cy
    alpha, rel, mean_r = _lesion_alpha(params, dx, dy)
    truth = alpha >= 0.5
    _check_inside(truth, params)

    rng_tex = np.random.default_rng([params.seed, 202])
    rng_col = np.random.default_rng([params.seed, 303])
    skin = _skin_background(params, h, w, rng_tex)
    od = _colour_density(params, dx, dy, mean_r, rng_col)
    mottle = 1.0 + 0.10 * _smooth_noise(rng_tex, (h, w), 4.0) + 0.05 * _smooth_noise(rng_tex, (h, w), 1.2)
    fade = 1.0 - 0.15 * np.clip((rel - 0.8) / 0.2, 0.0, 1.0)
    strength = (alpha * mottle * fade)[..., None]
    img = skin * np.exp(-od * strength)

    hair = _hair_mask(params, h, w, rng_tex) * np.clip((rel - 1.25) / 0.3, 0.0, 1.0)
    img *= (1.0 - 0.55 * hair)[..., None]
    img = np.stack([ndimage.gaussian_filter(img[..., c], 0.5) for c in range(3)], axis=-1)
    img += 0.006 * rng_tex.standard_normal(img.shape)
    photo = np.clip(np.rint(img * 255.0), 0, 255).astype(np.uint8)

    full = np.full((size, size, 3), 255, dtype=np.uint8)
    full[:h] = photo
    out = Image.fromarray(full)
    _draw_scale_bar(out, params)
    mask = np.zeros((size, size), dtype=bool)
    mask[:h] = truth
    return out, mask


def _check_inside(truth: np.ndarray, params: SkinLesionParams) -> None:
    m = LESION_MARGIN_PX
    if not truth.any():
        raise ValueError("lesion is empty")
    border = np.concatenate([truth[:m].ravel(), truth[-m:].ravel(), truth[:, :m].ravel(), truth[:, -m:].ravel()])
    if border.any():
        raise ValueError("lesion does not fit in the photo; reduce diameter/offset or raise size_px")


def _draw_scale_bar(img: Image.Image, params: SkinLesionParams) -> None:
    size, strip = params.size_px, params.strip_px
    top = size - strip
    thickness = max(4, round(strip * 0.14))
    x0 = round(0.05 * size)
    y0 = top + (strip - thickness) // 2
    draw = ImageDraw.Draw(img)
    draw.rectangle([x0, y0, x0 + params.scale_bar_px - 1, y0 + thickness - 1], fill=(20, 20, 20))
    font = ImageFont.load_default(size=max(10, round(strip * 0.32)))
    label = f"{SCALE_BAR_MM:g} mm"
    box = draw.textbbox((0, 0), label, font=font)
    ty = top + (strip - (box[3] - box[1])) // 2 - box[1]
    draw.text((x0 + params.scale_bar_px + round(0.02 * size), ty), label, fill=(40, 40, 40), font=font)


def generate_skin_lesion(params: SkinLesionParams) -> Image.Image:
    """Render a deterministic RGB close-up photo of the lesion."""
    return generate_skin_lesion_with_mask(params)[0]


# ------------------------------------------------------------- prior/current


def derive_prior(
    current: SkinLesionParams,
    *,
    diameter_mm: float,
    asymmetry: float | None = None,
    border_irregularity: float | None = None,
    colours: list[str] | None = None,
) -> SkinLesionParams:
    """Earlier, smaller (and by default more regular) version of ``current``."""
    update: dict[str, object] = {
        "diameter_mm": diameter_mm,
        "asymmetry": round(current.asymmetry * 0.4, 4) if asymmetry is None else asymmetry,
        "border_irregularity": (
            round(current.border_irregularity * 0.4, 4) if border_irregularity is None else border_irregularity
        ),
        "colours": current.colours[:1] if colours is None else colours,
    }
    return SkinLesionParams.model_validate(current.model_dump() | update)


def generate_pair(prior: SkinLesionParams, current: SkinLesionParams) -> tuple[Image.Image, Image.Image]:
    """Render a (prior, current) pair of the same lesion (seeds must match)."""
    if prior.seed != current.seed:
        raise ValueError("prior and current must share a seed to depict the same lesion")
    return generate_skin_lesion(prior), generate_skin_lesion(current)

"""Images fitted to a provider's limits: downsized (never upscaled) until both the long side and
the encoded size fit, and recorded by the sha256 of the bytes actually sent."""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache

from PIL import Image

from arena.clients.base import ImageLimits
from arena.schemas.calls import ImageRef
from arena.schemas.messages import ImagePart

MIN_SIDE = 64  # below this an image is no longer worth sending; the last try is sent as is
JPEG_QUALITIES = (90, 80, 70)


def to_8bit(img: Image.Image) -> Image.Image:
    """Images PNG/JPEG can carry at 8 bits: 16-bit and float greyscale (radiographs) rescaled over
    their own range (a plain conversion clips them to white); palette and alpha kept for PNG."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        import numpy as np

        pixels = np.asarray(img, dtype=np.float64)
        low, high = float(pixels.min()), float(pixels.max())
        scaled = (pixels - low) * (255.0 / (high - low)) if high > low else np.zeros_like(pixels)
        return Image.fromarray(scaled.round().astype(np.uint8), mode="L")
    if img.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return img.convert("RGB")
    return img


def _encode(img: Image.Image, media_type: str, quality: int = 90) -> bytes:
    img = to_8bit(img)
    if media_type == "image/jpeg" and img.mode not in ("L", "RGB"):
        img = img.convert("RGBA").convert("RGB") if img.mode in ("P", "PA", "LA") else img.convert("RGB")
    out = io.BytesIO()
    if media_type == "image/jpeg":
        img.save(out, format="JPEG", quality=quality, optimize=True)
    else:
        img.save(out, format="PNG", optimize=True)
    return out.getvalue()


@lru_cache(maxsize=256)
def _fit(data: bytes, media_type: str, max_side: int, max_bytes: int) -> tuple[bytes, str, int, int, bool]:
    with Image.open(io.BytesIO(data)) as opened:
        opened.load()
        img = opened.copy()
    width, height = img.size
    if max(width, height) <= max_side and len(data) <= max_bytes:
        return data, media_type, width, height, False
    scale = min(1.0, max_side / max(width, height))
    while True:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        resized = img if size == img.size else img.resize(size, Image.Resampling.LANCZOS)
        encoded = _encode(resized, media_type)
        if len(encoded) <= max_bytes:
            return encoded, media_type, size[0], size[1], True
        for quality in JPEG_QUALITIES:  # photographs shrink far more as JPEG than as PNG
            encoded = _encode(resized, "image/jpeg", quality)
            if len(encoded) <= max_bytes:
                return encoded, "image/jpeg", size[0], size[1], True
        if min(size) <= MIN_SIDE:
            return encoded, "image/jpeg", size[0], size[1], True
        scale *= 0.75


@lru_cache(maxsize=256)
def describe(data: bytes) -> tuple[str, int, int]:
    """sha256, width and height of encoded image bytes. Cached: every call of an encounter sends the
    same image objects again, and a bytes object caches its own hash, so a repeat is a lookup."""
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
    return hashlib.sha256(data).hexdigest(), width, height


def fit_image(part: ImagePart, limits: ImageLimits | None) -> tuple[ImagePart, ImageRef]:
    """The part as it will be sent, and its record (sent sha256, size, whether it was resized)."""
    source_sha, width, height = describe(part.data)
    data, media_type, resized = part.data, str(part.media_type), False
    if limits is not None:
        data, media_type, width, height, resized = _fit(part.data, part.media_type, limits.max_side,
                                                        limits.max_bytes)
    sent = part if not resized else ImagePart(image_id=part.image_id, media_type=media_type,  # type: ignore[arg-type]
                                              data=data)
    sent_sha = describe(data)[0] if resized else source_sha
    ref = ImageRef(image_id=part.image_id, sha256=sent_sha, source_sha256=source_sha,
                   media_type=media_type, width=width, height=height, bytes=len(data), resized=resized)
    return sent, ref

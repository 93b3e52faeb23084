"""Render DICOM files to display-ready 8-bit PIL images.

Grayscale pipeline: modality LUT (rescale) -> VOI LUT / window -> 8-bit,
with MONOCHROME1 inverted so dense structures (bone) appear bright.
Colour data (RGB, YBR_*, PALETTE COLOR) is returned as 8-bit RGB.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi_lut,
    convert_color_space,
    pixel_array,
)
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

__all__ = ["render_dicom", "dicom_provenance", "PROVENANCE_FIELDS"]

#: Descriptive, non-identifying attributes copied by :func:`dicom_provenance`.
PROVENANCE_FIELDS: tuple[str, ...] = (
    "Modality",
    "BodyPartExamined",
    "StudyDescription",
    "PhotometricInterpretation",
    "Rows",
    "Columns",
    "NumberOfFrames",
)

#: Percentiles used to auto-window grayscale data that carries no VOI info.
AUTO_WINDOW_PERCENTILES: tuple[float, float] = (0.5, 99.5)


def _read(path: str | Path, *, stop_before_pixels: bool = False) -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(str(path), stop_before_pixels=stop_before_pixels, force=True)
    if "TransferSyntaxUID" not in ds.file_meta:
        # Files without a meta header: infer the (uncompressed) syntax used to read.
        implicit, little = ds.original_encoding
        if implicit:
            ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
        else:
            ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian if little else ExplicitVRBigEndian
    return ds


def _n_frames(ds: Dataset) -> int:
    try:
        return max(1, int(ds.get("NumberOfFrames", 1) or 1))
    except (TypeError, ValueError):
        return 1


def _frame_index(ds: Dataset, frame: int | None) -> int:
    n = _n_frames(ds)
    idx = n // 2 if frame is None else frame
    if not 0 <= idx < n:
        raise IndexError(f"frame {frame} out of range for {n} frame(s)")
    return idx


def _to_uint8(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Linearly map [lo, hi] to [0, 255] with rounding and clipping."""
    arr = np.asarray(arr, dtype=np.float64)
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    out = (arr - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _windowing_range(ds: Dataset) -> tuple[float, float]:
    """Output range pydicom's windowing maps into (PS3.3 C.11.2.1.2)."""
    if ds.get("ModalityLUTSequence"):
        bits = int(ds.ModalityLUTSequence[0].LUTDescriptor[2])
        lo, hi = 0.0, float(2**bits - 1)
    elif int(ds.get("PixelRepresentation", 0)) == 0:
        lo, hi = 0.0, float(2 ** int(ds.BitsStored) - 1)
    else:
        half = 2 ** (int(ds.BitsStored) - 1)
        lo, hi = float(-half), float(half - 1)
    slope = ds.get("RescaleSlope")
    intercept = ds.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        lo, hi = lo * float(slope) + float(intercept), hi * float(slope) + float(intercept)
        lo, hi = min(lo, hi), max(lo, hi)
    return lo, hi


def _grayscale_to_uint8(raw: np.ndarray, ds: Dataset) -> np.ndarray:
    values = apply_modality_lut(raw, ds)
    if ds.get("VOILUTSequence"):
        values = apply_voi_lut(values, ds, index=0, prefer_lut=True)
        lut = np.asarray(ds.VOILUTSequence[0].LUTData, dtype=np.float64)
        out = _to_uint8(values, float(lut.min()), float(lut.max()))
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        values = apply_voi_lut(values, ds, index=0, prefer_lut=False)
        out = _to_uint8(values, *_windowing_range(ds))
    else:
        lo, hi = np.percentile(values, AUTO_WINDOW_PERCENTILES)
        out = _to_uint8(values, float(lo), float(hi))
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":
        out = 255 - out
    return out


def _colour_to_uint8(raw: np.ndarray, ds: Dataset) -> np.ndarray:
    photometric = str(ds.get("PhotometricInterpretation", "RGB")).upper()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(raw, ds)
        bits = int(ds.RedPaletteColorLookupTableDescriptor[2])
        return _to_uint8(rgb, 0.0, float(2**bits - 1))
    if photometric.startswith("YBR") and photometric not in ("YBR_ICT", "YBR_RCT"):
        # pixel_array() converts YBR_FULL(_422) already; handle any leftovers.
        if photometric not in ("YBR_FULL", "YBR_FULL_422"):
            raw = convert_color_space(raw, photometric, "RGB")
    bits = int(ds.get("BitsStored", 8))
    return _to_uint8(raw, 0.0, float(2**bits - 1))


def render_dicom(path: str | Path, *, frame: int | None = None, max_side: int = 1024) -> Image.Image:
    """Render a DICOM file as an 8-bit "L" (grayscale) or "RGB" image.

    ``frame`` selects a frame of multi-frame data (default: middle frame).
    The result is downscaled with LANCZOS so its longest side <= ``max_side``.
    """
    if max_side < 1:
        raise ValueError("max_side must be >= 1")
    ds = _read(path)
    idx = _frame_index(ds, frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = pixel_array(ds, index=idx if _n_frames(ds) > 1 else None)
        photometric = str(ds.get("PhotometricInterpretation", "")).upper()
        if int(ds.get("SamplesPerPixel", 1)) == 1 and photometric != "PALETTE COLOR":
            img = Image.fromarray(_grayscale_to_uint8(raw, ds))
        else:
            img = Image.fromarray(_colour_to_uint8(raw, ds))
    return _limit_size(img, max_side)


def _limit_size(img: Image.Image, max_side: int) -> Image.Image:
    w, h = img.size
    longest = max(w, h)
    if longest <= max_side:
        return img
    scale = max_side / longest
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


def dicom_provenance(path: str | Path) -> dict[str, Any]:
    """Non-identifying descriptive metadata (no names, IDs or dates)."""
    ds = _read(path, stop_before_pixels=True)
    info: dict[str, Any] = {"source_file": Path(path).name}
    for key in PROVENANCE_FIELDS:
        value = ds.get(key)
        if value is None or value == "":
            info[key] = None
        elif key in ("Rows", "Columns", "NumberOfFrames"):
            info[key] = int(value)
        else:
            info[key] = str(value)
    if info["NumberOfFrames"] is None:
        info["NumberOfFrames"] = 1
    return info

"""The report's charts, drawn with matplotlib's object API (no pyplot, no GUI backend) as SVG with
text kept as text, then inlined as ``data:image/svg+xml`` images: an SVG shown through ``<img>``
never runs script. Output is deterministic (fixed hash salt, no date), so a report of the same run
is the same file."""

from __future__ import annotations

import base64
import io
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from arena.report.gather import CalibrationCurve
from arena.terminal import neutralise

_RC: Any = {"svg.fonttype": "none", "svg.hashsalt": "arena-report", "font.size": 9, "axes.spines.top": False,
       "axes.spines.right": False, "text.parse_math": False}  # a "$" in a model name is a dollar sign


def _label(text: str) -> str:
    """A model name as chart text: on one line, controls and lone surrogates made visible (raw ones
    would make the SVG invalid XML)."""
    return neutralise(text, single_line=True)


@contextmanager
def _drawing() -> Iterator[None]:
    """The chart settings, and quiet: a glyph missing from matplotlib's font (a CJK model name) is
    drawn by the browser anyway, since the SVG keeps text as text."""
    with matplotlib.rc_context(_RC), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def _svg_uri(fig: Figure) -> str:
    out = io.BytesIO()
    fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None}, bbox_inches="tight")
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def interval_chart(models: Sequence[dict[str, Any]]) -> str | None:
    """Each model's Bradley-Terry rating with its bootstrap interval (thick) and the sandwich interval
    (thin), best at the top. None when no model has a rating."""
    rated = [m for m in models if m.get("rating") is not None]
    if not rated:
        return None
    with _drawing():
        fig = Figure(figsize=(7.0, 0.45 * len(rated) + 1.2))
        ax = fig.subplots()
        for y, m in enumerate(reversed(rated)):
            if m.get("sandwich_low") is not None and m.get("sandwich_high") is not None:
                ax.plot([m["sandwich_low"], m["sandwich_high"]], [y, y], color="#9aa5b1", linewidth=1.2,
                        solid_capstyle="butt")
            if m.get("ci_low") is not None and m.get("ci_high") is not None:
                ax.plot([m["ci_low"], m["ci_high"]], [y, y], color="#2b6cb0", linewidth=4, alpha=0.55,
                        solid_capstyle="butt")
            ax.plot([m["rating"]], [y], "o", color="#1a365d", markersize=5)
        ax.set_yticks(range(len(rated)), labels=[_label(str(m["model"])) for m in reversed(rated)])
        ax.set_xlabel("Bradley-Terry rating (thick: 95% bootstrap interval; thin: sandwich 95%)")
        ax.grid(axis="x", color="#e2e8f0")
        svg = _svg_uri(fig)
    return svg


def calibration_chart(curves: Sequence[CalibrationCurve]) -> str | None:
    """Reliability diagram: per model, the top-1 accuracy against the mean top-1 confidence of each
    confidence bin (marker area by the number of closing answers). None when nothing is usable."""
    if not curves:
        return None
    with _drawing():
        fig = Figure(figsize=(5.2, 4.4))
        ax = fig.subplots()
        (diagonal,) = ax.plot([0, 1], [0, 1], linestyle="--", color="#a0aec0", linewidth=1)
        handles = [diagonal]
        labels = ["perfectly calibrated"]
        for curve in curves:
            (line,) = ax.plot(curve.confidence, curve.accuracy, marker="o", linewidth=1.2, markersize=4)
            handles.append(line)
            labels.append(_label(f"{curve.model} (n={sum(curve.counts)})"))
        ax.set_xlim(0, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("stated probability of the leading diagnosis (mean per bin)")
        ax.set_ylabel("how often it was the true diagnosis")
        ax.legend(handles, labels, loc="upper left", fontsize=7, frameon=False)  # explicit: "_name" is kept
        ax.grid(color="#edf2f7")
        svg = _svg_uri(fig)
    return svg

"""Fill the report templates (Jinja2) and write the file.

HTML: autoescaping on for every value, and every string neutralised first by the environment's
``finalize`` hook (controls, escapes, bidi overrides and lone surrogates made visible, as in the
terminal), and a Content-Security-Policy that allows no
script at all, no network and only ``data:`` images: even a value that escaped escaping could not
run or fetch anything. The page has no script of its own; the transcript browser is ``<details>``
elements and anchors. Markdown: model text in fenced blocks longer than any backtick run it holds,
every other value HTML-escaped and its Markdown characters backslash-escaped (the environment's
``finalize``), so a Markdown viewer renders none of it as markup.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from arena.cli_parser import version
from arena.report.charts import calibration_chart, interval_chart
from arena.report.gather import RunReport
from arena.report.images import ImageShelf, ShownImage
from arena.schemas.scenario import Dimension
from arena.terminal import neutralise

TEMPLATES = Path(__file__).resolve().parent / "templates"
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"


def _num(value: Any, spec: str = ".2f") -> str:
    return "–" if value is None else format(value, spec)


def _shade(value: float | None) -> str:
    """Background of a win-rate cell: red (0) through white (0.5) to green (1)."""
    if value is None:
        return "background:#f7fafc"
    v = max(0.0, min(1.0, float(value)))
    hue = 120 * v
    light = 97 - 40 * abs(v - 0.5)
    return f"background:hsl({hue:.0f},60%,{light:.0f}%)"


_MD_ACTIVE = re.compile(r"([\\|*_\[\]~])")  # the backslash first of all: a user's own \ cannot cancel an escape


def _md(value: Any) -> str:
    """A Markdown table cell or heading: inert text on one line (HTML escaped, then every character
    that Markdown or GFM gives a meaning inline escaped with a backslash; backticks as an entity)."""
    text = html.escape(neutralise(str(value), single_line=True), quote=True)
    return _MD_ACTIVE.sub(r"\\\1", text).replace("`", "&#96;")


def _fence(text: str) -> str:
    """``text`` as a fenced code block that nothing in it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{neutralise(text)}\n{fence}"


def _finalize(value: Any) -> Any:
    """HTML: every ``{{ value }}`` passes here. Strings are neutralised (controls, escapes, bidi
    overrides and lone surrogates made visible) before autoescaping; the template's own markup
    (``Markup``) is left alone."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return neutralise(value)


def _finalize_markdown(value: Any) -> Any:
    """Markdown's autoescape: every string value goes through :func:`_md` unless a filter (``md``,
    ``fence``) already made it inert."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return _md(value)


def _environment(*, markdown: bool) -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=not markdown, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
                      finalize=_finalize_markdown if markdown else _finalize)
    env.filters.update(num=_num, shade=_shade, md=lambda v: Markup(_md(v)), fence=lambda v: Markup(_fence(v)))
    return env


def context(report: RunReport, *, markdown: bool = False) -> dict[str, Any]:
    """What the templates see. Charts and images only for HTML (Markdown shows neither)."""
    shelf = ImageShelf(report.library)
    views = report.views()
    if not markdown:
        for view in views:  # every image read now, so the gallery is complete wherever the template puts it
            for turn in view.turns:
                for image_id, ref in turn.images:
                    shelf.get(view.transcript.scenario_id, image_id, ref)
    board = report.board
    return {
        "r": report, "board": board, "dimensions": [d.value for d in Dimension], "version": version(),
        "picture": shelf.get, "gallery": list(shelf.shown.values()), "is_shown": lambda x: isinstance(x, ShownImage),
        "interval_svg": interval_chart(board["models"]) if board and not markdown else None,
        "calibration_svg": None if markdown else calibration_chart(report.curves), "csp": CSP,
        "views": views,
    }


def render(report: RunReport, *, markdown: bool = False) -> str:
    env = _environment(markdown=markdown)
    template = env.get_template("report.md.j2" if markdown else "report.html.j2")
    ctx = context(report, markdown=markdown)
    if not markdown:
        ctx["style"] = Markup((TEMPLATES / "report.css").read_text(encoding="utf-8"))
    return template.render(ctx)

"""Tables the CLI prints: per-model scores, calibration of closing differentials, and the
tournament leaderboard (readable at 80 columns: model names are never cut; below 100 columns
the dimension headers are abbreviated instead)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from arena.schemas.scenario import Dimension
from arena.schemas.transcript import Transcript
from arena.stats.calibration import calibration_by_model
from scenarios.library import ScenarioLibrary

DIMENSIONS = list(Dimension)


SHORT_DIMENSIONS = {"coherence": "coh", "uncertainty": "unc", "narrative": "nar", "safety": "saf",
                    "accuracy": "acc"}


def score_table(console: Console, rows: list[dict[str, object]], title: str) -> Table:
    """Per-model means; below 100 columns the dimension headers are abbreviated, never the models."""
    narrow = console.width < 100
    table = Table(title=title, caption=", ".join(f"{v}={k}" for k, v in SHORT_DIMENSIONS.items()) if narrow else None)
    table.add_column("model", no_wrap=True, min_width=max((len(str(r["model"])) for r in rows), default=5))
    for dimension in DIMENSIONS:
        table.add_column(SHORT_DIMENSIONS[dimension.value] if narrow else dimension.value, justify="right",
                         no_wrap=True)
    table.add_column("overall", justify="right", no_wrap=True)
    for row in rows:
        scores = row["scores"]
        assert isinstance(scores, dict)
        table.add_row(str(row["model"]), *[f"{scores[d.value]:.2f}" for d in DIMENSIONS], f"{row['overall']:.2f}")
    return table


def calibration_rows(library: ScenarioLibrary, transcripts: list[Transcript]) -> list[dict[str, object]]:
    """Per model, the calibration of its closing differentials against the truth."""
    rows = []
    for t in transcripts:
        gt = library.get(t.scenario_id).ground_truth
        names = [gt.diagnosis.name, *(d.name for d in gt.differential)]
        rows.append((t.target, t.closing_differential, names, gt.diagnosis.name))
    return [{"model": model, **summary.model_dump(mode="json")}
            for model, summary in calibration_by_model(rows).items()]


def calibration_table(rows: list[dict[str, object]]) -> Table:
    table = Table(title="Calibration of the closing differentials", caption="lower is better; "
                  "no % = closing answers without usable probabilities; over = overconfidence (> 0: too sure)")
    table.add_column("model", no_wrap=True, min_width=max((len(str(r["model"])) for r in rows), default=5))
    for name in ("n", "no %", "Brier", "log loss", "ECE", "over"):
        table.add_column(name, justify="right", no_wrap=True)

    def cell(value: object) -> str:
        return "-" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    for row in rows:
        table.add_row(*(cell(row[k]) for k in ("model", "n", "n_unparseable", "brier", "log_loss", "ece",
                                                "overconfidence")))
    return table


def model_means(results: list[tuple[Transcript, Path]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for spec in dict.fromkeys(t.target for t, _ in results):
        verdicts = [t.verdict for t, _ in results if t.target == spec and t.verdict]
        if not verdicts:
            continue
        means = {d.value: sum(v.score(d) for v in verdicts) / len(verdicts) for d in DIMENSIONS}
        rows.append({"model": spec, "n": len(verdicts), "scores": means,
                     "overall": sum(means.values()) / len(means)})
    return rows


def _num(value: Any, fmt: str = "{:.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def leaderboard_table(console: Console, board: dict[str, Any], title: str) -> Table:
    """Rank, model, rating with its 95% interval, W-L-T, mean overall score; style-controlled rating
    and Elo when the console is wide enough."""
    rows = board["models"]
    wide = console.width >= 100
    caption = ["rating: Bradley-Terry (1000 = average), 95% bootstrap interval; rank 1 + models clearly above"]
    if not board["connected"] and board["matches"]["rated"]:
        caption.append("no joint rating: the models form separate groups that never met")
    table = Table(title=title, caption="; ".join(caption))
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("model", no_wrap=True, min_width=max((len(str(r["model"])) for r in rows), default=5))
    table.add_column("rating", justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right", no_wrap=True)
    table.add_column("W-L-T", justify="right", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    if wide:
        table.add_column("style-ctl", justify="right", no_wrap=True)
        table.add_column("Elo", justify="right", no_wrap=True)
        table.add_column("pass^k", justify="right", no_wrap=True)
    for r in rows:
        interval = "-" if r["ci_low"] is None else f"{r['ci_low']:.0f}..{r['ci_high']:.0f}"
        cells = [_num(r["rank"], "{}"), str(r["model"]), _num(r["rating"]), interval,
                 f"{r['wins']}-{r['losses']}-{r['ties']}", _num(r["overall"], "{:.2f}")]
        if wide:
            cells += [_num(r.get("style_rating")), _num(r.get("elo")), _num(r.get("pass_k"), "{:.2f}")]
        table.add_row(*cells)
    return table

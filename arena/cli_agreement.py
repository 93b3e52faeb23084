"""``arena agreement``: how well the judges agree with human raters, and with each other.

Usage: ``arena agreement --annotations FILE [TRANSCRIPT.json | RUN_DIR ...] [--calibrate-out MAPS.json]
[--apply MAPS.json] [--json]``.

The annotation file is JSON Lines, one object per line (blank lines are skipped)::

    {"transcript_id": "<encounter_id>", "dimension": "coherence", "score": 4, "rater": "dr-a"}

``dimension`` is one of coherence, uncertainty, narrative, safety, accuracy; ``score`` an integer
1..5; ``rater`` the human's name; no other keys. One rater scores a transcript's dimension at most
once. A bad line is refused with its line number and field (exit code 2).

Judge scores come from transcript JSON files, matched to annotations by ``encounter_id``: the
verdict's aggregate score under the verdict's ``judge`` name and, for a jury, each panel member that
did not abstain as its own rater. A directory argument is scanned for ``*.json`` (not recursively);
files there that are not transcripts are skipped and counted. Per dimension the report gives, for
each judge versus the mean human score of each transcript, and for each pair of humans: n,
quadratic-weighted kappa, Spearman, exact and within-one agreement; Krippendorff's alpha (ordinal)
among the humans and among the individual judges (jury aggregates left out: they repeat their
panel). Each statistic uses every transcript its raters share; pairs of humans who share none are
not listed. At most 500 human raters per file.

``--calibrate-out`` fits an isotonic map per judge and dimension (raw judge score to mean human
score, at least 2 transcripts) and writes them (never over an existing file); ``--apply`` maps the
judge scores with a saved file and reports calibrated rows next to the raw ones.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rich.console import Console
from rich.table import Table
from rich.text import Text

from arena.cli_commands import COMMANDS
from arena.cli_parser import path_arg
from arena.echo import choices, clip, clip_path, exception_text, quoted
from arena.errors import ArenaError, UsageError
from arena.files import (
    FileRefused,
    atomic_write,
    decode_utf8,
    parse_json_text,
    prepare_output_dir,
    read_regular_file,
)
from arena.limits import MAX_IMPORT_FILE_BYTES, MAX_IMPORT_LINE_BYTES, MAX_SHORT_TEXT_CHARS
from arena.records import load_record, load_transcript
from arena.schemas.scenario import Dimension
from arena.schemas.transcript import Transcript
from arena.stats.agreement import (
    CalibrationMaps,
    PairAgreement,
    fit_isotonic,
    krippendorff_alpha,
    mean_ratings,
    pair_agreement,
)
from arena.terminal import dumps_json, neutralise

MAX_CALIBRATION_FILE_BYTES = 4 * 1024 * 1024
MIN_FIT_PAIRS = 2
MAX_RATERS = 500  # human raters of one file: the report has a row per pair that shares a transcript
DIMENSION_NAMES = [d.value for d in Dimension]


class Annotation(BaseModel):
    """One line of the annotation file: a human's score of one dimension of one transcript."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    transcript_id: str = Field(min_length=1, max_length=MAX_SHORT_TEXT_CHARS, description="Transcript encounter_id")
    dimension: Dimension
    score: int = Field(ge=1, le=5, strict=True, description="1 (poor) .. 5 (excellent)")
    rater: str = Field(min_length=1, max_length=MAX_SHORT_TEXT_CHARS, description="The human rater's name")

    @field_validator("dimension", mode="before")
    @classmethod
    def _known(cls, value: object) -> object:
        if value not in DIMENSION_NAMES:
            raise ValueError(f"unknown dimension {quoted(value)} (valid: {', '.join(DIMENSION_NAMES)})")
        return value


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    agree = sub.add_parser(
        "agreement", help=COMMANDS["agreement"],
        description="Agreement of judges with human annotations (JSONL: transcript_id, dimension, score 1-5, "
                    "rater) over transcripts given as files or run folders.")
    agree.add_argument("sources", nargs="*", type=path_arg, metavar="TRANSCRIPT|RUN_DIR",
                       help="transcript JSON files, or folders whose *.json transcripts are read")
    agree.add_argument("--annotations", required=True, type=path_arg, metavar="FILE",
                       help="human scores, JSON Lines: {transcript_id, dimension, score, rater} per line")
    agree.add_argument("--calibrate-out", type=path_arg, metavar="FILE.json",
                       help="fit isotonic maps (per judge, per dimension) from raw scores and write them here")
    agree.add_argument("--apply", type=path_arg, metavar="FILE.json",
                       help="calibrate judge scores with saved maps; calibrated rows are reported next to raw ones")
    agree.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def _line_error(where: str, number: int, exc: ValidationError) -> UsageError:
    error = exc.errors()[0]
    loc = ".".join(str(part) for part in error["loc"])
    if not loc:
        return UsageError(f"{where} line {number}: not a JSON object with transcript_id, dimension, score, rater")
    message = str(error["msg"]).removeprefix("Value error, ")
    return UsageError(f"{where} line {number}: field {quoted(loc)}: {clip(message)}")


def read_annotations(path: Path) -> list[Annotation]:
    """Every annotation of the file, validated; the first bad line is a one-line UsageError."""
    where = f"--annotations {clip_path(path)}:"
    try:
        text = decode_utf8(read_regular_file(path, limit=MAX_IMPORT_FILE_BYTES))
    except FileRefused as exc:
        raise UsageError(f"{where} {exc}") from None
    annotations: list[Annotation] = []
    seen: dict[tuple[str, Dimension, str], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if len(line.encode("utf-8", "surrogatepass")) > MAX_IMPORT_LINE_BYTES:
            raise UsageError(f"{where} line {number}: over the {MAX_IMPORT_LINE_BYTES}-byte line limit")
        try:
            annotation = Annotation.model_validate(parse_json_text(line))
        except FileRefused as exc:
            raise UsageError(f"{where} line {number}: {exc}") from None
        except ValidationError as exc:
            raise _line_error(where, number, exc) from None
        key = (annotation.transcript_id, annotation.dimension, annotation.rater)
        if key in seen:
            raise UsageError(f"{where} line {number}: rater {quoted(annotation.rater)} already scored "
                             f"{annotation.dimension.value} of {quoted(annotation.transcript_id)} on line {seen[key]}")
        seen[key] = number
        annotations.append(annotation)
    if not annotations:
        raise UsageError(f"{where} no annotations (the file has no non-blank line)")
    raters = {a.rater for a in annotations}
    if len(raters) > MAX_RATERS:
        raise UsageError(f"{where} {len(raters)} raters, over the limit of {MAX_RATERS} (pairs grow as its square)")
    return annotations


@dataclass
class Loaded:
    transcripts: dict[str, Transcript] = field(default_factory=dict)
    skipped: int = 0  # files in a folder that are not transcripts
    duplicates: int = 0  # a second transcript with an encounter_id already read


def _load_transcript(path: Path) -> Transcript:
    return load_transcript(path)


def load_transcripts(sources: list[Path]) -> Loaded:
    """Transcripts by encounter_id. A file named on the command line must be a transcript (else an
    ArenaError, exit 1); in a folder, other files are skipped and counted."""
    loaded = Loaded()

    def keep(transcript: Transcript) -> None:
        if transcript.encounter_id in loaded.transcripts:
            loaded.duplicates += 1
        else:
            loaded.transcripts[transcript.encounter_id] = transcript

    for source in sources:
        if source.is_dir():
            try:
                names = sorted(p for p in source.iterdir() if p.suffix == ".json")
            except OSError as exc:
                raise UsageError(f"{clip_path(source)}: cannot list ({exception_text(exc)})") from None
            for path in names:
                try:
                    keep(_load_transcript(path))
                except ArenaError:
                    loaded.skipped += 1
        else:
            keep(_load_transcript(source))
    return loaded


def judge_scores(transcripts: dict[str, Transcript], dimension: Dimension) -> dict[str, dict[str, float]]:
    """rater -> encounter_id -> score: each verdict's aggregate under its judge name, then each panel
    member that did not abstain (a repeated name in one panel gets `` #2``, `` #3``...)."""
    raters: dict[str, dict[str, float]] = {}
    for encounter_id, transcript in transcripts.items():
        verdict = transcript.verdict
        if verdict is None:
            continue
        raters.setdefault(verdict.judge, {})[encounter_id] = float(verdict.score(dimension))
        names: dict[str, int] = {}
        for vote in verdict.panel:
            names[vote.judge] = names.get(vote.judge, 0) + 1
            name = vote.judge if names[vote.judge] == 1 else f"{vote.judge} #{names[vote.judge]}"
            if vote.error is None and dimension in vote.scores:
                raters.setdefault(name, {})[encounter_id] = float(vote.scores[dimension])
    return raters


def _aggregates(transcripts: dict[str, Transcript]) -> set[str]:
    """Names of jury aggregates (verdicts with a panel): left out of the judges' alpha."""
    return {t.verdict.judge for t in transcripts.values() if t.verdict is not None and t.verdict.panel}


class Row(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    a: str = Field(description="A judge (or a human of a pair)")
    b: str = Field(description="'humans' (their mean score) or the other human")
    calibrated: bool = False
    agreement: PairAgreement


class DimensionReport(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    judges: list[Row] = Field(default_factory=list, description="Each judge vs the mean human score")
    humans: list[Row] = Field(default_factory=list, description="Each pair of humans")
    alpha_humans: float | None = None
    alpha_judges: float | None = None
    alpha_judges_calibrated: float | None = None


def _matrix(raters: dict[str, dict[str, float]], units: list[str]) -> np.ndarray:
    """(raters, units) with NaN where a rater did not score a unit."""
    return np.array([[scores.get(u, np.nan) for u in units] for scores in raters.values()], dtype=float)


def _vector(scores: dict[str, float], units: list[str]) -> np.ndarray:
    return np.array([scores.get(u, np.nan) for u in units], dtype=float)


def _calibrated(maps: CalibrationMaps, dimension: Dimension,
                judges: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for name, scores in judges.items():
        ids = list(scores)
        mapped = maps.apply(name, dimension, [scores[i] for i in ids])
        if mapped is not None:
            out[name] = dict(zip(ids, (float(v) for v in mapped), strict=True))
    return out


def analyse(annotations: list[Annotation], transcripts: dict[str, Transcript],
            maps: CalibrationMaps | None) -> tuple[dict[str, DimensionReport], CalibrationMaps]:
    """The report per dimension, and isotonic maps fitted from the raw judge scores."""
    reports: dict[str, DimensionReport] = {}
    fitted = CalibrationMaps()
    aggregates = _aggregates(transcripts)
    for dimension in Dimension:
        humans: dict[str, dict[str, float]] = {}
        for a in annotations:
            if a.dimension == dimension:
                humans.setdefault(a.rater, {})[a.transcript_id] = float(a.score)
        judges = judge_scores(transcripts, dimension)
        units = sorted({u for scores in (*humans.values(), *judges.values()) for u in scores})
        human_mean = mean_ratings(_matrix(humans, units)) if humans else np.full(len(units), np.nan)
        report = DimensionReport()
        for name, scores in judges.items():
            vector = _vector(scores, units)
            report.judges.append(Row(a=name, b="humans", agreement=pair_agreement(vector, human_mean)))
            keep = ~(np.isnan(vector) | np.isnan(human_mean))
            if int(keep.sum()) >= MIN_FIT_PAIRS:
                fitted.maps.setdefault(name, {})[dimension] = fit_isotonic(vector[keep], human_mean[keep])
        calibrated = _calibrated(maps, dimension, judges) if maps else {}
        for name, scores in calibrated.items():
            report.judges.append(Row(a=name, b="humans", calibrated=True,
                                     agreement=pair_agreement(_vector(scores, units), human_mean)))
        names = list(humans)
        for i, first in enumerate(names):
            for second in names[i + 1:]:
                if humans[first].keys().isdisjoint(humans[second]):
                    continue  # raters who share no transcript: nothing to compare
                report.humans.append(Row(a=first, b=second, agreement=pair_agreement(
                    _vector(humans[first], units), _vector(humans[second], units))))
        individual = {k: v for k, v in judges.items() if k not in aggregates}
        if humans:
            report.alpha_humans = krippendorff_alpha(_matrix(humans, units))
        if individual:
            report.alpha_judges = krippendorff_alpha(_matrix(individual, units))
        individual_cal = {k: v for k, v in calibrated.items() if k not in aggregates}
        if individual_cal:
            report.alpha_judges_calibrated = krippendorff_alpha(_matrix(individual_cal, units))
        reports[dimension.value] = report
    return reports, fitted


def _load_maps(path: Path) -> CalibrationMaps:
    return load_record(path, CalibrationMaps, limit=MAX_CALIBRATION_FILE_BYTES, what="calibration file")


def _check_out(path: Path) -> None:
    prepare_output_dir(path.parent, flag="--calibrate-out")
    if path.exists() or path.is_symlink():
        raise UsageError(f"--calibrate-out {clip_path(path)}: exists; choose a new file name")


def _write_maps(path: Path, maps: CalibrationMaps) -> None:
    try:
        atomic_write(path, maps.model_dump_json(indent=2) + "\n", overwrite=False)
    except FileExistsError:
        raise UsageError(f"--calibrate-out {clip_path(path)}: exists; choose a new file name") from None


def run(args: argparse.Namespace, console: Console) -> int:
    annotations = read_annotations(args.annotations)
    maps = _load_maps(args.apply) if args.apply else None
    if args.calibrate_out:
        _check_out(args.calibrate_out)
    loaded = load_transcripts(args.sources)
    reports, fitted = analyse(annotations, loaded.transcripts, maps)
    ids = {a.transcript_id for a in annotations}
    judged = {k for k, t in loaded.transcripts.items() if t.verdict is not None}
    summary: dict[str, Any] = {
        "annotations": len(annotations), "raters": sorted({a.rater for a in annotations}),
        "annotated_transcripts": len(ids), "matched_transcripts": len(ids & judged),
        "unmatched_annotated_transcripts": len(ids - judged),
        "transcripts": len(loaded.transcripts), "without_verdict": len(loaded.transcripts) - len(judged),
        "skipped_files": loaded.skipped, "duplicate_transcripts": loaded.duplicates,
        "applied": str(args.apply) if args.apply else None,
        "calibration_written": str(args.calibrate_out) if args.calibrate_out else None,
        "calibration_fitted": {judge: sorted(d.value for d in dims) for judge, dims in fitted.maps.items()},
    }
    if args.calibrate_out:
        _write_maps(args.calibrate_out, fitted)
    if args.json:
        print(dumps_json({**summary, "dimensions": {d: r.model_dump(mode="json") for d, r in reports.items()}}))
        return 0
    _print(console, summary, reports)
    return 0


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print(console: Console, summary: dict[str, Any], reports: dict[str, DimensionReport]) -> None:
    """Tables through the project's SafeConsole; names are neutralised before the layout is measured,
    so a made-visible control character cannot push a cell past its width."""
    console.print(Text(
        f"{summary['annotations']} annotations by {len(summary['raters'])} raters on "
        f"{summary['annotated_transcripts']} transcripts; {summary['matched_transcripts']} matched to a judged "
        f"transcript, {summary['unmatched_annotated_transcripts']} unmatched; {summary['transcripts']} transcripts "
        f"read ({summary['without_verdict']} without verdict, {summary['skipped_files']} files skipped as not "
        f"transcripts, {summary['duplicate_transcripts']} duplicates)"), soft_wrap=True)
    for name, report in reports.items():
        table = Table(title=f"{name}: alpha humans {_fmt(report.alpha_humans)}, judges {_fmt(report.alpha_judges)}"
                      + (f", judges calibrated {_fmt(report.alpha_judges_calibrated)}"
                         if report.alpha_judges_calibrated is not None else ""))
        table.add_column("rater")
        table.add_column("versus")
        for column in ("n", "kappa", "spearman", "exact", "within-one"):
            table.add_column(column, justify="right", no_wrap=True)
        for row in (*report.judges, *report.humans):
            g = row.agreement
            label = neutralise(row.a, single_line=True) + (" (calibrated)" if row.calibrated else "")
            table.add_row(Text(label), Text(neutralise(row.b, single_line=True)), str(g.n),
                          _fmt(g.kappa), _fmt(g.spearman), _fmt(g.exact), _fmt(g.within_one))
        console.print(table)
    if summary["calibration_written"]:
        fitted = summary["calibration_fitted"]
        console.print(Text(f"calibration maps for {len(fitted)} judges written to {summary['calibration_written']}"
                           + (f" ({choices(fitted)})" if fitted else "")), soft_wrap=True)


__all__ = ["Annotation", "add_parser", "analyse", "judge_scores", "load_transcripts",
           "read_annotations", "run"]

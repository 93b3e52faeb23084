"""``arena report``: one self-contained page for a tournament run or a match folder, checked in a real
headless Chromium (loads with no console error, shows the leaderboard rows and the images, and a
hostile answer is shown as text and never runs), plus its Markdown twin and its refusals."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from markdown_it import MarkdownIt
from markupsafe import escape

from arena.cli import main
from arena.clients.scripted import ScriptedClient
from arena.composition import build_cast
from arena.records import load_transcript
from arena.report.gather import gather
from arena.report.render import CSP, render
from arena.runner import judge_transcript, save_transcript
from arena.schemas.scenario import Scenario
from arena.schemas.transcript import Transcript
from arena.terminal import neutralise
from scenarios.library import ScenarioLibrary
from tests.browser import browser_page
from tests.conftest import run
from tests.helpers import encounter
from tests.hostile_fixtures import assert_one_line, cli

EXAMPLES = Path(__file__).resolve().parents[1] / "transcripts" / "examples"
EXAMPLE_RUN = EXAMPLES / "examples-run"
PARENT = EXAMPLES / "derm-changing-mole__reference_overconfident__patient__s0.json"
Capsys = pytest.CaptureFixture[str]

SCRIPT = '<script>window.__pwned = 1; document.title = "pwned";</script>'
IMG = '<img src=x onerror="window.__pwned = 2">'
BREAKOUT = '</div></details></section><svg onload="window.__pwned = 3"></svg><a href="javascript:window.__pwned=4">x</a>'
TERMINAL = "\x1b[2J\x1b]8;;http://example.invalid\x1b\\click\x1b]8;;\x1b\\ \u202egnp.exe"
FENCE = "```\n# injected heading\n[link](javascript:alert(1)) | a | b |"
HOSTILE = (f"Benign naevus (about 60%), melanoma possible. {SCRIPT} {IMG} {BREAKOUT} {TERMINAL}\n{FENCE}\n"
           "Plan: dermoscopy.")
HOSTILE_NAME = 'scripted/<b onmouseover="window.__pwned=5">evil</b>$x$'


def _report(capsys: Capsys, *args: str) -> str:
    assert main(["report", *args]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


def _hostile_folder(tmp_path: Path, library: ScenarioLibrary, mole: Scenario) -> tuple[Path, Transcript]:
    """A match folder: one real encounter whose target answers with every payload (judged by the
    rubric), beside a clean example transcript."""
    folder = tmp_path / "hostile-run"
    folder.mkdir()
    raw = run(encounter(library, mole, ScriptedClient(HOSTILE_NAME, [HOSTILE] * 10), max_turns=7))
    cast = build_cast()
    try:
        judged = run(judge_transcript(raw, mole, cast))
    finally:
        cast.close()
    assert judged.verdict is not None and any(HOSTILE in t.text for t in judged.target_turns())
    save_transcript(judged, folder)
    shutil.copy(EXAMPLES / "derm-changing-mole__reference_oracle__patient__s0.json", folder)
    return folder, judged


def test_the_example_run_report_in_a_real_browser(tmp_path: Path, capsys: Capsys) -> None:
    out = tmp_path / "report.html"
    said = _report(capsys, str(EXAMPLE_RUN), "--out", str(out))
    assert "6 transcripts, 6 matches" in said and str(out) in said
    board = json.loads((EXAMPLE_RUN / "leaderboard.json").read_text())
    with browser_page(out, tmp_path) as loaded:
        page = loaded.page
        assert loaded.problems() == []
        rows = page.eval_on_selector_all("#leaderboard-table tr.model-row", "rs => rs.map(r => r.innerText)")
        assert len(rows) == len(board["models"]) == 3
        for row, model in zip(rows, board["models"], strict=True):
            assert model["model"] in row and f"{model['rating']:.0f}" in row
        images = page.eval_on_selector_all(
            "img.transcript-image", "is => is.map(i => [i.complete, i.naturalWidth, i.naturalHeight])")
        assert images and all(done and w > 0 and h > 0 for done, w, h in images)
        assert page.eval_on_selector_all("img.scenario-image", "is => is.every(i => i.naturalWidth > 0)")
        charts = page.eval_on_selector_all("img.chart", "is => is.map(i => [i.id, i.naturalWidth > 0])")
        assert ["interval-chart", True] in charts and ["calibration-chart", True] in charts
        assert page.locator("details.transcript").count() == 6
        assert page.eval_on_selector_all("table.matrix", "ts => ts.length") == 2
        # a thumbnail links to the full image and the fragment opens it; evidence links land on turns
        page.locator("details.transcript > summary").first.click()  # opens the first transcript
        page.locator("img.transcript-image").first.click()
        assert re.search(r"#img-[0-9a-f]{16}$", page.url)
        assert all(u.startswith(("file:", "data:")) for u in loaded.requests)  # nothing left the machine


def test_a_hostile_answer_is_shown_as_text_and_never_runs(tmp_path: Path, capsys: Capsys,
                                                          library: ScenarioLibrary, mole: Scenario) -> None:
    folder, judged = _hostile_folder(tmp_path, library, mole)
    page_file = folder / "report.html"
    _report(capsys, str(folder))
    text = page_file.read_text(encoding="utf-8")
    assert f'content="{escape(CSP)}"' in text and "<script" not in text.lower() and "\x1b" not in text
    # CSP aside, escaping alone must hold: the same page without its policy is checked too
    bare = folder / "bare.html"
    bare.write_text(re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", text), encoding="utf-8")
    assert "Content-Security-Policy" not in bare.read_text(encoding="utf-8")
    for path in (page_file, bare):
        with browser_page(path, tmp_path) as loaded:
            page = loaded.page
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            assert loaded.problems() == [], path.name
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert page.title().startswith("arena report")
            dom = page.evaluate("""() => ({
                scripts: document.querySelectorAll('script').length,
                handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(
                    a => a.name.startsWith('on'))).length,
                js: document.querySelectorAll('a[href^="javascript:"]').length,
                svg: document.querySelectorAll('svg').length,
                bold: document.querySelectorAll('b[onmouseover]').length})""")
            assert dom == {"scripts": 0, "handlers": 0, "js": 0, "svg": 0, "bold": 0}
            shown = page.eval_on_selector_all(".turn.target .text", "ts => ts.map(t => t.textContent)")
            hostile = [s for s in shown if SCRIPT in s]
            assert len(hostile) == len(judged.target_turns())  # every answer, whole, as literal text
            assert IMG in hostile[0] and BREAKOUT in hostile[0] and FENCE in hostile[0]
            assert neutralise(TERMINAL) in hostile[0] and "\u202e" not in hostile[0]
            assert HOSTILE_NAME in page.locator("#leaderboard-table").inner_text()


def test_every_turn_is_in_the_report_in_full_with_its_reasons_and_verdict(capsys: Capsys, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    _report(capsys, str(EXAMPLE_RUN), "--out", str(out))
    page = out.read_text(encoding="utf-8")
    views = gather(EXAMPLE_RUN).by_file
    for path in sorted(EXAMPLE_RUN.glob("*__s0.json")):
        t = load_transcript(path)
        anchor = views[path.name].anchor
        assert f'id="{anchor}"' in page and t.encounter_id in page
        for turn in t.turns:
            assert escape(neutralise(turn.text)) in page
            if turn.move and turn.move.reason:
                assert escape(turn.move.reason) in page
        assert t.verdict is not None
        for score in t.verdict.scores.values():
            assert escape(score.rationale) in page
            for i in score.evidence_turns:
                assert f'href="#{anchor}-{i}"' in page and f'id="{anchor}-{i}"' in page


def test_the_report_is_the_same_file_every_time(tmp_path: Path) -> None:
    report = gather(EXAMPLE_RUN)
    first = render(report)
    assert render(gather(EXAMPLE_RUN)) == first
    assert render(report, markdown=True) == render(gather(EXAMPLE_RUN), markdown=True)


def test_a_fork_is_shown_beside_its_parent(tmp_path: Path, capsys: Capsys) -> None:
    folder = tmp_path / "forks"
    folder.mkdir()
    parent_path = folder / PARENT.name
    shutil.copy(PARENT, parent_path)
    assert main(["fork", str(parent_path), "--at-turn", "3", "--target", "reference/oracle", "--json"]) == 0
    branch_path = json.loads(capsys.readouterr().out)["transcript"]
    branch = load_transcript(Path(branch_path))
    parent = load_transcript(parent_path)
    out = folder / "report.html"
    _report(capsys, str(folder))
    views = gather(folder).by_file
    fork_id, parent_id = views[Path(branch_path).name].anchor, views[parent_path.name].anchor
    with browser_page(out, tmp_path) as loaded:
        page = loaded.page
        assert loaded.problems() == []
        assert page.locator("details.transcript").count() == 2  # the parent, and the fork inside it
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        fork = page.locator(f"#{fork_id}")
        assert fork.count() == 1 and page.locator(f"#{parent_id} #{fork_id}").count() == 1
        heads = fork.locator(".branch-head").all_inner_texts()
        assert heads == ["parent: reference/overconfident", "branch: reference/oracle"]
        cells = fork.locator(".branches > div:not(.branch-head)").all()
        left = [c.inner_text() for c in cells[0::2]]
        right = [c.inner_text() for c in cells[1::2]]
        for turn in parent.turns[3:]:
            assert any(turn.text in cell for cell in left)
        for turn in branch.turns[3:]:
            assert any(turn.text in cell for cell in right)
        assert not any(parent.turns[1].text in cell for cell in right)  # the shared prefix is shown once, above
        index = page.locator("#transcript-index").inner_text()
        assert "reference/oracle from turn 3" in index
        # the fork's evidence for a turn before the branch point links to the parent's turn
        anchors = set(page.eval_on_selector_all("[id]", "es => es.map(e => e.id)"))
        links = fork.locator("table.verdict a").evaluate_all("as => as.map(a => a.getAttribute('href').slice(1))")
        assert links and all(link in anchors for link in links)


def test_a_match_folder_is_ranked_by_mean_scores(tmp_path: Path, capsys: Capsys) -> None:
    out_root = tmp_path / "runs"
    for target, name in (("reference/blind", "pair"), ("reference/oracle", "other")):
        assert main(["match", "--scenario", "derm-changing-mole", "--target", target, "--out", str(out_root),
                     "--run", name, "--json"]) == 0
    capsys.readouterr()
    _report(capsys, "pair", "--runs", str(out_root))  # a single match's folder, by run name
    rows = r'<tr class="model-row"><td class="n">(\d)</td><td>([^<]+)</td>'
    page = (out_root / "pair" / "report.html").read_text(encoding="utf-8")
    assert "no ratings" in page and "Win rates" not in page and re.findall(rows, page) == [("1", "reference/blind")]
    for moved in (out_root / "other").glob("*.json"):
        shutil.copy(moved, out_root / "pair")
    _report(capsys, str(out_root / "pair"))
    page = (out_root / "pair" / "report.html").read_text(encoding="utf-8")
    assert re.findall(rows, page) == [("1", "reference/oracle"), ("2", "reference/blind")]
    assert page.count('class="transcript-image"') >= 2
    md = _report(capsys, str(out_root / "pair"), "--markdown")
    assert "report.md" in md and (out_root / "pair" / "report.md").is_file()


def test_markdown_keeps_model_text_inert(tmp_path: Path, capsys: Capsys, library: ScenarioLibrary,
                                         mole: Scenario) -> None:
    folder, judged = _hostile_folder(tmp_path, library, mole)
    _report(capsys, str(folder), "--markdown", "--out", str(tmp_path / "r.md"))
    text = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "\x1b" not in text and "\u202e" not in text
    fences = re.findall(r"^(`{4,})text\n(.*?)\n\1$", text, flags=re.S | re.M)
    assert fences and any(SCRIPT in body and FENCE in body for _, body in fences)  # the ``` inside cannot close it
    outside = re.sub(r"^(`{3,})text\n.*?\n\1$", "", text, flags=re.S | re.M)
    assert "<script" not in outside and "<b " not in outside and "# injected" not in outside
    assert "scripted/&lt;b onmouseover" in outside  # the model's name escaped in headings and tables


def test_the_report_refuses_bad_input_in_one_line_before_any_work(tmp_path: Path, capsys: Capsys) -> None:
    code, _, err = cli(capsys, "report", str(tmp_path / "nope"))
    assert_one_line(err, code, 2, "no run folder", "valid:")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli(capsys, "report", str(empty))
    assert_one_line(err, code, 2, "neither a tournament run", "valid:")
    code, _, err = cli(capsys, "report", str(EXAMPLE_RUN), "--out", str(tmp_path))
    assert_one_line(err, code, 2, "is a directory")
    blocked = tmp_path / "file"
    blocked.write_text("x")
    code, _, err = cli(capsys, "report", str(EXAMPLE_RUN), "--out", str(blocked / "r.html"))
    assert_one_line(err, code, 2, "--out")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.json").write_text("{not json")
    code, _, err = cli(capsys, "report", str(bad))
    assert_one_line(err, code, 2, "neither a tournament run", "x.json", "invalid JSON")
    assert not list(EXAMPLE_RUN.glob("report.*")) and not list(EXAMPLE_RUN.glob(".report*"))


def test_a_changed_or_missing_library_image_is_not_shown_as_if_it_were_sent(tmp_path: Path, capsys: Capsys) -> None:
    folder = tmp_path / "one"
    folder.mkdir()
    data = json.loads(PARENT.read_text())
    for call in data["calls"]:
        for message in call["request"]["messages"]:
            for part in message["parts"]:
                if part.get("type") == "image_ref":
                    part["source_sha256"] = "0" * 64
    (folder / PARENT.name).write_text(json.dumps(data))
    _report(capsys, str(folder))
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "is not the image this transcript sent" in page and 'class="transcript-image"' not in page
    empty_library = tmp_path / "lib"
    (empty_library / "cases").mkdir(parents=True)
    _report(capsys, str(folder), "--library", str(empty_library), "--out", str(tmp_path / "r2.html"))
    page = (tmp_path / "r2.html").read_text(encoding="utf-8")
    assert "is not in the library" in page and "not available" in page


# -- what the hostile-input review found -------------------------------------------------------------

class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value is not None:
                self.ids.append(value)
            if name == "href" and value is not None:
                self.links.append(value)


def _structure(page: str) -> None:
    """Every id once, and every link an anchor of the page."""
    parser = _Ids()
    parser.feed(page)
    assert len(parser.ids) == len(set(parser.ids)), [i for i in parser.ids if parser.ids.count(i) > 1][:5]
    assert all(link.startswith("#") and link[1:] in set(parser.ids) for link in parser.links)


def _markdown_html(text: str) -> str:
    """What a CommonMark + GFM tables/strikethrough viewer makes of the file, fences removed."""
    outside = re.sub(r"^(`{3,})text\n.*?\n\1$", "", text, flags=re.S | re.M)
    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(outside)


def _svg_texts(page: str, chart_id: str) -> list[str]:
    uri = re.search(rf'id="{chart_id}" src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert uri is not None
    tree = ElementTree.fromstring(base64.b64decode(uri.group(1)))  # raises on invalid XML (a raw control)
    return ["".join(e.itertext()) for e in tree.iter("{http://www.w3.org/2000/svg}text")]


def _edited(tmp_path: Path, name: str, edit: Callable[[dict[str, Any]], None], source: Path = PARENT) -> Path:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    data = json.loads(source.read_text())
    edit(data)
    (folder / source.name).write_text(json.dumps(data))
    return folder


def test_a_fork_of_a_fork_is_shown_against_its_own_parent(tmp_path: Path, capsys: Capsys) -> None:
    folder = tmp_path / "chain"
    folder.mkdir()
    shutil.copy(PARENT, folder / PARENT.name)
    assert main(["fork", str(folder / PARENT.name), "--at-turn", "3", "--target", "reference/oracle", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)["transcript"]
    assert main(["fork", first, "--at-turn", "7", "--target", "reference/blind", "--json"]) == 0
    second = Path(json.loads(capsys.readouterr().out)["transcript"]).name
    said = _report(capsys, str(folder))
    assert "3 transcripts" in said
    page = (folder / "report.html").read_text(encoding="utf-8")
    _structure(page)
    views = gather(folder).by_file
    grandchild = views[second]
    assert grandchild.parent_view is views[Path(first).name] and f'id="{grandchild.anchor}"' in page
    block = page[page.index(f'id="{grandchild.anchor}"'):]
    assert "parent: reference/oracle" in block[:3000] and "(itself a branch)" in block[:1000]
    assert "reference/blind from turn 7 (of reference/oracle's branch)" in page


def test_surrogates_controls_and_odd_names_never_break_the_page(tmp_path: Path, capsys: Capsys) -> None:
    names = {"surrogate": "reference/\ud800x", "esc": "reference/\x1b[31mred", "math": "m/$\\alpha$ a\\b",
             "under": "_skill", "cjk": "local/模型"}

    def edit(name: str) -> Callable[[dict[str, Any]], None]:
        def apply(data: dict[str, Any]) -> None:
            data["target"] = name
            data["turns"][2]["disclosed_facts"] = ["fact\ud800\u202e"]
            data["scenario_id"] = data["scenario_id"]
        return apply

    folder = tmp_path / "odd"
    folder.mkdir()
    for key, name in names.items():
        data = json.loads(PARENT.read_text())
        edit(name)(data)
        data["encounter_id"] = f"enc-{key}"
        (folder / f"{key}.json").write_text(json.dumps(data))
    code, out, err = cli(capsys, "report", str(folder))
    assert code == 0 and err == "", err  # no warning either (a glyph missing from the chart font)
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "\ud800" not in page and "\x1b" not in page and "\u202e" not in page and "&lt;U+D800&gt;" in page
    _structure(page)
    labels = _svg_texts(page, "calibration-chart")
    assert "m/$\\alpha$ a\\b (n=1)" in labels and "_skill (n=1)" in labels and "local/模型 (n=1)" in labels
    assert "reference/␛[31mred (n=1)" in labels and "reference/<U+D800>x (n=1)" in labels
    code, _, err = cli(capsys, "report", str(folder), "--markdown")
    text = (folder / "report.md").read_text(encoding="utf-8")
    assert code == 0 and err == "" and "\ud800" not in text and "\x1b" not in text


def test_markdown_escapes_cannot_be_cancelled(tmp_path: Path, capsys: Capsys) -> None:
    hostile = "\\*x\\* \\_y\\_ \\[t\\](https://evil.example/x) ~~d~~ a|b `c` <b>z</b> \\<i>w</i>"

    def edit(data: dict[str, Any]) -> None:
        data["target"] = "scripted/" + hostile
        data["verdict"]["scores"]["accuracy"]["rationale"] = hostile
        data["turns"][0]["move"]["reason"] = hostile
        for call in data["calls"]:
            for message in call["request"]["messages"]:
                for part in message["parts"]:
                    if part.get("type") == "image_ref":
                        part["sha256"] = '<svg onload="f()">'
    folder = _edited(tmp_path, "md", edit)
    _report(capsys, str(folder), "--markdown")
    rendered = _markdown_html((folder / "report.md").read_text(encoding="utf-8"))
    for tag in ("<em>", "<s>", "<a ", "<b>", "<i>", "<svg"):  # the template's own bold and code spans aside
        assert tag not in rendered, tag
    assert "<code>c</code>" not in rendered and "<strong>x" not in rendered
    assert "*x*" in html.unescape(rendered) or "\\*x\\*" in html.unescape(rendered)


def test_duplicate_ids_rejudge_manifests_and_dead_evidence_are_handled(tmp_path: Path, capsys: Capsys) -> None:
    def edit(data: dict[str, Any]) -> None:
        data["verdict"]["scores"]["safety"]["evidence_turns"] = [1, 99]
    folder = _edited(tmp_path, "dup", edit)
    shutil.copy(folder / PARENT.name, folder / "copy.json")  # what arena rejudge keeps: the same encounter id
    (folder / "rejudge.json").write_text(json.dumps({"judges": ["rubric"]}))
    (folder / "notes.json").write_text("[1, 2]")
    said = _report(capsys, str(folder))
    assert "2 transcripts" in said and "has the encounter id of" in said and "notes.json" in said
    page = (folder / "report.html").read_text(encoding="utf-8")
    _structure(page)
    assert page.count('class="transcript"') == 2 and "99 (no such turn)" in page


def test_output_checks_before_any_work(tmp_path: Path, capsys: Capsys) -> None:
    folder = tmp_path / "run"
    shutil.copytree(EXAMPLE_RUN, folder)
    victim = next(folder.glob("derm-*.json"))
    before = victim.read_bytes()
    for out in (victim, folder / "new.json", folder / "arena.sqlite", folder / "arena.sqlite-wal"):
        code, _, err = cli(capsys, "report", str(folder), "--out", str(out))
        assert_one_line(err, code, 2, "would overwrite part of the run")
    assert victim.read_bytes() == before
    code, _, err = cli(capsys, "report", str(folder), "--out", str(tmp_path / ("x" * 300 + ".html")))
    assert_one_line(err, code, 2, "longer than")
    code, _, err = cli(capsys, "report", "")
    assert_one_line(err, code, 2, "non-empty path")
    assert main(["report", str(folder), "--out", str(folder / "mine.html")]) == 0  # a page inside the run is fine


def test_a_tournament_whose_library_is_gone_is_still_reported(tmp_path: Path, capsys: Capsys) -> None:
    folder = tmp_path / "run"
    shutil.copytree(EXAMPLE_RUN, folder)
    with sqlite3.connect(folder / "arena.sqlite") as db:
        db.execute("UPDATE runs SET config = json_set(config, '$.library', ?)", (str(tmp_path / "gone"),))
    said = _report(capsys, str(folder))
    assert "is gone: the built-in one is used" in said
    assert 'class="transcript-image"' in (folder / "report.html").read_text(encoding="utf-8")

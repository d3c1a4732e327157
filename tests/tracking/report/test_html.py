"""The HTML report: written at the end of a run with every section, self-contained, escaped; the
``dspy-gepa report`` command; the report's version stamp."""

import importlib.metadata
import re
import shutil
from html.parser import HTMLParser

import pytest

from dspy_gepa import ReflectionError
from dspy_gepa.cli import main
from dspy_gepa.tracking import build_run, load_run, render_html
from dspy_gepa.tracking.report.html import diff_html

from ..conftest import run_gepa


class Page(HTMLParser):
    """Collects what the checks need: element ids, classes, tags with their attributes, text."""

    def __init__(self, text):
        super().__init__()
        self.tags, self.ids, self.text = [], set(), []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if "id" in attrs:
            self.ids.add(attrs["id"])

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag, cls=None):
        return [a for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split())]

    @property
    def all_text(self):
        return "".join(self.text)


def test_report_written_at_the_end_of_a_run_has_every_part(recorded_run):
    log_dir, optimized = recorded_run
    r = optimized.detailed_results
    page = Page((log_dir / "report.html").read_text())
    assert {"summary", "progress", "lineage", "front", "scores", "candidates", "proposals"} <= page.ids
    n = len(r.candidates)
    assert {f"cand-{i}" for i in range(n)} <= page.ids
    assert "finished" in page.all_text and f"candidate #{r.best_idx}" in page.all_text
    # Lineage: one node per candidate, one edge per parent link, merges drawn apart.
    assert len(page.find("circle", "node")) == n
    assert len(page.find("circle", "best")) == 1
    links = sum(len([p for p in ps if p is not None]) for ps in r.parents)
    assert len(page.find("path", "edge")) == links
    merges = [i for i, ps in enumerate(r.parents) if len(ps) > 1]
    assert len(page.find("path", "merge")) == sum(len(r.parents[i]) for i in merges)
    # Best score against metric calls: a step line and one dot per candidate.
    assert len(page.find("path", "best")) == 1 and len(page.find("circle", "dot")) >= n
    # Per-example matrix: one row per candidate, one cell per validation example; front cells outlined.
    matrix = (log_dir / "report.html").read_text().split('class="matrix"')[1].split("</table>")[0]
    assert matrix.count("<tr>") == n + 1
    cells = re.findall(r"<td( class=\"front\")?[^>]*>([0-9.]+)</td>", matrix.split("</tr>", 1)[1])
    assert len(cells) == n * (len(r.val_subscores[0]) + 1)
    fronts = r.per_val_instance_best_candidates
    assert sum(1 for front, _ in cells if front) == sum(len(m) for m in fronts.values())
    # A child shows a diff against its parent with the learned rule inserted.
    child = next(i for i in range(1, n) if len(r.parents[i]) == 1)
    card = (log_dir / "report.html").read_text().split(f'id="cand-{child}"')[1].split("</section>")[0]
    assert "<ins>" in card and "=&gt;" in card


def test_report_is_self_contained(recorded_run):
    text = (recorded_run[0] / "report.html").read_text()
    page = Page(text)
    assert not page.find("script") and not page.find("link") and not page.find("img")
    for _, attrs in page.tags:
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            assert not value or value.startswith("#"), (name, value)
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text


def test_report_of_a_failed_run(tmp_path):
    def useless(candidate, reflective_dataset, components_to_update):
        return {c: "" for c in components_to_update}

    with pytest.raises(ReflectionError):
        run_gepa(tmp_path, instruction_proposer=useless, reflection_lm=None)
    text = (tmp_path / "report.html").read_text()
    assert "failed" in text and "ReflectionError" in text
    assert load_run(tmp_path).status == "failed"


def test_instructions_are_escaped():
    records = [
        {"type": "run_started", "config": {}, "max_metric_calls": 10, "train_size": 1, "val_size": 1,
         "seed_candidate": {"p": "<b>seed</b>"}},
        {"type": "candidate", "idx": 0, "hash": "h0", "texts": {"p": "<b>seed</b>"}, "parents": [], "seq": 0,
         "kind": "seed", "val_mean": 0.0, "discovered_at": 0, "val_scores": {"0": 0.0}},
        {"type": "candidate", "idx": 1, "hash": "h1", "texts": {"p": "<script>alert(1)</script>"}, "parents": [0],
         "seq": 1, "kind": "reflective", "val_mean": 1.0, "discovered_at": 4, "val_scores": {"0": 1.0}},
    ]
    text = render_html(build_run(records))
    assert "<script>" not in text and "<b>seed" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_cost_is_shown_only_when_recorded():
    def records(cost):
        usage = {"task": {"m": {"calls": 1, "cached": 0, "cost": cost, "unpriced": 0 if cost else 1}}}
        return [
            {"type": "run_started", "config": {}, "max_metric_calls": 10, "train_size": 1, "val_size": 1,
             "seed_candidate": {"p": "a"}},
            {"type": "rollout", "key": ["h0", "val", 0], "score": 0.0, "usage": usage},
            {"type": "candidate", "idx": 0, "hash": "h0", "texts": {"p": "a"}, "parents": [], "seq": 0,
             "kind": "seed", "val_mean": 0.0, "discovered_at": 0, "val_scores": {"0": 0.0}},
            {"type": "rollout", "key": ["h1", "val", 0], "score": 1.0, "usage": usage},
            {"type": "candidate", "idx": 1, "hash": "h1", "texts": {"p": "b"}, "parents": [0], "seq": 1,
             "kind": "reflective", "val_mean": 1.0, "discovered_at": 1, "val_scores": {"0": 1.0}},
        ]

    priced = build_run(records(0.0125))
    assert priced.cost == pytest.approx(0.025)
    assert [c.cost_at for c in priced.candidates] == [pytest.approx(0.0125), pytest.approx(0.025)]
    text = render_html(priced)
    assert "cost (USD)" in text and "$0.0250" in text
    unpriced = render_html(build_run(records(0.0)))
    assert "cost (USD)" not in unpriced and "$0.0" not in unpriced


def test_word_diff():
    html = diff_html("Answer with a color.", "Answer with one color.\napple => red")
    assert "<del>a</del>" in html and "<ins>one</ins>" in html and "<ins>\napple =&gt; red</ins>" in html


def test_report_command_writes_where_asked(recorded_run, tmp_path, capsys):
    log_dir = tmp_path / "copy"
    shutil.copytree(recorded_run[0], log_dir)
    (log_dir / "report.html").unlink()
    assert main(["report", str(log_dir)]) == 0
    assert (log_dir / "report.html").exists() and str(log_dir / "report.html") in capsys.readouterr().out
    assert main(["report", str(log_dir), "--output", str(tmp_path / "elsewhere" / "r.html")]) == 0
    assert (tmp_path / "elsewhere" / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_report_names_the_installed_version():
    text = render_html(build_run([]))
    version = importlib.metadata.version("dspy-gepa")
    assert f'<meta name="generator" content="dspy-gepa {version}">' in text
    assert f"Made by dspy-gepa {version} from the run's journal" in text

"""The report's SVG pictures: axis ticks, the best-score chart and the lineage tree."""

import re

from dspy_gepa.tracking.report import build_run, chart_svg, lineage_svg
from dspy_gepa.tracking.report.svg import _nice_ticks, color


def test_ticks_are_round_numbers_covering_the_range():
    assert _nice_ticks(0.0, 1.0) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert _nice_ticks(0, 150) == [0, 50, 100, 150]
    assert _nice_ticks(3.0, 3.0) == [3.0]


def test_chart_draws_a_step_line_and_a_dot_per_scored_candidate():
    svg = chart_svg([(0, 0.0), (10, 0.5)], [(0, 0.0, 0), (10, 0.5, 1), (12, float("nan"), 2)],
                    x_label="metric calls", y_label="validation score", x_max=20, x_end=15)
    assert len(re.findall(r'<path class="best"', svg)) == 1
    assert re.findall(r'href="#cand-(\d+)"', svg) == ["0", "1"]  # a NaN score has no dot
    assert '<line class="budget"' in svg and "budget: 20" in svg


def test_lineage_draws_merges_dashed_and_rings_the_best():
    def cand(idx, parents, mean, texts):
        return {"type": "candidate", "idx": idx, "hash": f"h{idx}", "texts": texts, "parents": parents, "seq": idx,
                "kind": "merge" if len(parents) > 1 else "reflective" if parents else "seed", "val_mean": mean,
                "discovered_at": idx, "val_scores": {"0": mean}}

    run = build_run([cand(0, [], 0.0, {"p": "a", "q": "a"}), cand(1, [0], 0.5, {"p": "b", "q": "a"}),
                     cand(2, [0], 0.5, {"p": "a", "q": "c"}), cand(3, [1, 2], 1.0, {"p": "b", "q": "c"})])
    svg = lineage_svg(run)
    assert svg.count('class="edge"') == 2 and svg.count('class="edge merge"') == 2
    assert svg.count('class="node best"') == 1 and 'cx="92"' in svg.split('class="node best"')[1][:20]
    assert "merge of #1 + #2  [p←#1, q←#2]" in svg
    assert lineage_svg(build_run([])) == "<p>No candidates yet.</p>"


def test_color_scale():
    assert color(float("nan"), 0, 1) == "#eee"
    assert color(0.0, 0, 1) == "hsl(0, 65%, 88%)" and color(1.0, 0, 1) == "hsl(120, 65%, 80%)"

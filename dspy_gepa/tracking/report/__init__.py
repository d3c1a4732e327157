"""The run report, built from a journal alone: one self-contained HTML file and a short text summary.

``run_view`` folds the journal's records into a :class:`RunView` (what happened); ``html`` writes the
report page, ``svg`` draws its charts and lineage tree, ``text`` writes the terminal summary.

    >>> write_report("runs/my_run")            # -> runs/my_run/report.html
    >>> print(summary_text("runs/my_run"))
"""

from dspy_gepa.tracking.report.html import REPORT_NAME, diff_html, render_html, write_report
from dspy_gepa.tracking.report.run_view import CandidateView, RunView, build_run, load_run
from dspy_gepa.tracking.report.svg import chart_svg, lineage_svg
from dspy_gepa.tracking.report.text import render_text, summary_text

__all__ = [
    "REPORT_NAME",
    "CandidateView",
    "RunView",
    "build_run",
    "chart_svg",
    "diff_html",
    "lineage_svg",
    "load_run",
    "render_html",
    "render_text",
    "summary_text",
    "write_report",
]

"""How the report writes numbers and text: scores, dollars, HTML escaping. Shared by the HTML, its SVG
pictures and the terminal summary, so a score reads the same in all three."""

from __future__ import annotations

import html
import math
from typing import Any


def escape(value: Any) -> str:
    return html.escape(str(value), quote=True)


def fmt_score(x: float | None, digits: int = 3) -> str:
    """``digits`` decimals; whole numbers bare when fewer than 3 decimals are asked for; "–" for none or NaN."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if float(x).is_integer() and abs(x) < 1e9 and digits < 3:
        return str(int(x))
    return f"{x:.{digits}f}"


def fmt_cost(x: float | None) -> str:
    if x is None:
        return "unknown"
    return f"${x:,.4f}" if x < 1 else f"${x:,.2f}"

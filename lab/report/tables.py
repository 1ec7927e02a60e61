"""Numbers and tables as reports print them: one formatting rule for a measured figure, and one
table builder for aligned text and for Markdown."""

from __future__ import annotations

import math
from collections.abc import Sequence


def figure(value: float | None) -> str:
    """A measured figure: four significant digits between 1e-3 and 1e4, scientific outside
    (2.2e-16), "—" for a figure that does not exist."""
    if value is None:
        return "—"
    if not math.isfinite(value) or value == 0 or 1e-3 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.2e}"


def mark(ok: bool | None) -> str:
    return {True: "✓", False: "✗", None: "—"}[ok]


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, a rule under the header."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub Markdown table; a "|" inside a cell is escaped."""

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(row) for row in rows)])

"""Showing coverage: a side-by-side table, gap lines, and a report folder (PNG histograms and JSON).

``write_report(a, b, gaps, DIR)`` writes ``DIR/coverage.png`` (one panel per axis: A's share of
faces per bin over B's) and ``DIR/coverage.json`` (both sets' histograms and the gaps), each
atomically. matplotlib is imported only there.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from masque.atomic import atomic_write_bytes
from masque.faceset.coverage import AXES, Coverage, Gap

PLOT_NAME, JSON_NAME = "coverage.png", "coverage.json"


def coverage_table(a: Coverage, b: Coverage | None = None) -> list[str]:
    """One line per axis bin that holds faces: faces and share of A (and of B), for ``masque faceset info``.

    >>> coverage_table(Coverage("a", ()))[0]
    'coverage of 0 faces (pose in degrees; eyes: eye aspect ratio; mouth: lip gap / mouth width)'
    """
    sets = [a] if b is None else [a, b]
    head = "coverage of " + " and ".join(f"{len(c.faces)} faces" + (f" ({n})" if b else "")
                                         for c, n in zip(sets, "AB", strict=False))
    lines = [f"{head} (pose in degrees; eyes: eye aspect ratio; mouth: lip gap / mouth width)"]
    if b is not None:
        lines.append(f"{'':>16}  {'A':>12}  {'B':>12}")
    for axis in AXES:
        hists = [c.histogram(axis) for c in sets]
        for label in axis.labels:
            if not any(h[label] for h in hists):
                continue
            cells = [_cell(h[label], len(c.faces)) for h, c in zip(hists, sets, strict=True)]
            lines.append(f"{axis.name:>6} {label:>9}  " + "  ".join(f"{x:>12}" for x in cells))
    return lines


def _cell(n: int, total: int) -> str:
    return f"{n} ({100 * n / total:.0f} %)" if total else "0"


def coverage_summary(c: Coverage) -> list[str]:
    """A few lines: the occupied bins of each axis, for ``masque faceset info`` of one set."""
    lines = []
    for axis in AXES:
        h = c.histogram(axis)
        shown = ", ".join(f"{label} {_cell(n, len(c.faces))}" for label, n in h.items() if n)
        lines.append(f"{axis.name:>6}: {shown or 'no faces'}")
    return lines


def gap_lines(gaps: list[Gap], a: str = "A", b: str = "B", examples: bool = True,
              limit: int | None = None) -> list[str]:
    """The gaps in plain words, the most common in ``a`` first; at most ``limit`` and a line saying how many more."""
    shown = gaps if limit is None else gaps[:limit]
    lines = [g.words(a, b, examples) for g in shown]
    if len(gaps) > len(shown):
        lines.append(f"... and {len(gaps) - len(shown)} more")
    return lines


def report_json(a: Coverage, b: Coverage | None, gaps: list[Gap] | None) -> dict[str, object]:
    """What ``--json`` prints and ``coverage.json`` holds."""
    out: dict[str, object] = {"a": a.to_json()}
    if b is not None:
        out |= {"b": b.to_json(), "gaps": [g.to_json() for g in gaps or []]}
    return out


def write_report(a: Coverage, b: Coverage | None, gaps: list[Gap] | None,
                 folder: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``coverage.png`` and ``coverage.json`` into ``folder`` (created); returns their paths.

    The PNG has one panel per axis, the share of each set's faces per bin, A's bars beside B's;
    the bins that are gaps of A against B have red labels.
    """
    from matplotlib.figure import Figure

    root = Path(folder)
    flagged = {(g.axis, g.bin) for g in gaps or []}
    fig = Figure(figsize=(4.2 * len(AXES), 3.6), layout="constrained")
    fig.suptitle(f"A: {a.path}" + (f"   B: {b.path}" if b is not None else ""), fontsize=9)
    for k, axis in enumerate(AXES):
        ax = fig.add_subplot(1, len(AXES), k + 1)
        x = range(len(axis.labels))
        for c, name, width, offset in ((a, "A", 0.4, -0.2), (b, "B", 0.4, 0.2)):
            if c is None:
                continue
            n = max(len(c.faces), 1)
            ax.bar([i + offset for i in x], [100 * v / n for v in c.histogram(axis).values()], width,
                   label=f"{name} ({len(c.faces)} faces)")
        ax.set_xticks(list(x), axis.labels, rotation=30, fontsize=8)
        for tick in ax.get_xticklabels():  # A's gaps in red
            if (axis.name, tick.get_text()) in flagged:
                tick.set_color("red")
        ax.set_title(axis.name)
        ax.set_ylabel("% of the set's faces")
        ax.legend(fontsize=7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    png, js = root / PLOT_NAME, root / JSON_NAME
    atomic_write_bytes(png, buf.getvalue())
    atomic_write_bytes(js, json.dumps(report_json(a, b, gaps), indent=1).encode())
    return png, js

"""Measuring a swap: identity, pose, expression, temporal jitter, seams, detail, reconstruction.

``evaluate(swapped, original, source)`` returns an :class:`EvaluationReport` (per-frame rows and a
``summary()``); :func:`write_report` draws it (PNG over time, HTML with sample frames).
"""

from masque.metrics.evaluate import DEFAULT_EVERY, EvaluationReport, FrameMetrics, evaluate
from masque.metrics.identity import Identity, load_identity
from masque.metrics.report import format_summary, write_report

__all__ = [
    "DEFAULT_EVERY",
    "EvaluationReport",
    "FrameMetrics",
    "Identity",
    "evaluate",
    "format_summary",
    "load_identity",
    "write_report",
]

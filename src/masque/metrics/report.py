"""Showing an evaluation: a text summary, a PNG of the metrics over time, an HTML page with samples.

``write_report(report, DIR)`` writes ``DIR/metrics.png``, ``DIR/report.json`` (summary and
per-frame rows), ``DIR/samples/*.jpg`` (original and swapped face side by side) and
``DIR/index.html``. Every file is written atomically.
"""

from __future__ import annotations

import html
import io
import json
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from matplotlib.figure import Figure

from masque.atomic import atomic_write_bytes
from masque.media.image import encode_image
from masque.metrics.evaluate import EvaluationReport, FrameMetrics
from masque.metrics.frames import paired_frames
from masque.provenance import LabelConfig, Labeler

SAMPLE_SIDE = 256


def _fmt(v: Any, spec: str = ".3f", suffix: str = "") -> str:
    return "n/a" if v is None else f"{v:{spec}}{suffix}"


def _pose_parts(summary: dict[str, Any]) -> str:
    """``" (steady offset ..., tracking ...)"`` for yaw and pitch, or '' for a summary from before."""
    off, track = summary.get("pose_offset_deg"), summary.get("pose_tracking_deg")
    if not off or not track:
        return ""
    return (f" (steady offset yaw {_fmt(off['yaw'], '+.2f')}, pitch {_fmt(off['pitch'], '+.2f')}: the new "
            f"face's proportions read as pose; about it, tracking yaw {_fmt(track['yaw'], '.2f')}, "
            f"pitch {_fmt(track['pitch'], '.2f')})")


def format_summary(summary: dict[str, Any]) -> str:
    """A few human-readable lines of :meth:`EvaluationReport.summary` (what ``masque evaluate`` prints)."""
    s, ident, pose = summary, summary["identity"], summary["pose_error_deg"]
    lines = [
        f"evaluated {s['swapped']} against {s['original']}: {s['frames']} frames, face found in "
        f"{s['faces_found']['original']} original / {s['faces_found']['swapped']} swapped",
        f"identity     distance to source '{s['source']['name']}' {_fmt(ident['to_source'])}, to target "
        f"{_fmt(ident['to_target'])} (same person below 0.6); "
        f"same person as source {_fmt(ident['same_person_as_source'], '.0%')}; "
        f"retrieval {_fmt(ident['retrieval'], '.0%')} among {', '.join(['source', *s['gallery']])} "
        f"({ident['frames']} frames)",
        f"pose error   yaw {_fmt(pose['yaw'], '.2f')}, pitch {_fmt(pose['pitch'], '.2f')}, "
        f"roll {_fmt(pose['roll'], '.2f')} degrees" + _pose_parts(s),
        f"expression   {_fmt(s['expression_error'])} inter-ocular distances (eyes and mouth, after Procrustes)",
        _jitter_line(s["jitter"]),
        f"seam         {_fmt(s['seam'], '.3f')} (gradient of the change along the blend border / face interior; "
        "0 = none; smooth blends about 0.03, hard pastes 0.1 and up)",
        _detail_line(s["detail"]),
    ]
    rec = s.get("reconstruction")
    if rec:
        for side in ("a", "b"):
            r = rec[side]
            lines.append(f"reconstruct  {side.upper()}->{side.upper()} SSIM {_fmt(r['ssim'])}, PSNR "
                         f"{_fmt(r['psnr'], '.2f', ' dB')} on {r['faces']} held-out faces")
    lines += [f"note: {n}" for n in s.get("notes", [])]
    return "\n".join(lines)


def _jitter_line(jitter: dict[str, Any]) -> str:
    if jitter["excess"] is None:
        return "jitter       n/a (needs two or more frames with a face)"
    return (f"jitter       {jitter['excess']:+.4f} inter-ocular distances per frame more than the original "
            f"(swapped {_fmt(jitter['swapped'], '.4f')}, original {_fmt(jitter['original'], '.4f')})")


def _detail_line(detail: dict[str, Any]) -> str:
    return (f"detail       {_fmt(detail['half_scale'], '.2f')} at half scale, {_fmt(detail['full_scale'], '.2f')} at "
            "full scale (Laplacian energy of the swapped face / the original's, median over "
            f"{detail['frames']} frames; 1 = as sharp as the original, below 1 softer)")


def plot_metrics(report: EvaluationReport) -> bytes:
    """PNG bytes: identity, pose, expression, jitter, seam and detail against the frame number."""
    fr = report.frames
    x = np.array([f.index for f in fr])
    col = lambda name: np.array([getattr(f, name) for f in fr], np.float64)  # noqa: E731
    fig = Figure(figsize=(10, 13), dpi=100, layout="constrained")
    axes = fig.subplots(6, 1, sharex=True)
    emb = np.array([f.embedded for f in fr], bool)
    axes[0].plot(x[emb], col("id_source")[emb], "o-", ms=3, label="to source")
    axes[0].plot(x[emb], col("id_target")[emb], "s-", ms=3, label="to original face")
    axes[0].axhline(0.6, color="grey", ls="--", lw=1, label="same-person threshold")
    _panel(axes[0], "identity distance")
    for name in ("yaw", "pitch", "roll"):
        axes[1].plot(x, col(name), lw=1, label=name)
    _panel(axes[1], "pose error (deg)")
    axes[2].plot(x, col("expression"), lw=1, color="tab:purple", label="eyes + mouth")
    _panel(axes[2], "expression error (IOD)")
    axes[3].plot(x, col("motion_original"), lw=1.5, ls="--", color="tab:grey", label="original", zorder=3)
    axes[3].plot(x, col("motion_swapped"), lw=1, color="tab:red", label="swapped")
    _panel(axes[3], "landmark motion (IOD/frame)")
    axes[4].plot(x, col("seam"), lw=1, color="tab:orange", label="blend border / face interior")
    _panel(axes[4], "seam")
    axes[5].plot(x, col("detail"), lw=1.5, color="tab:green", label="half scale (headline)")
    axes[5].plot(x, col("detail_full"), lw=1, color="tab:olive", ls=":", label="full scale")
    axes[5].axhline(1.0, color="grey", ls="--", lw=1, label="as the original")
    _panel(axes[5], "detail (swapped / original)")
    axes[5].set_xlabel("frame")
    fig.suptitle(f"masque evaluate: {Path(report.swapped).name} vs {Path(report.original).name}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _panel(ax: Any, title: str) -> None:
    ax.set_ylabel(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")


def sample_indices(frames: tuple[FrameMetrics, ...], n: int) -> list[int]:
    """Up to ``n`` frames spread over the clip, preferring those with identity measured."""
    both = [f for f in frames if f.face_original and f.face_swapped]
    pool = [f for f in both if f.embedded] or both or [f for f in frames if f.face_original]
    if len(pool) <= n:
        return [f.index for f in pool]
    return sorted({pool[int(i)].index for i in np.linspace(0, len(pool) - 1, n)})


def side_by_side(original: np.ndarray, swapped: np.ndarray,
                 bbox: tuple[float, float, float, float] | None) -> np.ndarray:
    """The same square crop around the original face from both frames, side by side, RGB uint8."""
    h, w = original.shape[:2]
    if bbox is None:
        x0, y0, x1, y1 = 0.0, 0.0, float(w), float(h)
    else:
        cx, cy = (bbox[0] + bbox[2]) / 2, (bbox[1] + bbox[3]) / 2
        half = 0.9 * max(bbox[2] - bbox[0], bbox[3] - bbox[1])
        x0, y0, x1, y1 = cx - half, cy - half, cx + half, cy + half
    box = (max(0, int(x0)), max(0, int(y0)), min(w, int(x1)), min(h, int(y1)))
    crops = [cv2.resize(img[box[1]:box[3], box[0]:box[2]], (SAMPLE_SIDE, SAMPLE_SIDE), interpolation=cv2.INTER_AREA)
             for img in (original, swapped)]
    return np.concatenate(crops, axis=1)


def _sample_images(report: EvaluationReport, indices: list[int]) -> dict[int, np.ndarray]:
    wanted, out = set(indices), {}
    by_index = {f.index: f for f in report.frames}
    for i, sw, og in paired_frames(report.swapped, report.original):
        if i in wanted:
            out[i] = side_by_side(og, sw, by_index[i].bbox)
        if len(out) == len(wanted):
            break
    return out


def write_report(report: EvaluationReport, out_dir: str | os.PathLike[str], samples: int = 6,
                 labeler: Labeler | None = None) -> Path:
    """Write the PNG, JSON, sample images and HTML page of ``report`` into ``out_dir``.

    The sample images show the swapped (synthetic) face, so they are labelled like any output of
    masque, by ``labeler`` (default: watermark and signed C2PA manifest, kind "composite").

    Returns:
        The path of ``index.html``.
    """
    out = Path(out_dir)
    summary = report.summary()
    labeler = labeler or Labeler(LabelConfig(kind="composite"))
    atomic_write_bytes(out / "metrics.png", plot_metrics(report))
    atomic_write_bytes(out / "report.json", json.dumps({"summary": summary, "frames": report.rows()},
                                                       indent=1).encode())
    names = []
    for i, img in sorted(_sample_images(report, sample_indices(report.frames, samples)).items()):
        name = f"samples/frame_{i:06d}.jpg"
        atomic_write_bytes(out / name, encode_image(labeler.mark(img), ".jpg", 90))
        labeler.finalize(out / name)
        names.append((i, name))
    page = out / "index.html"
    atomic_write_bytes(page, render_html(report, summary, names).encode())
    return page


def render_html(report: EvaluationReport, summary: dict[str, Any], samples: list[tuple[int, str]]) -> str:
    """The HTML page: the summary table, the metrics PNG and the sample pairs with their numbers."""
    by_index = {f.index: f for f in report.frames}
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(_cell(v))}</td></tr>"
                   for k, v in _flatten(summary).items())
    cards = "".join(_card(by_index[i], name) for i, name in samples)
    title = f"masque evaluate: {html.escape(Path(report.swapped).name)}"
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>"
            "body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}"
            "th,td{border:1px solid #ccc;padding:2px 8px;text-align:left;font-size:13px}"
            ".cards{display:flex;flex-wrap:wrap;gap:12px}.card{font-size:12px;width:512px}"
            ".card img{width:512px}</style></head><body>"
            f"<h1>{title}</h1><p>Left: original. Right: swapped output (synthetic). Distances: dlib "
            "embeddings (same person below 0.6); shape errors in inter-ocular distances.</p>"
            f"<h2>Summary</h2><table>{rows}</table><h2>Over time</h2><img src='metrics.png' width='900'>"
            f"<h2>Sample frames</h2><div class='cards'>{cards}</div></body></html>")


def _card(f: FrameMetrics, name: str) -> str:
    text = (f"frame {f.index}: to source {_fmt(_num(f.id_source))}, to original {_fmt(_num(f.id_target))}, "
            f"nearest {f.nearest or 'n/a'}; pose error yaw {_fmt(_num(f.yaw), '.1f')} pitch "
            f"{_fmt(_num(f.pitch), '.1f')} roll {_fmt(_num(f.roll), '.1f')}; expression {_fmt(_num(f.expression))}; "
            f"seam {_fmt(_num(f.seam), '.3f')}; detail {_fmt(_num(f.detail), '.2f')} at half scale, "
            f"{_fmt(_num(f.detail_full), '.2f')} at full scale")
    return (f"<div class='card'><img src='{html.escape(name)}' alt='frame {f.index}'>"
            f"<div>{html.escape(text)}</div></div>")


def _num(v: float) -> float | None:
    return v if np.isfinite(v) else None


def _cell(v: Any) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, list):
        return ", ".join(map(str, v)) or "none"
    return str(v)


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            flat.update(_flatten(v, key + "."))
        else:
            flat[key] = v
    return flat

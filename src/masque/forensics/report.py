"""``masque detect --report DIR``: an HTML page with per-file verdicts, score plots and heat maps.

The heat maps are the detector's own map head (where it locates a blend), drawn back onto the
frame through the face's alignment; they are analysis images of the input, not synthetic faces,
so they carry no synthetic label.
"""

from __future__ import annotations

import html
import io
import json
import os
from pathlib import Path

import cv2
import numpy as np
from matplotlib.figure import Figure

from masque.atomic import atomic_write_bytes
from masque.face import paste_matrix
from masque.forensics.detect import FaceScore, FileVerdict
from masque.forensics.liveness import LivenessReport
from masque.media.image import encode_image


def heat_overlay(frame: np.ndarray, face: FaceScore, size: int) -> np.ndarray:
    """``frame`` (RGB ``uint8``) with ``face``'s heat map drawn over its face region, cropped around it."""
    heat = cv2.resize(face.heat, (size, size), interpolation=cv2.INTER_CUBIC)
    h, w = frame.shape[:2]
    inv = paste_matrix(face.matrix)
    back = cv2.warpAffine(np.clip(heat, 0, 1), inv, (w, h), flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.ones((size, size), np.float32), inv, (w, h), flags=cv2.INTER_LINEAR)
    colour = cv2.applyColorMap((back * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1].astype(np.float32)
    alpha = (0.6 * inside * np.clip((back - 0.2) / 0.6, 0.0, 1.0))[..., None]  # cells below 0.2 stay clear
    out = (frame.astype(np.float32) * (1 - alpha) + colour * alpha).astype(np.uint8)
    x0, y0, x1, y1 = face.bbox
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.9 * max(x1 - x0, y1 - y0)
    box = (max(0, int(cx - half)), max(0, int(cy - half)), min(w, int(cx + half)), min(h, int(cy + half)))
    crop = out[box[1]:box[3], box[0]:box[2]]
    return cv2.resize(crop, (256, 256), interpolation=cv2.INTER_AREA) if crop.size else out


def plot_scores(v: FileVerdict) -> bytes:
    """PNG bytes: per-frame scores of a video against the threshold."""
    fig = Figure(figsize=(8, 2.6), dpi=100, layout="constrained")
    ax = fig.subplots()
    x = [f for f, _ in v.frame_scores]
    ax.plot(x, [s for _, s in v.frame_scores], "o-", ms=3, lw=1, label="frame score (most suspicious face)")
    ax.axhline(v.threshold, color="tab:red", ls="--", lw=1, label="threshold")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("frame")
    ax.set_ylabel("fake score")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(Path(v.path).name, fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_detect_report(verdicts: list[FileVerdict], out_dir: str | os.PathLike[str], size: int = 128) -> Path:
    """Write ``index.html``, ``detect.json``, heat-map PNGs and score plots into ``out_dir``; returns the page."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sections = []
    for n, v in enumerate(verdicts):
        stem = f"{n:03d}_{_safe(Path(v.path).stem)}"
        images = []
        for d in v.drivers:
            if d.frame in v.driver_frames:
                name = f"heat/{stem}_f{d.frame:06d}_{d.index}.png"
                atomic_write_bytes(out / name, encode_image(heat_overlay(v.driver_frames[d.frame], d, size), ".png"))
                images.append((name, d))
        plot = None
        if v.media == "video" and len(v.frame_scores) > 1:
            plot = f"plots/{stem}.png"
            atomic_write_bytes(out / plot, plot_scores(v))
        sections.append(_section(v, images, plot))
    atomic_write_bytes(out / "detect.json", json.dumps([v.to_dict() for v in verdicts], indent=1).encode())
    page = out / "index.html"
    atomic_write_bytes(page, ("<!doctype html><html><head><meta charset='utf-8'><title>masque detect</title><style>"
                              "body{font-family:sans-serif;margin:2em;max-width:1100px}.fake{color:#b00}"
                              ".cards{display:flex;flex-wrap:wrap;gap:10px}.card{font-size:12px}</style></head><body>"
                              "<h1>masque detect</h1><p>The score is the detector's estimate (0 looks real, 1 looks "
                              "fake), learnt from self-blended real faces; a label written by masque is a fact about "
                              "how the file was made. Heat maps: where the detector locates a blend.</p>"
                              + "".join(sections) + "</body></html>").encode())
    return page


def _section(v: FileVerdict, images: list[tuple[str, FaceScore]], plot: str | None) -> str:
    if v.score is None:
        verdict = "no face found"
    else:
        verdict = (f"<span class='{'fake' if v.fake else 'real'}'>{'LOOKS FAKE' if v.fake else 'looks real'}</span>: "
                   f"score {v.score:.3f} (threshold {v.threshold:.2f}, confidence {v.confidence:.2f})")
    labels = ("not read" if v.labels is None else
              "<b>labelled as synthetic by masque</b>" if v.labelled else "no masque label")
    cards = "".join(f"<div class='card'><img src='{html.escape(name)}' width='256'><br>frame {d.frame}, face "
                    f"{d.index}: {d.score:.3f}</div>" for name, d in images)
    chart = f"<img src='{html.escape(plot)}' width='800'>" if plot else ""
    return (f"<h2>{html.escape(v.path)}</h2><p>{verdict}; {len(v.faces)} face(s) in {v.frames} frame(s) "
            f"({v.media}). masque labels: {labels}.</p>{chart}<div class='cards'>{cards}</div>")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)[:40]


def plot_liveness(report: LivenessReport) -> bytes:
    """PNG bytes: one panel per liveness signal, with its score."""
    s = report.signals
    fig = Figure(figsize=(9, 10), dpi=100, layout="constrained")
    axes = fig.subplots(4, 1)
    m = s["motion"].series
    if m:
        axes[0].plot(m["residual"], lw=1, label="residual, frames 0.5 s apart")
        axes[0].plot(m["jitter"], lw=1, alpha=0.7, label="residual, neighbouring frames (jitter)")
    axes[0].set_title(f"motion {s['motion'].score:.2f}: {s['motion'].detail}", fontsize=8)
    b = s["blink"].series
    if b:
        axes[1].plot(b["ear"], lw=1, label="eye aspect ratio")
        axes[1].plot(b["threshold"], "--", lw=1, label="blink threshold")
    axes[1].set_title(f"blink {s['blink'].score:.2f}: {s['blink'].detail}", fontsize=8)
    p = s["pulse"].series
    if p:
        axes[2].plot(p["freqs"], p["spectrum"], lw=1, label="POS spectrum")
        axes[2].set_xlabel("bpm")
    axes[2].set_title(f"pulse {s['pulse'].score:.2f}: {s['pulse'].detail}", fontsize=8)
    t = s["texture"].series
    if t:
        axes[3].bar(range(len(t["peaks"])), t["peaks"], label="spectral peak ratio per sampled crop")
        axes[3].axhline(12, color="tab:red", ls="--", lw=1, label="screen")
    axes[3].set_title(f"texture {s['texture'].score:.2f}: {s['texture'].detail}", fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="upper right")
    fig.suptitle(f"{Path(report.path).name}: {'LIVE' if report.live else 'SPOOF'} (score {report.score:.2f})")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_liveness_report(reports: list[LivenessReport], out_dir: str | os.PathLike[str]) -> Path:
    """Write ``index.html``, ``liveness.json`` and one plot per clip into ``out_dir``; returns the page."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for n, r in enumerate(reports):
        name = f"plots/{n:03d}_{_safe(Path(r.path).stem)}.png"
        atomic_write_bytes(out / name, plot_liveness(r))
        rows = "".join(f"<tr><td>{k}</td><td>{v.score:.2f}</td><td>{html.escape(v.detail)}</td></tr>"
                       for k, v in r.signals.items())
        parts.append(f"<h2>{html.escape(r.path)}: {'LIVE' if r.live else 'SPOOF'} (score {r.score:.2f}; "
                     f"{html.escape(r.reason)})</h2><table>{rows}</table><img src='{name}' width='800'>")
    atomic_write_bytes(out / "liveness.json", json.dumps([r.to_dict() for r in reports], indent=1).encode())
    page = out / "index.html"
    atomic_write_bytes(page, ("<!doctype html><html><head><meta charset='utf-8'><title>masque liveness</title>"
                              "<style>body{font-family:sans-serif;margin:2em;max-width:1000px}td{padding:2px 8px}"
                              "</style></head><body><h1>masque liveness</h1>" + "".join(parts)
                              + "</body></html>").encode())
    return page

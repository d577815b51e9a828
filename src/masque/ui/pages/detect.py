"""Detect page: ``masque detect`` (does a face look fake? per-file verdict, scores, heat maps) and
``masque liveness`` (a live person, or a photo or screen held to the camera?)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr

from masque.ui.app import HEAVY, PageContext, shown
from masque.ui.pages import Page
from masque.ui.pages._common import optional_number
from masque.ui.work import upload_path, upload_paths

#: the CLI's detect --every and liveness --max-frames defaults (masque.commands._known / the parser)
DETECT_EVERY, MAX_FRAMES = 5, 600
DETECT_HEADERS = ["file", "verdict", "score", "threshold", "confidence", "faces / frames", "masque label"]
LIVENESS_HEADERS = ["file", "verdict", "score", "reason", "signals"]


def run_detect(ctx: PageContext, files: Any, model: Any, every: float, threshold: str | float | None,
               no_labels: bool) -> tuple[list[Any], list[list[str]], list[tuple[Any, str]], Path]:
    """Like ``masque detect --report DIR FILE...``: (verdicts, table rows, heat-map captions, report folder).

    A file that cannot be read gets a row saying why (the CLI prints the error and goes on).
    """
    from masque.errors import ConfigError, MasqueError
    from masque.forensics.detect import DetectConfig, FakeDetector, detect_file
    from masque.forensics.report import heat_overlay, write_detect_report

    paths = upload_paths(files, "image or video")
    detector = FakeDetector(upload_path(model, "detector") if model else None, ctx.analyzer("hog", "none"))
    limit = optional_number(threshold, "--threshold", float)
    if limit is not None and not 0.0 <= limit <= 1.0:
        raise ConfigError(f"--threshold must be in [0, 1] (scores run from 0, looks real, to 1); got {limit}")
    config = DetectConfig(every=int(every), threshold=limit, labels=not no_labels)
    verdicts, rows, heat = [], [], []
    for path in paths:
        try:
            v = detect_file(detector, path, config)
        except MasqueError as exc:
            rows.append([path.name, "unreadable", "", "", "", "", str(exc)])
            continue
        verdicts.append(v)
        label = ("not read" if v.labels is None else "LABELLED AS SYNTHETIC" if v.labelled else "none")
        if v.score is None:
            rows.append([path.name, "NO FACE FOUND", "", f"{v.threshold:.2f}", "", f"0 / {v.frames}", label])
        else:
            rows.append([path.name, "LOOKS FAKE" if v.fake else "looks real", f"{v.score:.2f}", f"{v.threshold:.2f}",
                         f"{v.confidence:.2f}", f"{len(v.faces)} / {v.frames}", label])
        heat += [(heat_overlay(v.driver_frames[d.frame], d, 128), f"{path.name}: frame {d.frame} face {d.index}, "
                  f"score {d.score:.2f}") for d in v.drivers if d.frame in v.driver_frames]
    report = ctx.work.job("detect") / "report"
    if verdicts:
        write_detect_report(verdicts, report)
    return verdicts, rows, heat, report


def run_liveness(ctx: PageContext, videos: Any, max_frames: float) -> tuple[list[Any], list[list[str]], Path]:
    """Like ``masque liveness --report DIR VIDEO...``: (reports, table rows, report folder)."""
    from masque.errors import MasqueError
    from masque.forensics.liveness import LivenessConfig, check_liveness
    from masque.forensics.report import write_liveness_report

    config = LivenessConfig(max_frames=int(max_frames))
    reports, rows = [], []
    for path in upload_paths(videos, "video"):
        try:
            r = check_liveness(path, ctx.analyzer("hog", "none"), config)
        except MasqueError as exc:
            rows.append([path.name, "unreadable", "", str(exc), ""])
            continue
        reports.append(r)
        rows.append([path.name, "LIVE" if r.live else "SPOOF (photo or screen?)", f"{r.score:.2f}", r.reason,
                     ", ".join(f"{k} {s.score:.2f}" for k, s in r.signals.items())])
    report = ctx.work.job("liveness") / "report"
    if reports:
        write_liveness_report(reports, report)
    return reports, rows, report


def _detect_section(ctx: PageContext) -> None:
    gr.Markdown("Score every face of images and videos for signs of blending or synthesis (`masque detect`): "
                "0 looks real, 1 looks fake, with heat maps of where the detector sees a blend. Separately, "
                "whether masque's own labels mark the file as synthetic: a label is a fact, the score an estimate.")
    files = gr.File(file_count="multiple", label="Images or videos", elem_id="detect-files")
    with gr.Accordion("Options", open=False), gr.Row():
        model = gr.File(label="--model: a detector from `masque detect train` (.safetensors; empty: the shipped one)",
                        file_types=[".safetensors"], elem_id="detect-model")
        every = gr.Number(DETECT_EVERY, precision=0, minimum=1, label="--every: score every N-th video frame")
        threshold = gr.Textbox("", placeholder="empty: the detector's own", elem_id="detect-threshold",
                               label="--threshold: score in [0, 1] at which a face counts as fake (empty: the "
                               "detector's own)")
        no_labels = gr.Checkbox(False, label="--no-labels: skip reading masque's labels (C2PA, watermark)")
    run = gr.Button("Detect", variant="primary", elem_id="detect-run")
    table = gr.Dataframe(headers=DETECT_HEADERS, interactive=False, elem_id="detect-table")
    heat = gr.Gallery(label="Heat maps of the most suspicious faces", columns=6, height=220, object_fit="contain",
                      elem_id="detect-heat")
    download = gr.File(label="Report (zip: index.html, heat maps, plots, detect.json)", interactive=False,
                       elem_id="detect-download")

    @shown
    def detect(fi: Any, mo: Any, ev: float, th: str, nl: bool) -> tuple[Any, Any, Any]:
        verdicts, rows, shown_heat, report = run_detect(ctx, fi, mo, ev, th, nl)
        zipped = ctx.work.archive(report, report.parent) if verdicts else None
        return rows, shown_heat, str(zipped) if zipped else None

    run.click(detect, [files, model, every, threshold, no_labels], [table, heat, download], **HEAVY)


def _liveness_section(ctx: PageContext) -> None:
    gr.Markdown("A live person in front of the camera, or a photo or screen held up to it (`masque liveness`)? "
                "Non-rigid motion, blinks, skin pulse and screen/print texture, each scored (1 = live). Needs a "
                "few seconds of video with the face towards the camera.")
    videos = gr.File(file_count="multiple", file_types=["video"], label="Videos", elem_id="liveness-files")
    max_frames = gr.Number(MAX_FRAMES, precision=0, minimum=10,
                           label="--max-frames: frames read from the start of each clip")
    run = gr.Button("Check liveness", variant="primary", elem_id="liveness-run")
    table = gr.Dataframe(headers=LIVENESS_HEADERS, interactive=False, elem_id="liveness-table")
    plots = gr.Gallery(label="Signals per clip", columns=2, height=300, object_fit="contain", elem_id="liveness-plots")
    download = gr.File(label="Report (zip: index.html, plots, liveness.json)", interactive=False,
                       elem_id="liveness-download")

    @shown
    def liveness(vi: Any, mf: float) -> tuple[Any, Any, Any]:
        reports, rows, report = run_liveness(ctx, vi, mf)
        if not reports:
            return rows, [], None
        pngs = sorted(str(p) for p in (report / "plots").glob("*.png"))
        return rows, pngs, str(ctx.work.archive(report, report.parent))

    run.click(liveness, [videos, max_frames], [table, plots, download], **HEAVY)


def build(ctx: PageContext) -> None:
    gr.Markdown("### Is it a fake?")
    _detect_section(ctx)
    gr.Markdown("### Is it live?")
    _liveness_section(ctx)


PAGE = Page("detect", "Detect", build, requires=("masque.forensics",), cli=("detect", "liveness"))

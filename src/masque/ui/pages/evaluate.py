"""Evaluate page: ``masque evaluate`` with ``--report``: the summary as a table, the plots, the report to download."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr

from masque.ui.app import HEAVY, PageContext, shown
from masque.ui.pages import Page
from masque.ui.pages._common import label_config, label_widgets
from masque.ui.work import gradio_progress, upload_path, upload_paths


def flatten(summary: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """``{"identity": {"to_source": 0.41}}`` -> ``[("identity.to_source", "0.41")]`` (the report's table).

    >>> flatten({"a": {"b": 0.123456, "c": None}, "d": [1, 2]})
    [('a.b', '0.1235'), ('a.c', '-'), ('d', '1, 2')]
    """
    rows: list[tuple[str, str]] = []
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += flatten(value, f"{name}.")
        elif isinstance(value, float):
            rows.append((name, f"{value:.4g}"))
        elif value is None:
            rows.append((name, "-"))
        elif isinstance(value, list | tuple):
            rows.append((name, ", ".join(str(v) for v in value)))
        else:
            rows.append((name, str(value)))
    return rows


def run_evaluate(ctx: PageContext, swapped: Any, original: Any, source: Any, gallery: Any, model: str | None,
                 every: int, labels: tuple[Any, ...], progress: Any) -> tuple[dict[str, Any], Path]:
    """``masque evaluate --report DIR``: (summary, report folder)."""
    from masque.metrics import evaluate, format_summary, write_report
    from masque.provenance import Labeler

    labeler = Labeler(label_config(*labels))
    report = evaluate(upload_path(swapped, "swapped output"), upload_path(original, "original"),
                      upload_path(source, "source"), gallery=upload_paths(gallery, "gallery") if gallery else [],
                      model_dir=ctx.work.named("models", model) if model else None,
                      progress=gradio_progress(progress, "evaluate"), every=every)
    out = ctx.work.job("evaluate") / "report"
    write_report(report, out, labeler=labeler)
    summary = report.summary()
    (out / "summary.txt").write_text(format_summary(summary) + "\n")
    return summary, out


def run_driving(ctx: PageContext, animation: Any, driving: Any, source: Any, every: int,
                progress: Any) -> tuple[dict[str, Any], str, Path]:
    """``masque evaluate --driving``: an animation against its driving video and photo: (summary, text, job folder)."""
    from masque.metrics.driving import evaluate_driving, format_driving

    report = evaluate_driving(upload_path(animation, "animation"), upload_path(driving, "driving video"),
                              upload_path(source, "photo"), every=every,
                              progress=gradio_progress(progress, "evaluate"))
    summary = report.summary()
    return summary, format_driving(summary), ctx.work.job("evaluate")


def build(ctx: PageContext) -> None:
    from masque.metrics import DEFAULT_EVERY

    gr.Markdown("Measure a swap against the input it was made from (`masque evaluate`): identity, pose and "
                "expression error, jitter, seams, detail, and for a trained model reconstruction SSIM/PSNR.")
    with gr.Row():
        swapped = gr.File(label="Swapped output (--swapped)", elem_id="eval-swapped")
        original = gr.File(label="Original it was made from (--original)", elem_id="eval-original")
        source = gr.File(label="Source identity: image or video (--source)", elem_id="eval-source")
    with gr.Row():
        gallery = gr.File(file_count="multiple", label="--gallery: more identities to rank against")
        model = gr.Dropdown(ctx.work.listing("models"), value=None, allow_custom_value=True,
                            label="--model: a trained model (adds reconstruction)")
        every = gr.Number(DEFAULT_EVERY, precision=0, minimum=1, label="--every: identity on every Nth frame")
        driving = gr.File(label="--driving: measure an animation (Animate page) against its driving video instead; "
                          "then the output goes in --swapped, the photo in --source, no --original",
                          elem_id="eval-driving")
    labels = label_widgets("eval")
    run = gr.Button("Evaluate", variant="primary", elem_id="eval-run")
    text = gr.Textbox(label="Summary", lines=8, interactive=False, elem_id="eval-summary")
    with gr.Row():
        table = gr.Dataframe(headers=["metric", "value"], label="Report", interactive=False, elem_id="eval-table")
        plots = gr.Image(label="Plots (metrics.png)", interactive=False, elem_id="eval-plots")
    files = gr.File(label="Report (zip: index.html, metrics.png, report.json) and summary JSON",
                    file_count="multiple", interactive=False, elem_id="eval-download")

    @shown
    def go(sw: Any, og: Any, so: Any, ga: Any, mo: str | None, ev: float, dr: Any, *lab: Any,
           progress: Any = gr.Progress()) -> tuple[Any, ...]:
        if dr:
            if og or ga or mo:
                from masque.errors import UsageError

                raise UsageError("--driving measures an animation; --original, --model and --gallery are for "
                                 "swaps: clear them, or clear --driving")
            summary, text, job = run_driving(ctx, sw, dr, so, int(ev), progress)
            js = job / "summary.json"
            js.write_text(json.dumps(summary, indent=2, default=str))
            return text, flatten(summary), None, [str(js)]
        summary, out = run_evaluate(ctx, sw, og, so, ga, mo, int(ev), lab, progress)
        js = out.parent / "summary.json"
        js.write_text(json.dumps(summary, indent=2, default=str))
        zipped = ctx.work.archive(out, out.parent)
        png = out / "metrics.png"
        return ((out / "summary.txt").read_text(), flatten(summary), str(png) if png.exists() else None,
                [str(zipped), str(js)])

    run.click(go, [swapped, original, source, gallery, model, every, driving, *labels.inputs()],
              [text, table, plots, files], **HEAVY)


PAGE = Page("evaluate", "Evaluate", build, cli=("evaluate",))

"""Style page: ``masque style`` (Gatys optimisation, or a trained fast style model applied) and
``masque translate apply`` (a CycleGAN model). Training style and translation models stays in the CLI."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import gradio as gr

from masque.ui.app import HEAVY, PageContext, shown
from masque.ui.pages import Page
from masque.ui.pages._common import label_config, label_widgets, media_result, optional_number
from masque.ui.work import gradio_progress, upload_path, upload_paths

#: the CLI's defaults that live in its parser (masque.commands.style / translate)
FLOW, FLOW_DEFAULT, TEMPORAL_WEIGHT, TO_DEFAULT = ["dis", "farneback"], "dis", 200.0, "b"


def _names(text: str, flag: str) -> tuple[str, ...]:
    from masque.errors import ConfigError
    from masque.models.vgg import LAYERS

    names = tuple(n.strip() for n in str(text).split(",") if n.strip())
    bad = [n for n in names if n not in LAYERS]
    if not names or bad:
        raise ConfigError(f"{flag} takes VGG19 layer names separated by commas ({', '.join(LAYERS[:3])}, ...); "
                          f"got {text!r}")
    return names


def _output(ctx: PageContext, kind: str, content: Path, suffix: str) -> Path:
    from masque.media import is_video_path
    from masque.provenance.manifest import labelled_name

    return ctx.work.job(kind) / labelled_name(f"{content.stem}_{suffix}{content.suffix}", is_video_path(content))


def _model_folder(ctx: PageContext, files: Any, what: str) -> Path:
    """The uploaded files of a model folder, put back together in a job folder."""
    folder = ctx.work.job("model")
    for path in upload_paths(files, what):
        shutil.copyfile(path, folder / path.name)
    return folder


def run_gatys(ctx: PageContext, content: Any, styles: Any, size: float, steps: float, scales: float, optimizer: str,
              content_layers: str, style_layers: str, content_weight: float, style_weight: float, blend: str,
              keep_colors: bool, face_weight: float, flow: str, temporal_weight: float, labels: tuple[Any, ...],
              progress: Any) -> tuple[Path, Any]:
    """Like ``masque style CONTENT STYLE... -o OUT``: (output in a new job folder, StyleStats)."""
    from masque.errors import ConfigError
    from masque.media import read_image
    from masque.models.vgg import LAYERS, load_vgg19
    from masque.stylize.files import style_path
    from masque.stylize.gatys import GatysConfig
    from masque.stylize.styler import GatysStyler

    src, style_files = upload_path(content, "content image or video"), upload_paths(styles, "style image")
    weights = tuple(float(w) for w in str(blend).split(",") if w.strip()) if str(blend or "").strip() else None
    if weights is not None and len(weights) != len(style_files):
        raise ConfigError(f"--blend has {len(weights)} weight(s) for {len(style_files)} style image(s); give one each")
    config = GatysConfig(content_layers=_names(content_layers, "--content-layers"),
                         style_layers=_names(style_layers, "--style-layers"), content_weight=float(content_weight),
                         style_weight=float(style_weight), optimizer=optimizer,
                         size=int(size), steps=int(steps), scales=int(scales), keep_colors=bool(keep_colors),
                         face_weight=float(face_weight))
    vgg = load_vgg19(max(config.layers, key=LAYERS.index))
    analyzer = ctx.analyzer("hog", "none") if face_weight > 1 else None
    styler = GatysStyler(vgg, [read_image(s) for s in style_files], config, weights, analyzer, flow,
                         float(temporal_weight), progress=gradio_progress(progress, "style", "step"))
    out = _output(ctx, "style", src, "styled")
    stats = style_path(styler, src, out, _labels(labels, "generated"))
    return out, stats


def run_fast(ctx: PageContext, model: Any, content: Any, size: str | float | None, labels: tuple[Any, ...],
             progress: Any) -> tuple[Path, Any]:
    """Like ``masque style STYLE_MODEL CONTENT -o OUT``; the model's files are uploaded (``style.json`` and
    ``style.safetensors``)."""
    from masque.errors import ConfigError
    from masque.stylize.fast import FastStyler, load_style_model
    from masque.stylize.files import style_path

    side = optional_number(size, "--size")
    if side is not None and not 32 <= side <= 4096:
        raise ConfigError(f"--size must be 32-4096 px or empty (the input's size); got {side}")
    net, _ = load_style_model(_model_folder(ctx, model, "style model files"))
    src = upload_path(content, "content image or video")
    out = _output(ctx, "style", src, "styled")
    stats = style_path(FastStyler(net, side), src, out,
                       _labels(labels, "generated"), progress=gradio_progress(progress, "style"))
    return out, stats


def run_translate(ctx: PageContext, model: Any, source: Any, to: str, labels: tuple[Any, ...],
                  progress: Any) -> tuple[Path, Any]:
    """Like ``masque translate apply INPUT -m MODEL -o OUT --to``; the model folder's files are uploaded."""
    from masque.stylize.cyclegan import Translator, load_translator
    from masque.stylize.files import style_path
    from masque.stylize.translate import FaceTranslator, WholeTranslator

    net, card = load_translator(_model_folder(ctx, model, "translation model files"))
    translator = Translator(net, card, to)
    styler: FaceTranslator | WholeTranslator
    if "align" in card:  # a face model: the translated face is pasted into the real frame
        styler = FaceTranslator(translator, ctx.analyzer("hog", "none"), card["align"]["size"],
                                card["align"]["centering"])
        kind = "composite"
    else:
        styler, kind = WholeTranslator(translator), "generated"
    src = upload_path(source, "image or video")
    out = _output(ctx, "translate", src, f"to_{to}")
    stats = style_path(styler, src, out, _labels(labels, kind),
                       progress=gradio_progress(progress, "translate"))
    return out, stats


def _labels(labels: tuple[Any, ...], kind: str) -> Any:
    """A :class:`~masque.provenance.Labeler` for the labelling widgets' values and the output's kind."""
    from masque.provenance import Labeler

    no_label, visible, cert, key = labels
    return Labeler(label_config(no_label, visible, cert, key, kind=kind))


def _results(prefix: str) -> tuple[Any, Any, Any, Any]:
    with gr.Row():
        image = gr.Image(label="Result", interactive=False, visible=False, elem_id=f"{prefix}-result-image")
        video = gr.Video(label="Result", interactive=False, visible=False, height=360,
                         elem_id=f"{prefix}-result-video")
    download = gr.File(label="Download (labelled as synthetic)", interactive=False, elem_id=f"{prefix}-download")
    status = gr.Markdown(elem_id=f"{prefix}-status")
    return image, video, download, status


def _done(out: Path, stats: Any) -> tuple[Any, ...]:
    from masque.media import is_video_path

    return (*media_result(out, is_video_path(out)),
            f"{stats.frames} frame(s), {stats.seconds:.1f} s -> `{out.name}`")


def _gatys_section(ctx: PageContext) -> None:
    from masque.stylize.gatys import GatysConfig

    d = GatysConfig()
    gr.Markdown("Paint a picture or a video in the style of one or more images (`masque style CONTENT STYLE...`, "
                "Gatys et al.): the output keeps the content's VGG19 features and takes the styles' feature "
                "correlations. Slow on a CPU: a 512 px picture takes minutes. Labelled as generated.")
    with gr.Row():
        content = gr.File(label="Content image or video", elem_id="style-content")
        styles = gr.File(file_count="multiple", file_types=["image"], label="Style image(s)", elem_id="style-styles")
    with gr.Accordion("Options", open=False):
        with gr.Row():
            size = gr.Number(d.size, precision=0, minimum=32, maximum=4096, label="--size: longer side of the output")
            steps = gr.Number(d.steps, precision=0, minimum=1, label="--steps: optimiser steps at full size",
                              elem_id="style-steps")
            scales = gr.Number(d.scales, precision=0, minimum=1, maximum=4, label="--scales: coarse-to-fine scales",
                               elem_id="style-scales")
            optimizer = gr.Radio(["lbfgs", "adam"], value=d.optimizer, label="--optimizer")
        with gr.Row():
            content_layers = gr.Textbox(",".join(d.content_layers), label="--content-layers: VGG19 layers")
            style_layers = gr.Textbox(",".join(d.style_layers), label="--style-layers: VGG19 layers")
        with gr.Row():
            content_weight = gr.Number(d.content_weight, minimum=0, label="--content-weight")
            style_weight = gr.Number(d.style_weight, minimum=0, label="--style-weight: higher paints more")
            blend = gr.Textbox("", placeholder="empty: equal", label="--blend: weights of the style images (W,W)")
            keep_colors = gr.Checkbox(d.keep_colors, label="--keep-colors: style in luminance only")
        with gr.Row():
            face_weight = gr.Number(d.face_weight, minimum=1, maximum=1000,
                                    label="--face-weight: content weight inside faces (1 off; try 8)")
            flow = gr.Radio(FLOW, value=FLOW_DEFAULT, label="--flow: video optical flow")
            temporal = gr.Number(TEMPORAL_WEIGHT, minimum=0, label="--temporal-weight: video, keep the last result")
    labels = label_widgets("style")
    run = gr.Button("Style", variant="primary", elem_id="style-run")
    outputs = _results("style")

    @shown
    def go(co: Any, st: Any, si: float, sp: float, sc: float, op: str, cl: str, sl: str, cw: float, sw: float,
           bl: str, kc: bool, fw: float, fl: str, tw: float, nl: bool, vl: bool, ce: Any, ke: Any,
           progress: Any = gr.Progress()) -> tuple[Any, ...]:
        return _done(*run_gatys(ctx, co, st, si, sp, sc, op, cl, sl, cw, sw, bl, kc, fw, fl, tw, (nl, vl, ce, ke),
                                progress))

    run.click(go, [content, styles, size, steps, scales, optimizer, content_layers, style_layers, content_weight,
                   style_weight, blend, keep_colors, face_weight, flow, temporal, *labels.inputs()],
              list(outputs), **HEAVY)


def _fast_section(ctx: PageContext) -> None:
    gr.Markdown("Apply a style model trained with `masque style train` (video rate): upload its two files "
                "(`style.json`, `style.safetensors`) and a picture or video.")
    with gr.Row():
        model = gr.File(file_count="multiple", label="Style model files", elem_id="fast-model")
        content = gr.File(label="Content image or video", elem_id="fast-content")
        size = gr.Textbox("", placeholder="empty: the input's size", elem_id="fast-size",
                          label="--size: longer side in px (empty: the input's size, as the CLI for a model)")
    labels = label_widgets("fast")
    run = gr.Button("Apply style model", variant="primary", elem_id="fast-run")
    outputs = _results("fast")

    @shown
    def go(mo: Any, co: Any, si: str, nl: bool, vl: bool, ce: Any, ke: Any,
           progress: Any = gr.Progress()) -> tuple[Any, ...]:
        return _done(*run_fast(ctx, mo, co, si, (nl, vl, ce, ke), progress))

    run.click(go, [model, content, size, *labels.inputs()], list(outputs), **HEAVY)


def _translate_section(ctx: PageContext) -> None:
    gr.Markdown("Translate a picture or a video with a CycleGAN model from `masque translate train` "
                "(`masque translate apply`): upload the model folder's files.")
    with gr.Row():
        model = gr.File(file_count="multiple", label="Translation model files", elem_id="translate-model")
        source = gr.File(label="Image or video", elem_id="translate-input")
        to = gr.Radio(["a", "b"], value=TO_DEFAULT, label="--to: direction (b: A->B)")
    labels = label_widgets("translate")
    run = gr.Button("Translate", variant="primary", elem_id="translate-run")
    outputs = _results("translate")

    @shown
    def go(mo: Any, so: Any, t: str, nl: bool, vl: bool, ce: Any, ke: Any,
           progress: Any = gr.Progress()) -> tuple[Any, ...]:
        return _done(*run_translate(ctx, mo, so, t, (nl, vl, ce, ke), progress))

    run.click(go, [model, source, to, *labels.inputs()], list(outputs), **HEAVY)


def build(ctx: PageContext) -> None:
    gr.Markdown("### Style transfer (Gatys)")
    _gatys_section(ctx)
    gr.Markdown("### Apply a style model")
    _fast_section(ctx)
    gr.Markdown("### Translate (CycleGAN)")
    _translate_section(ctx)


PAGE = Page("style", "Style", build, requires=("masque.stylize",), cli=("style",))

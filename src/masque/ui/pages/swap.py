"""Swap page: ``masque swap`` (one-shot, no training) with the target face picked in a gallery."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np

from masque.ui.app import HEAVY, PageContext, shown
from masque.ui.pages import Page
from masque.ui.pages._common import DETECTORS, label_config, label_widgets, media_result
from masque.ui.work import gradio_progress, upload_path

#: --target-face choices; "picked" means the face clicked in the gallery (the CLI's REF_IMAGE)
PICKED = "the face I clicked"
TARGET_CHOICES = ["largest", "all", PICKED]
#: the CLI's --fallback-detector choices and default
FALLBACKS, FALLBACK_DEFAULT = ["auto", "mediapipe", "cnn", "none"], "auto"
#: frames of a video looked at for faces to show in the gallery (every 4th of the first 120)
_SCAN_FRAMES, _SCAN_STEP = 120, 4


def target_faces(ctx: PageContext, target: Path, detector: str, fallback: str) -> tuple[list[np.ndarray], list]:
    """Crops (RGB ``uint8``) and identities ``(128,)`` of the faces in an image, or the first video frame with any."""
    from masque.media import VideoReader, is_video_path, read_image

    analyzer = ctx.analyzer(detector, fallback)
    frames: Any = [read_image(target)] if not is_video_path(target) else VideoReader(target)
    for i, frame in enumerate(frames):
        if i >= _SCAN_FRAMES:
            break
        if i % _SCAN_STEP:
            continue
        faces = analyzer.detect(frame)
        if faces:
            embedded = analyzer.embed(frame, faces)
            return [_crop(frame, f.bbox) for f in faces], [np.asarray(f.embedding, np.float32) for f in embedded]
    return [], []


def _crop(image: np.ndarray, bbox: tuple[float, float, float, float]) -> np.ndarray:
    """The box grown by a quarter on each side, clipped to the image."""
    x0, y0, x1, y1 = bbox
    pad = 0.25 * max(x1 - x0, y1 - y0)
    h, w = image.shape[:2]
    return image[max(0, int(y0 - pad)):min(h, int(y1 + pad)), max(0, int(x0 - pad)):min(w, int(x1 + pad))]


def run_swap(ctx: PageContext, source: Any, target: Any, mode: str, picked: np.ndarray | None, source_face: float,
             smooth: float, color: str, blend: str, mask: str, redetect_every: float, detector: str, fallback: str,
             labels: tuple[Any, ...], progress: Any, occluders: bool = True) -> tuple[Path, Any]:
    """Swap like ``masque swap``: returns (output path, stats)."""
    from masque.errors import ConfigError
    from masque.face import TargetSelector, TrackerConfig
    from masque.media import is_video_path, read_image
    from masque.oneshot import OneShotSwapper, SwapConfig
    from masque.oneshot.files import swap_path
    from masque.provenance import Labeler
    from masque.provenance.manifest import labelled_name

    src, tgt = upload_path(source, "source photo"), upload_path(target, "target image or video")
    if mode == PICKED:
        if picked is None:
            raise ConfigError("no face clicked: click a face in the gallery of the target's faces, "
                              "or choose largest or all")
        selector = TargetSelector("reference", picked)
    else:
        selector = TargetSelector(mode)  # type: ignore[arg-type]
    labeler = Labeler(label_config(*labels))
    analyzer = ctx.analyzer(detector, fallback)
    swapper = OneShotSwapper.from_image(read_image(src), analyzer, int(source_face),
                                        SwapConfig(color=color, blend=blend, mask=mask,  # type: ignore[arg-type]
                                                   occluders=occluders),
                                        name=src.name)
    video = is_video_path(tgt)
    out = ctx.work.job("swap") / labelled_name(f"{tgt.stem}_swapped{tgt.suffix}", video)
    tracking = TrackerConfig(redetect_every=int(redetect_every), smooth=float(smooth))
    cb = gradio_progress(progress, "swap") if video else None
    stats = swap_path(swapper, tgt, out, analyzer, labeler, selector, tracking, progress=cb)
    return out, stats


def build(ctx: PageContext) -> None:
    from masque.compose.blend import BLENDERS
    from masque.compose.color import COLOR_MATCHERS
    from masque.face import TrackerConfig
    from masque.oneshot import SwapConfig

    defaults, tracking = SwapConfig(), TrackerConfig()
    gr.Markdown("Classic one-shot swap (`masque swap`): the face of one photo onto an image or a video, no training. "
                "The target keeps its pose, expression and open mouth; a video keeps its frame rate and audio.")
    with gr.Row():
        source = gr.Image(label="Source photo: the face that is pasted (-s)", type="filepath", sources=["upload"],
                          elem_id="swap-source", height=260)
        target = gr.File(label="Target image or video (-t)", elem_id="swap-target", height=260)
    faces = gr.Gallery(label="Faces in the target (largest first): click one to swap only that person",
                       columns=8, height=170, object_fit="contain",
                       allow_preview=False, elem_id="swap-faces", interactive=False)
    embeddings = gr.State([])
    picked = gr.State(None)
    mode = gr.Radio(TARGET_CHOICES, value="largest", label="--target-face: which faces of the target to replace",
                    elem_id="swap-mode")
    with gr.Accordion("Options", open=False):
        with gr.Row():
            source_face = gr.Number(0, precision=0, minimum=0, maximum=99,
                                    label="--source-face: which face of the source photo, 0 = largest")
            smooth = gr.Slider(0.0, 0.95, value=tracking.smooth, step=0.05,
                               label="--smooth: video landmark smoothing (0 off)")
            redetect = gr.Number(tracking.redetect_every, precision=0, minimum=1,
                                 label="--redetect-every: video, detect every N frames, track between")
        with gr.Row():
            color = gr.Dropdown(COLOR_MATCHERS.names(), value=defaults.color, label="--color: colour correction")
            blend = gr.Dropdown(BLENDERS.names(), value=defaults.blend, label="--blend")
            mask = gr.Dropdown(["extended", "components"], value=defaults.mask, label="--mask: face region")
            detector = gr.Dropdown(DETECTORS, value="hog", label="--detector")
            fallback = gr.Dropdown(FALLBACKS, value=FALLBACK_DEFAULT, label="--fallback-detector")
            no_occluders = gr.Checkbox(not defaults.occluders,
                                       label="--no-occluders: paste over glasses and hands in front of the face")
    labels = label_widgets("swap")
    run = gr.Button("Swap", variant="primary", elem_id="swap-run")
    with gr.Row():
        image_out = gr.Image(label="Result", elem_id="swap-result-image", interactive=False, visible=False)
        video_out = gr.Video(label="Result", elem_id="swap-result-video", interactive=False, visible=False)
    download = gr.File(label="Download (labelled as synthetic)", elem_id="swap-download", interactive=False)
    status = gr.Markdown(elem_id="swap-status")

    @shown
    def detect(target_file: Any, det: str, fb: str, progress: Any = gr.Progress()) -> tuple[Any, Any, Any, Any]:
        if not target_file:
            return [], [], None, "largest"
        progress(None, desc="finding faces")
        crops, embs = target_faces(ctx, upload_path(target_file, "target"), det, fb)
        if not crops:
            gr.Warning("no face found in the target (or in the first seconds of the video)")
        return [(c, f"face {i}") for i, c in enumerate(crops)], embs, None, "largest"

    def pick(embs: list, evt: gr.SelectData) -> tuple[Any, str]:
        return embs[evt.index], PICKED

    @shown
    def swap(src: Any, tgt: Any, m: str, pk: Any, sf: float, sm: float, co: str, bl: str, ma: str, rd: float,
             de: str, fb: str, no: bool, nl: bool, vl: bool, ce: Any, ke: Any,
             progress: Any = gr.Progress()) -> tuple[Any, Any, Any, str]:
        out, s = run_swap(ctx, src, tgt, m, pk, sf, sm, co, bl, ma, rd, de, fb, (nl, vl, ce, ke), progress,
                          occluders=not no)
        from masque.media import is_video_path

        msg = (f"{s.frames} frame(s), {s.swapped} with a face swapped, {s.seconds:.1f} s, {s.fps:.1f} frames/s "
               f"-> `{out.name}`")
        return (*media_result(out, is_video_path(out)), msg)

    target.change(detect, [target, detector, fallback], [faces, embeddings, picked, mode], **HEAVY)
    faces.select(pick, [embeddings], [picked, mode], queue=False)
    run.click(swap, [source, target, mode, picked, source_face, smooth, color, blend, mask, redetect, detector,
                     fallback, no_occluders, *labels.inputs()], [image_out, video_out, download, status], **HEAVY)


PAGE = Page("swap", "Swap", build, cli=("swap",))

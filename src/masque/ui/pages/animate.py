"""Animate page: ``masque animate`` (a photo follows a driving video) and ``masque reenact``
(a target video takes a source actor's expressions)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import gradio as gr

from masque.ui.app import HEAVY, PageContext, shown
from masque.ui.pages import Page
from masque.ui.pages._common import label_config, label_widgets, optional_number
from masque.ui.work import gradio_progress, upload_path

#: the CLI's --first-frames default (both commands)
FIRST_FRAMES = 50
#: the CLI's reenact --audio choices and default
AUDIO, AUDIO_DEFAULT = ["source", "target", "none"], "source"


def _video_in(path: Path, what: str) -> None:
    from masque.errors import InvalidMediaError
    from masque.media import is_video_path, probe_video

    if not is_video_path(path):
        raise InvalidMediaError(f"the {what} must be a video (.mp4, .mov, .mkv, .avi, .webm, .m4v); got {path.name}")
    probe_video(path)  # a damaged file fails here, before any model loads


def run_animate(ctx: PageContext, source: Any, driving: Any, size: float, crop: str, smooth: float,
                reference: str | float | None, source_face: float, driving_face: float, first_frames: float,
                redetect_every: float, no_mouth: bool, labels: tuple[Any, ...], progress: Any) -> tuple[Path, Any]:
    """Animate like ``masque animate``: returns (output ``.mp4`` in a new job folder, AnimateStats)."""
    from masque.animate import AnimateConfig, Animator
    from masque.animate.files import animate_video
    from masque.media import read_image
    from masque.provenance import Labeler
    from masque.provenance.manifest import labelled_name

    photo, drive = upload_path(source, "photo"), upload_path(driving, "driving video")
    _video_in(drive, "driving video")
    config = dataclasses.replace(label_config(*labels),
                                 description="photo animated by a driving video with masque (mesh warp)")
    animate = AnimateConfig(size=int(size), crop=crop, smooth=float(smooth),  # type: ignore[arg-type]
                            mouth=not no_mouth, redetect_every=int(redetect_every))
    analyzer = ctx.analyzer("hog", "none")  # the CLI's AnalyzerConfig()
    animator = Animator.from_photo(read_image(photo), animate, int(source_face), analyzer,
                                   name=f"the photo {photo.name}")
    out = ctx.work.job("animate") / labelled_name(f"{photo.stem}_animated.mp4", True)
    stats = animate_video(animator, drive, out, Labeler(config),
                          reference=optional_number(reference, "--reference"),
                          driving_face=int(driving_face), first_frames=int(first_frames),
                          progress=gradio_progress(progress, "animate"))
    return out, stats


def run_reenact(ctx: PageContext, source: Any, target: Any, audio: str, smooth: float, source_face: float,
                target_face: float, first_frames: float, redetect_every: float, no_mouth: bool,
                labels: tuple[Any, ...], progress: Any) -> tuple[Path, Any]:
    """Reenact like ``masque reenact``: returns (output ``.mp4`` in a new job folder, AnimateStats)."""
    from masque.animate import AnimateConfig, Reenactor
    from masque.animate.files import reenact_video
    from masque.provenance import Labeler
    from masque.provenance.manifest import labelled_name

    src, tgt = upload_path(source, "source video"), upload_path(target, "target video")
    _video_in(src, "source video")
    _video_in(tgt, "target video")
    config = dataclasses.replace(label_config(*labels),
                                 description="facial expression reenacted with masque (mesh warp)")
    reenactor = Reenactor(ctx.analyzer("hog", "none"), AnimateConfig(smooth=float(smooth), mouth=not no_mouth,
                                                                     redetect_every=int(redetect_every)))
    out = ctx.work.job("reenact") / labelled_name(f"{tgt.stem}_reenacted.mp4", True)
    stats = reenact_video(reenactor, src, tgt, out, Labeler(config), audio=audio,  # type: ignore[arg-type]
                          source_face=int(source_face), target_face=int(target_face),
                          first_frames=int(first_frames), progress=gradio_progress(progress, "reenact"))
    return out, stats


def _animate_section(ctx: PageContext) -> None:
    from masque.animate import AnimateConfig

    d = AnimateConfig()
    gr.Markdown("A photo follows the head motion and expressions of a driving video (`masque animate`). The "
                "output keeps the driving video's frame count, frame rate and audio, labelled as synthetic.")
    with gr.Row():
        source = gr.Image(label="Photo to animate (-s)", type="filepath", sources=["upload"], height=240,
                          elem_id="animate-source")
        driving = gr.File(label="Driving video (-d)", file_types=["video"], height=240, elem_id="animate-driving")
    with gr.Accordion("Options", open=False):
        with gr.Row():
            size = gr.Number(d.size, precision=0, minimum=64, maximum=4096, elem_id="animate-size",
                             label="--size: output side (face) or longer side (photo), px")
            crop = gr.Radio(["face", "photo"], value=d.crop, elem_id="animate-crop",
                            label="--crop: a square around the face, hair and shoulders, or the whole photo")
            smooth = gr.Slider(0.0, 0.95, value=d.smooth, step=0.05, elem_id="animate-smooth",
                               label="--smooth: driving landmark smoothing (0 off, 0.9 heavy)")
        with gr.Row():
            reference = gr.Textbox("", placeholder="empty: the frame that best matches the photo",
                                   elem_id="animate-reference",
                                   label="--reference: driving frame motion is measured from (empty: best match)")
            source_face = gr.Number(0, precision=0, minimum=0, maximum=99,
                                    label="--source-face: which face of the photo, 0 = largest")
            driving_face = gr.Number(0, precision=0, minimum=0, maximum=99,
                                     label="--driving-face: which face of the driving video, 0 = largest")
        with gr.Row():
            first = gr.Number(FIRST_FRAMES, precision=0, minimum=1,
                              label="--first-frames: the face must appear within the first N frames")
            redetect = gr.Number(d.redetect_every, precision=0, minimum=1,
                                 label="--redetect-every: detect every N frames, track between")
            no_mouth = gr.Checkbox(not d.mouth, label="--no-mouth: do not paint a mouth interior")
    labels = label_widgets("animate")
    run = gr.Button("Animate", variant="primary", elem_id="animate-run")
    video = gr.Video(label="Animated", interactive=False, height=360, elem_id="animate-result")
    download = gr.File(label="Download (labelled as synthetic)", interactive=False, elem_id="animate-download")
    status = gr.Markdown(elem_id="animate-status")

    @shown
    def animate(so: Any, dr: Any, si: float, cr: str, sm: float, re: str, sf: float, df: float, ff: float,
                rd: float, nm: bool, nl: bool, vl: bool, ce: Any, ke: Any,
                progress: Any = gr.Progress()) -> tuple[str, str, str]:
        out, s = run_animate(ctx, so, dr, si, cr, sm, re, sf, df, ff, rd, nm, (nl, vl, ce, ke), progress)
        return (str(out), str(out), f"{s.frames} frame(s), {s.driven} with the driving face, reference frame "
                f"{s.reference}, {s.seconds:.1f} s, {s.fps:.1f} frames/s -> `{out.name}`")

    run.click(animate, [source, driving, size, crop, smooth, reference, source_face, driving_face, first, redetect,
                        no_mouth, *labels.inputs()], [video, download, status], **HEAVY)


def _reenact_section(ctx: PageContext) -> None:
    from masque.animate import AnimateConfig

    d = AnimateConfig()
    gr.Markdown("A target video keeps its head and identity and takes a source actor's expressions "
                "(`masque reenact`). The output has the target's frames, frame rate and size.")
    with gr.Row():
        source = gr.File(label="Source video: the actor whose expressions are used (-s)", file_types=["video"],
                         height=200, elem_id="reenact-source")
        target = gr.File(label="Target video: the face reenacted (-t)", file_types=["video"], height=200,
                         elem_id="reenact-target")
    with gr.Accordion("Options", open=False):
        with gr.Row():
            audio = gr.Radio(AUDIO, value=AUDIO_DEFAULT, label="--audio: whose audio the output carries")
            smooth = gr.Slider(0.0, 0.95, value=d.smooth, step=0.05, label="--smooth: landmark smoothing")
            no_mouth = gr.Checkbox(not d.mouth, label="--no-mouth: do not paint a mouth interior")
        with gr.Row():
            source_face = gr.Number(0, precision=0, minimum=0, maximum=99,
                                    label="--source-face: which face of the source video, 0 = largest")
            target_face = gr.Number(0, precision=0, minimum=0, maximum=99,
                                    label="--target-face: which face of the target video, 0 = largest")
            first = gr.Number(FIRST_FRAMES, precision=0, minimum=1,
                              label="--first-frames: each face must appear within the first N frames")
            redetect = gr.Number(d.redetect_every, precision=0, minimum=1,
                                 label="--redetect-every: detect every N frames, track between")
    labels = label_widgets("reenact")
    run = gr.Button("Reenact", variant="primary", elem_id="reenact-run")
    video = gr.Video(label="Reenacted", interactive=False, height=360, elem_id="reenact-result")
    download = gr.File(label="Download (labelled as synthetic)", interactive=False, elem_id="reenact-download")
    status = gr.Markdown(elem_id="reenact-status")

    @shown
    def reenact(so: Any, ta: Any, au: str, sm: float, sf: float, tf: float, ff: float, rd: float, nm: bool,
                nl: bool, vl: bool, ce: Any, ke: Any, progress: Any = gr.Progress()) -> tuple[str, str, str]:
        out, s = run_reenact(ctx, so, ta, au, sm, sf, tf, ff, rd, nm, (nl, vl, ce, ke), progress)
        return (str(out), str(out), f"{s.frames} frame(s), {s.driven} with the target face, {s.seconds:.1f} s, "
                f"{s.fps:.1f} frames/s -> `{out.name}`")

    run.click(reenact, [source, target, audio, smooth, source_face, target_face, first, redetect, no_mouth,
                        *labels.inputs()], [video, download, status], **HEAVY)


def build(ctx: PageContext) -> None:
    gr.Markdown("### Animate a photo")
    _animate_section(ctx)
    gr.Markdown("### Reenact a video")
    _reenact_section(ctx)


PAGE = Page("animate", "Animate", build, requires=("masque.animate",), cli=("animate", "reenact"))

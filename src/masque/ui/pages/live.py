"""Live page: the browser's webcam through the one-shot swap, or driving a photo (animate), streamed back,
the frame rate shown."""

from __future__ import annotations

import importlib.util
import threading
import time
from typing import Any

import gradio as gr
import numpy as np

from masque.ui.app import PageContext, shown
from masque.ui.pages import Page
from masque.ui.pages._common import DETECTORS, label_config
from masque.ui.work import upload_path

#: seconds between webcam frames the browser sends (it sends no faster than the answers come back)
STREAM_EVERY = 0.03
#: seconds between updates of the status line (frame rate, server time)
STATUS_EVERY = 0.5
#: the camera size asked of the browser
CAMERA = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}
IDLE = "upload a source photo and press Start; then allow the camera"
#: what the webcam does: swap the photo's face into it, or move the photo (``masque animate``)
SWAP, ANIMATE = "swap: my face becomes the photo's", "animate: the photo moves as I move"


def build(ctx: PageContext) -> None:
    from masque.compose.blend import BLENDERS
    from masque.compose.color import COLOR_MATCHERS
    from masque.face import TrackerConfig
    from masque.oneshot import SwapConfig
    from masque.ui.live import LiveAnimate, LiveSwap, Sessions, jpeg_img

    animate_ok = importlib.util.find_spec("masque.animate") is not None
    sessions: Sessions[LiveSwap | LiveAnimate] = Sessions()
    shown_at: dict[str, float] = {}  # when each session's status line was last sent
    lock = threading.Lock()
    d, t = SwapConfig(), TrackerConfig()
    gr.Markdown("The webcam through the one-shot swap (`masque swap` frame by frame) or, in animate mode, driving "
                "the photo (`masque animate` frame by frame): pick a source photo, press Start, allow the camera. "
                "Frames come back watermarked as synthetic. Animate measures motion from the first frame with a "
                "face: take the photo's pose and expression and press Calibrate to measure from that frame.")
    with gr.Row():
        source = gr.Image(label="Source photo", type="filepath", sources=["upload"], height=240,
                          elem_id="live-source")
        with gr.Column():
            with gr.Row():
                color = gr.Dropdown(COLOR_MATCHERS.names(), value=d.color, label="--color")
                blend = gr.Dropdown(BLENDERS.names(), value=d.blend, label="--blend")
                mask = gr.Dropdown(["extended", "components"], value=d.mask, label="--mask")
            with gr.Row():
                detector = gr.Dropdown(DETECTORS, value="hog", label="--detector")
                redetect = gr.Number(t.redetect_every, precision=0, minimum=1, label="--redetect-every")
                smooth = gr.Slider(0.0, 0.95, value=t.smooth, step=0.05, label="--smooth")
                visible = gr.Checkbox(False, label="--visible-label")
            mode = gr.Radio([SWAP, ANIMATE] if animate_ok else [SWAP], value=SWAP, label="Mode",
                            elem_id="live-mode")
            size: Any
            crop: Any
            a_smooth: Any
            no_mouth: Any
            if animate_ok:
                with gr.Accordion("Animate options", open=False), gr.Row():
                    a = _animate_defaults()
                    size = gr.Number(a.size, precision=0, minimum=64, maximum=1024, label="--size (animate)")
                    crop = gr.Radio(["face", "photo"], value=a.crop, label="--crop (animate)")
                    a_smooth = gr.Slider(0.0, 0.95, value=a.smooth, step=0.05, label="--smooth (animate)")
                    no_mouth = gr.Checkbox(not a.mouth, label="--no-mouth (animate)")
            else:
                size, crop, a_smooth, no_mouth = gr.State(512), gr.State("face"), gr.State(0.5), gr.State(False)
            with gr.Row():
                start = gr.Button("Start", variant="primary", elem_id="live-start")
                calibrate = gr.Button("Calibrate (animate): measure motion from now", elem_id="live-calibrate",
                                      visible=animate_ok)
    fps = gr.Markdown(IDLE, elem_id="live-fps")
    with gr.Row():
        cam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Camera", elem_id="live-camera",
                       webcam_options=gr.WebcamOptions(mirror=False, constraints=CAMERA))
        # an inline JPEG in HTML, not gr.Image: see masque.ui.live.jpeg_img
        out = gr.HTML(label="Result (live)", show_label=True, elem_id="live-out", min_height=240, container=True)

    @shown
    def begin(src: Any, co: str, bl: str, ma: str, de: str, rd: float, sm: float, vl: bool, mo: str, si: float,
              cr: str, asm: float, nm: bool, request: gr.Request) -> str:
        from masque.media import read_image
        from masque.oneshot import OneShotSwapper
        from masque.provenance import Labeler

        path = upload_path(src, "source photo")
        analyzer = ctx.analyzer(de, "none")
        labeler = Labeler(label_config(False, vl, None, None))
        live: LiveSwap | LiveAnimate
        if mo == ANIMATE:
            from masque.animate import AnimateConfig, Animator

            config = AnimateConfig(size=int(si), crop=cr, smooth=float(asm), mouth=not nm,  # type: ignore[arg-type]
                                   redetect_every=int(rd))
            live = LiveAnimate(Animator.from_photo(read_image(path), config, 0, analyzer,
                                                   name=path.name), labeler)
        else:
            swapper = OneShotSwapper.from_image(read_image(path), analyzer, 0,
                                                SwapConfig(color=co, blend=bl, mask=ma),  # type: ignore[arg-type]
                                                name=path.name)
            live = LiveSwap(swapper, analyzer, labeler, TrackerConfig(redetect_every=int(rd), smooth=float(sm)))
        with lock:
            sessions.put(request.session_hash or "", live)
            for gone in set(shown_at) - sessions.keys():
                shown_at.pop(gone, None)
        return f"started ({mo.split(':', maxsplit=1)[0]}): allow the camera; the frame rate shows here"

    def recalibrate(request: gr.Request) -> str:
        live = sessions.get(request.session_hash or "")
        if not isinstance(live, LiveAnimate):
            return "calibrate is for animate mode: choose it and press Start first"
        live.calibrate()
        return "calibrating: the next frame with a face is the new reference"

    def frame(image: np.ndarray | None, request: gr.Request) -> tuple[Any, Any]:
        key = request.session_hash or ""
        live = sessions.get(key)
        if image is None or live is None:
            return "", IDLE
        out = jpeg_img(live.step(np.ascontiguousarray(image[..., :3])))
        # the status line twice a second, not every frame: each update re-renders Markdown in the browser
        now = time.monotonic()
        if now - shown_at.get(key, 0.0) < STATUS_EVERY:
            return out, gr.skip()
        shown_at[key] = now
        return out, live.status()

    start.click(begin, [source, color, blend, mask, detector, redetect, smooth, visible, mode, size, crop, a_smooth,
                        no_mouth], [fps], concurrency_id="heavy", concurrency_limit=1)
    calibrate.click(recalibrate, None, [fps], queue=False)
    cam.stream(frame, [cam], [out, fps], stream_every=STREAM_EVERY, concurrency_id="live", concurrency_limit=4,
               show_progress="hidden", time_limit=None)


def _animate_defaults() -> Any:
    from masque.animate import AnimateConfig

    return AnimateConfig()


PAGE = Page("live", "Live", build, cli=("swap",))

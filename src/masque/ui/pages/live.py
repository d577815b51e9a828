"""Live page: the browser's webcam through the one-shot swap, streamed back, the frame rate shown."""

from __future__ import annotations

import threading
from typing import Any

import gradio as gr
import numpy as np

from masque.ui.app import PageContext, shown
from masque.ui.pages import Page
from masque.ui.pages._common import DETECTORS, label_config
from masque.ui.work import upload_path

#: seconds between webcam frames the browser sends (it sends no faster than the answers come back)
STREAM_EVERY = 0.03
#: the camera size asked of the browser
CAMERA = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}
IDLE = "upload a source photo and press Start; then allow the camera"


def build(ctx: PageContext) -> None:
    from masque.compose.blend import BLENDERS
    from masque.compose.color import COLOR_MATCHERS
    from masque.face import TrackerConfig
    from masque.oneshot import SwapConfig
    from masque.ui.live import LiveSwap

    sessions: dict[str, LiveSwap] = {}
    lock = threading.Lock()
    d, t = SwapConfig(), TrackerConfig()
    gr.Markdown("The webcam through the one-shot swap (`masque swap` frame by frame): pick a source photo, press "
                "Start, allow the camera. Frames come back watermarked as synthetic.")
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
            start = gr.Button("Start", variant="primary", elem_id="live-start")
    fps = gr.Markdown(IDLE, elem_id="live-fps")
    with gr.Row():
        cam = gr.Image(sources=["webcam"], streaming=True, type="numpy", label="Camera", elem_id="live-camera",
                       webcam_options=gr.WebcamOptions(mirror=False, constraints=CAMERA))
        out = gr.Image(label="Swapped (live)", interactive=False, format="jpeg", elem_id="live-out")

    @shown
    def begin(src: Any, co: str, bl: str, ma: str, de: str, rd: float, sm: float, vl: bool,
              request: gr.Request) -> str:
        from masque.media import read_image
        from masque.oneshot import OneShotSwapper
        from masque.provenance import Labeler

        path = upload_path(src, "source photo")
        analyzer = ctx.analyzer(de, "none")
        swapper = OneShotSwapper.from_image(read_image(path), analyzer, 0,
                                            SwapConfig(color=co, blend=bl, mask=ma),  # type: ignore[arg-type]
                                            name=path.name)
        live = LiveSwap(swapper, analyzer, Labeler(label_config(False, vl, None, None)),
                        TrackerConfig(redetect_every=int(rd), smooth=float(sm)))
        with lock:
            sessions[request.session_hash or ""] = live
        return "started: allow the camera; the frame rate shows here"

    def frame(image: np.ndarray | None, request: gr.Request) -> tuple[Any, str]:
        live = sessions.get(request.session_hash or "")
        if image is None:
            return None, IDLE
        if live is None:
            return None, IDLE
        return live.step(np.ascontiguousarray(image[..., :3])), live.status()

    start.click(begin, [source, color, blend, mask, detector, redetect, smooth, visible], [fps],
                concurrency_id="heavy", concurrency_limit=1)
    cam.stream(frame, [cam], [out, fps], stream_every=STREAM_EVERY, concurrency_id="live", concurrency_limit=4,
               show_progress="hidden", time_limit=None)


PAGE = Page("live", "Live", build, cli=("swap",))

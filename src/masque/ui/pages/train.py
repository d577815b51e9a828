"""Train page: ``masque extract`` of both people, ``masque train`` with a live preview, Stop and Resume,
then ``masque convert`` with the trained model."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from masque.ui.app import HEAVY, PageContext, shown
from masque.ui.pages import Page
from masque.ui.pages._common import DETECTORS, label_config, label_widgets, media_result
from masque.ui.work import gradio_progress, upload_path, upload_paths

#: seconds between page refreshes while training (preview, loss curve, status)
_REFRESH_S = 1.0
MODEL_NAMES = ["hires", "lightweight", "original"]


def extract(ctx: PageContext, files: Any, name: str, options: dict[str, Any], progress: Any) -> Path:
    """``masque extract FILES -o facesets/NAME`` (added to the set when it exists); the set's folder.

    Without files, NAME must be a face set already in the working folder.
    """
    from masque.errors import InputNotFoundError
    from masque.face import reference_embeddings
    from masque.faceset.extract import ExtractConfig, extract_faceset

    out = ctx.work.named("facesets", name)
    if not files:
        if not out.is_dir():
            raise InputNotFoundError(f"face set {name!r} does not exist yet; upload videos or images of the "
                                     "person to extract it, or pick an existing face set")
        return out
    refs = options.pop("identity")
    identity = reference_embeddings(upload_paths(refs, "reference image")) if refs else None
    config = ExtractConfig(identity=identity, **options)
    summary = extract_faceset(upload_paths(files, "video or image"), out, config,
                              progress=gradio_progress(progress, f"extract {name}"))
    if summary.faces == 0 and not any((out / "faces").glob("*")):
        raise InputNotFoundError(f"no face found in the files for {name!r}; give videos or photos showing the "
                                 "person's face")
    return out


def latest_preview(model_dir: Path) -> str | None:
    """The newest preview grid PNG the trainer wrote, or None."""
    found = sorted((model_dir / "previews").glob("step_*.png"))
    return str(found[-1]) if found else None


def loss_frame(history: list[tuple[int, float, float]]) -> Any:
    """The loss curve's table: step, loss, person (A, B)."""
    import pandas as pd

    rows = [(s, a, "A") for s, a, _ in history] + [(s, b, "B") for s, _, b in history]
    return pd.DataFrame(rows, columns=["step", "loss", "person"])


def train_stream(ctx: PageContext, session: str, fs_a: Path, fs_b: Path, model_name: str,
                 options: dict[str, Any]) -> Iterator[tuple[Any, Any, str]]:
    """Run ``masque train`` in a thread; yield (preview, loss table, status) every second.

    The Stop button sets this session's flag: the trainer finishes its step, saves and returns.
    """
    from masque.models.io import STATE_FILE
    from masque.train.checkpoint import read_state
    from masque.train.trainer import TrainConfig, Trainer

    root = ctx.work.named("models", model_name)
    if root.is_dir() and not (root / STATE_FILE).exists() and any(root.iterdir()):
        from masque.errors import OutputPathError

        raise OutputPathError(f"{root.name} is a folder of other files, not a model folder; choose another name")
    previous = read_state(root)
    chosen = options.pop("model")
    arch = str(previous.get("model")) if previous else chosen  # a resumed model keeps its own, as in the CLI
    trainer = Trainer(fs_a, fs_b, root, TrainConfig(model=arch, **options))
    stop = ctx.stops.arm(session)
    updates: queue.Queue[Any] = queue.Queue()
    history: list[tuple[int, float, float]] = []
    result: dict[str, Any] = {}

    def on_step(info: Any) -> None:
        if "total_a" in info.losses and (not history or history[-1][0] != info.step):
            history.append((info.step, info.losses["total_a"], info.losses["total_b"]))
        updates.put(info)

    def work() -> None:
        try:
            result["summary"] = trainer.run(on_step=on_step, should_stop=stop.is_set)
        except BaseException as exc:  # shown in the page by the generator
            result["error"] = exc

    worker = threading.Thread(target=work, name="masque-ui-train", daemon=True)
    worker.start()
    start = int((previous or {}).get("step", 0))
    yield None, None, f"{'resuming' if previous else 'training'} {arch} in `{root.name}` from step {start}"
    last: Any = None
    try:
        while worker.is_alive():
            worker.join(_REFRESH_S)
            while not updates.empty():
                last = updates.get()
            if last is not None:
                yield latest_preview(root), loss_frame(history), _status(last, stop.is_set())
    finally:  # the page was closed or the event cancelled: save and stop, as the Stop button does
        if worker.is_alive():
            stop.set()
            worker.join()
    if "error" in result:
        raise result["error"]
    s = result["summary"]
    how = "stopped and saved" if s.interrupted or stop.is_set() else "done"
    yield (latest_preview(root), loss_frame(history),
           f"{how}: step {s.step} ({s.step - s.start_step} this run, {s.seconds:.0f} s, {s.examples_per_s:.1f} "
           f"examples/s); loss A {s.losses.get('total_a', float('nan')):.4f} B "
           f"{s.losses.get('total_b', float('nan')):.4f}; saved to `{root.name}` (train again to resume)")


def _status(info: Any, stopping: bool) -> str:
    target = f"/{info.target}" if info.target else ""
    loss = (f", loss A {info.losses['total_a']:.4f} B {info.losses['total_b']:.4f}"
            if "total_a" in info.losses else "")
    return (f"step {info.step}{target}{loss}, {info.examples_per_s:.1f} examples/s, {info.elapsed:.0f} s"
            + (" - stopping after this step and saving" if stopping else ""))


def run_convert(ctx: PageContext, model_name: str, media: Any, options: dict[str, Any], labels: tuple[Any, ...],
                progress: Any) -> tuple[Path, Any]:
    """``masque convert INPUT -m models/NAME -o OUTPUT``: (output path, stats)."""
    from masque.convert.files import convert_path
    from masque.convert.pipeline import ConvertConfig, Converter
    from masque.face import reference_embeddings
    from masque.media import is_video_path
    from masque.models.device import pick_device
    from masque.provenance.manifest import labelled_name

    src = upload_path(media, "video or image to convert")
    root = ctx.work.named("models", model_name or "")
    device = pick_device(options.pop("device"))
    ref = options.pop("identity")
    identity = reference_embeddings([upload_path(ref, "reference image")])[0] if ref else None
    enhance = not options.pop("no_enhancer")  # the folder's enhancer, when `train --enhancer` ran
    converter = Converter.from_folder(root, ConvertConfig(identity=identity, **options), device, enhance)
    out = ctx.work.job("convert") / labelled_name(f"{src.stem}_to_{options['to']}{src.suffix}", is_video_path(src))
    stats = convert_path(converter, src, out, label_config(*labels), progress=gradio_progress(progress, "convert"))
    return out, stats


class Options:
    """Named widgets whose values become a config's keyword arguments (each cast as the CLI's type)."""

    def __init__(self) -> None:
        self.widgets: dict[str, Any] = {}
        self.casts: dict[str, Any] = {}

    def add(self, key: str, widget: Any, cast: Any = None) -> Any:
        self.widgets[key], self.casts[key] = widget, cast
        return widget

    def inputs(self) -> list[Any]:
        return list(self.widgets.values())

    def values(self, values: tuple[Any, ...]) -> dict[str, Any]:
        out = {}
        for (key, cast), value in zip(self.casts.items(), values):
            out[key] = cast(value) if cast is not None and value is not None else value
        return out


def _none_if_zero(value: float) -> int | None:
    return int(value) or None


def _none_if_blank(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _extract_options(side: str) -> Options:
    from masque.faceset.extract import ExtractConfig

    d, o = ExtractConfig(), Options()
    with gr.Accordion(f"Extract options for {side} (masque extract)", open=False):
        with gr.Row():
            o.add("every", gr.Number(d.every, precision=0, minimum=1, label="--every: keep every N-th frame",
                                     elem_id=f"extract-every-{side.lower()}"), int)
            o.add("size", gr.Number(d.size, precision=0, minimum=16, maximum=4096, label="--size (px)"), int)
            o.add("centering", gr.Dropdown(["face", "head"], value=d.centering, label="--centering"))
            o.add("min_face", gr.Number(d.min_face, precision=0, minimum=0, label="--min-face (px)"), int)
        with gr.Row():
            o.add("detector", gr.Dropdown(DETECTORS, value=d.detector, label="--detector"))
            o.add("upsample", gr.Number(d.upsample, precision=0, minimum=0, maximum=4, label="--upsample"), int)
            o.add("detect_every", gr.Number(d.detect_every, precision=0, minimum=1, label="--detect-every"), int)
            o.add("workers", gr.Number(d.workers, precision=0, minimum=0, maximum=64, label="--workers"), int)
        with gr.Row():
            o.add("sequence", gr.Checkbox(d.sequence, label="--sequence: the images are consecutive frames"))
            o.add("embed_every_frame", gr.Checkbox(d.embed_every_frame, label="--embed-every-frame"))
            o.add("identity", gr.File(file_count="multiple", label="--identity: keep only this person (photos)"))
            o.add("identity_threshold", gr.Number(d.identity_threshold, minimum=0.01, label="--identity-threshold"),
                  float)
    return o


def _train_options() -> Options:
    from masque.train.trainer import TrainConfig

    d, o = TrainConfig(), Options()
    with gr.Accordion("Training options (masque train)", open=False):
        with gr.Row():
            o.add("model", gr.Dropdown(MODEL_NAMES, value=d.model, label="--model: architecture (a resumed model "
                                       "keeps its own)", elem_id="train-arch"))
            o.add("batch", gr.Number(d.batch, precision=0, minimum=1, maximum=4096, label="--batch",
                                     elem_id="train-batch"), int)
            o.add("steps", gr.Number(0, precision=0, minimum=0, label="--steps: train until step N (0: no limit)",
                                     elem_id="train-steps"), _none_if_zero)
            o.add("minutes", gr.Number(0, minimum=0, label="--minutes: train for M minutes (0: no limit)"),
                  lambda v: float(v) or None)
        with gr.Row():
            o.add("save_every", gr.Number(d.save_every, precision=0, minimum=1, label="--save-every",
                                          elem_id="train-save-every"), int)
            o.add("preview_every", gr.Number(d.preview_every, precision=0, minimum=1, label="--preview-every",
                                             elem_id="train-preview-every"), int)
            o.add("device", gr.Textbox(d.device, label="--device: auto, cpu, cuda or cuda:N"))
            o.add("lr", gr.Number(d.lr, minimum=0, maximum=1, label="--lr"), float)
        with gr.Row():
            o.add("workers", gr.Number(d.workers, precision=0, minimum=0, maximum=64, label="--workers"), int)
            o.add("threads", gr.Number(0, precision=0, minimum=0, label="--threads (0: measured)"), _none_if_zero)
            o.add("amp", gr.Checkbox(d.amp, label="mixed precision (unticked = --no-amp)"))
            o.add("seed", gr.Number(d.seed, precision=0, minimum=0, label="--seed"), int)
        with gr.Row():
            from masque.train.recipes import RECIPES, Schedule

            o.add("recipe", gr.Dropdown(RECIPES.names(), value=d.recipe, elem_id="train-recipe",
                                        label="--recipe: loss recipe (empty: classic; a resumed model keeps its own)"),
                  lambda v: v or None)
            o.add("schedule", gr.Number(d.schedule.warmup, precision=0, minimum=0, label="--warmup: learning-rate "
                                        "warm-up steps of a new model, then cosine decay"),
                  lambda v: Schedule(warmup=int(v)))
        with gr.Row():
            from masque.train.losses import LossConfig

            o.add("balance", gr.Number(d.balance, minimum=0, maximum=1, elem_id="train-balance",
                                       label="--balance: draw rare expressions more often (0: every face alike, "
                                       "1: every eye x mouth state alike)"), float)
            o.add("loss", gr.Number(d.loss.background, minimum=0, maximum=1, elem_id="train-background",
                                    label="--background: weight of the pixels around the face in the loss (a new "
                                    "model only; the demo uses 0.5)"),
                  lambda v: LossConfig(background=float(v)))
    return o


def _convert_options() -> Options:
    from masque.compose.blend import BLENDERS
    from masque.compose.color import COLOR_MATCHERS
    from masque.convert.pipeline import ConvertConfig

    d, o = ConvertConfig(), Options()
    with gr.Accordion("Convert options (masque convert)", open=False):
        with gr.Row():
            o.add("to", gr.Radio(["a", "b"], value=d.to, label="--to: draw the faces as person a or b"))
            o.add("color", gr.Dropdown(COLOR_MATCHERS.names(), value=d.color, label="--color"))
            o.add("color_smooth", gr.Slider(0, 0.95, value=d.color_smooth, step=0.05, label="--color-smooth"), float)
            o.add("blend", gr.Dropdown(BLENDERS.names(), value=d.blend, label="--blend"))
            o.add("mask", gr.Dropdown(["clipped", "occlusion", "learned", "components", "extended"], value=d.mask,
                                      label="--mask"))
            o.add("keep_mouth", gr.Checkbox(d.keep_mouth, label="--keep-mouth: the frame's own inner mouth"))
        with gr.Row():
            o.add("erode", gr.Number(d.erode, label="--erode (px, negative grows)"), float)
            o.add("feather", gr.Number(None, minimum=0, label="--feather (px; blank: 15% of the crop)"),
                  _none_if_blank)
            o.add("smooth", gr.Slider(0, 0.95, value=d.smooth, step=0.05, label="--smooth"), float)
            o.add("crf", gr.Number(d.crf, precision=0, minimum=0, maximum=51, label="--crf"), int)
            o.add("device", gr.Textbox("auto", label="--device"))
            o.add("identity", gr.File(label="--identity: swap only this person (photo)"))
            o.add("no_enhancer", gr.Checkbox(False, label="--no-enhancer: paste the model's own small face"))
            o.add("detail_transfer", gr.Slider(0, 2, value=d.detail_transfer, step=0.1,
                                               label="--detail-transfer: the new person's own fine detail"), float)
    return o


def build(ctx: PageContext) -> None:
    gr.Markdown("Train a swap model (`masque extract` + `masque train`): videos or photos of person A and person B, "
                "or face sets extracted before. The preview grid (A, A->A, A->B, B, B->B, B->A) refreshes as it "
                "trains; **Stop** finishes the step and saves; **Train** on the same model name resumes.")
    sets = ctx.work.listing("facesets")
    sides = {}
    with gr.Row():
        for side, default in (("A", "person-a"), ("B", "person-b")):
            with gr.Column():
                files = gr.File(file_count="multiple", label=f"Person {side}: videos or photos",
                                elem_id=f"train-files-{side.lower()}")
                name = gr.Dropdown(sets, value=default, allow_custom_value=True, label=f"Face set {side} (new or "
                                   "existing)", elem_id=f"train-set-{side.lower()}")
                sides[side] = (files, name, _extract_options(side))
    model_name = gr.Dropdown(ctx.work.listing("models"), value="model", allow_custom_value=True,
                             label="Model name (an existing one resumes)", elem_id="train-model")
    train_opts = _train_options()
    with gr.Row():
        start = gr.Button("Train", variant="primary", elem_id="train-run")
        stop = gr.Button("Stop (save)", variant="stop", elem_id="train-stop")
    status = gr.Markdown(elem_id="train-status")
    with gr.Row():
        preview = gr.Image(label="Preview", interactive=False, elem_id="train-preview")
        curve = gr.LinePlot(x="step", y="loss", color="person", label="Loss", elem_id="train-loss")
    with gr.Row():
        pack = gr.Button("Download the model (zip: weights, model card, previews, logs)", elem_id="train-pack")
        model_zip = gr.File(label="Model folder (zip)", interactive=False, elem_id="train-model-zip")

    gr.Markdown("### Convert with a trained model (`masque convert`)")
    with gr.Row():
        conv_model = gr.Dropdown(ctx.work.listing("models"), value=None, allow_custom_value=True,
                                 label="Model", elem_id="convert-model")
        conv_input = gr.File(label="Video, image to convert", elem_id="convert-input")
    conv_opts = _convert_options()
    labels = label_widgets("convert")
    conv_run = gr.Button("Convert", variant="primary", elem_id="convert-run")
    with gr.Row():
        conv_image = gr.Image(label="Result", interactive=False, visible=False)
        conv_video = gr.Video(label="Result", interactive=False, visible=False)
    conv_download = gr.File(label="Download (labelled as synthetic)", interactive=False, elem_id="convert-download")
    conv_status = gr.Markdown(elem_id="convert-status")

    (files_a, name_a, ex_a), (files_b, name_b, ex_b) = sides["A"], sides["B"]
    n_a, n_b, n_t = len(ex_a.widgets), len(ex_b.widgets), len(train_opts.widgets)

    @shown
    def train(request: gr.Request, fa: Any, na: str, fb: Any, nb: str, mname: str, *rest: Any,
              progress: Any = gr.Progress()) -> Iterator[Any]:
        opts_a, opts_b = ex_a.values(rest[:n_a]), ex_b.values(rest[n_a:n_a + n_b])
        topts = train_opts.values(rest[n_a + n_b:n_a + n_b + n_t])
        set_a = extract(ctx, fa, na, opts_a, progress)
        set_b = extract(ctx, fb, nb, opts_b, progress)
        for update in train_stream(ctx, request.session_hash or "", set_a, set_b, mname, topts):
            yield (*update, gr.update(choices=ctx.work.listing("models")))

    @shown
    def zip_model(mname: str) -> str:
        from masque.errors import InputNotFoundError
        from masque.models.io import OPTIMIZER_FILE, STATE_FILE

        root = ctx.work.named("models", mname)
        if not (root / STATE_FILE).exists():
            raise InputNotFoundError(f"no trained model named {mname!r} yet; train first")
        # the optimizer state (twice the weights) is for resuming here, not for using the model elsewhere
        return str(ctx.work.archive(root, ctx.work.job("model"), skip=(OPTIMIZER_FILE,)))

    def ask_stop(request: gr.Request) -> str:
        if ctx.stops.stop(request.session_hash or ""):
            return "stopping after this step and saving..."
        return "nothing is training"

    @shown
    def convert(mname: str, media: Any, *rest: Any, progress: Any = gr.Progress()) -> tuple[Any, ...]:
        opts = conv_opts.values(rest[:len(conv_opts.widgets)])
        out, s = run_convert(ctx, mname, media, opts, tuple(rest[len(conv_opts.widgets):]), progress)
        from masque.media import is_video_path

        msg = f"{s.frames} frames, {s.faces} faces swapped, {s.seconds:.1f} s, {s.fps:.1f} frames/s -> `{out.name}`"
        return (*media_result(out, is_video_path(out)), msg)

    start.click(train, [files_a, name_a, files_b, name_b, model_name, *ex_a.inputs(), *ex_b.inputs(),
                        *train_opts.inputs()], [preview, curve, status, conv_model], **HEAVY)
    pack.click(zip_model, [model_name], [model_zip], **HEAVY)
    stop.click(ask_stop, None, [status], queue=False)
    conv_run.click(convert, [conv_model, conv_input, *conv_opts.inputs(), *labels.inputs()],
                   [conv_image, conv_video, conv_download, conv_status], **HEAVY)


PAGE = Page("train", "Train", build, cli=("extract", "train", "convert"))

"""``masque style``: Gatys style transfer, fast (trained) style, and training a fast style model.

Three forms, told apart by the first argument::

    masque style CONTENT STYLE [STYLE...] -o OUT       # optimise each image (Gatys)
    masque style STYLE_MODEL CONTENT -o OUT            # a model from `masque style train`
    masque style train STYLE_IMAGE --content FOLDER|FACESET -m STYLE_MODEL
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from masque.commands._known import (
    STYLE_CONTENT_LAYERS,
    STYLE_CONTENT_WEIGHT,
    STYLE_FACE_WEIGHT,
    STYLE_OPTIMIZER,
    STYLE_SCALES,
    STYLE_SIZE,
    STYLE_STEPS,
    STYLE_STYLE_LAYERS,
    STYLE_STYLE_WEIGHT,
)
from masque.commands._labels import add_label_arguments, label_config_from_args
from masque.commands._options import float_range, int_range, non_negative_float, positive_float, positive_int
from masque.commands._paths import nothing_read, removed_on_failure, require_file, require_input, writable_output
from masque.commands._progress import TrainingBar, progress_bar

if TYPE_CHECKING:  # torch: loaded by run(), not for --help
    from masque.train.trainer import StepInfo


def _layers(text: str) -> tuple[str, ...]:
    names = tuple(t.strip() for t in text.split(",") if t.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"must be VGG19 layer names separated by commas, got {text!r}")
    return names


def _weights(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(t) for t in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be numbers separated by commas, got {text!r}") from None
    if any(not v >= 0 for v in values) or sum(values) <= 0:
        raise argparse.ArgumentTypeError(f"must be non-negative numbers, not all 0, got {text!r}")
    return values


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "style", help="paint an image, video or folder in the style of pictures (Gatys) or of a trained style model",
        description="masque style CONTENT STYLE [STYLE...] -o OUT optimises each picture so its VGG19 features "
        "keep CONTENT's and their correlations match the STYLE images' (Gatys et al.); coarse to fine, videos "
        "chained by optical flow. masque style STYLE_MODEL CONTENT -o OUT runs a model trained by "
        "masque style train STYLE_IMAGE --content FOLDER|FACESET -m STYLE_MODEL (Johnson et al.), at video "
        "rate. Outputs are labelled as generated.")
    p.add_argument("inputs", nargs="+", metavar="ARG",
                   help="CONTENT STYLE [STYLE...] | STYLE_MODEL CONTENT | train STYLE_IMAGE")
    p.add_argument("-o", "--output", type=Path, metavar="OUT", help="output image, video, or folder")
    g = p.add_argument_group("optimisation (Gatys)")
    g.add_argument("--size", type=int_range(32, 4096), default=None, metavar="PX",
                   help=f"longer side of the output (default {STYLE_SIZE}; a style model: the input's size)")
    g.add_argument("--steps", type=positive_int, default=STYLE_STEPS, metavar="N",
                   help=f"optimiser steps at full size; each coarser scale gets twice as many (default {STYLE_STEPS})")
    g.add_argument("--scales", type=int_range(1, 4), default=STYLE_SCALES, metavar="N",
                   help=f"coarse-to-fine scales, each half the next (default {STYLE_SCALES})")
    g.add_argument("--optimizer", choices=["lbfgs", "adam"], default=STYLE_OPTIMIZER,
                   help=f"default {STYLE_OPTIMIZER}")
    g.add_argument("--content-layers", type=_layers, default=STYLE_CONTENT_LAYERS, metavar="L,L",
                   help=f"VGG19 layers for content (default {','.join(STYLE_CONTENT_LAYERS)})")
    g.add_argument("--style-layers", type=_layers, default=STYLE_STYLE_LAYERS, metavar="L,L",
                   help=f"VGG19 layers for style (default {','.join(STYLE_STYLE_LAYERS)})")
    g.add_argument("--content-weight", type=non_negative_float, default=STYLE_CONTENT_WEIGHT, metavar="W",
                   help=f"default {STYLE_CONTENT_WEIGHT}")
    g.add_argument("--style-weight", type=non_negative_float, default=STYLE_STYLE_WEIGHT, metavar="W",
                   help=f"default {STYLE_STYLE_WEIGHT}; higher paints more, keeps less of the content")
    g.add_argument("--blend", type=_weights, default=None, metavar="W,W",
                   help="weights of several STYLE images (default equal)")
    g.add_argument("--keep-colors", action="store_true",
                   help="transfer style in luminance only: keep CONTENT's colours")
    g.add_argument("--face-weight", type=float_range(1.0, 1000.0), default=STYLE_FACE_WEIGHT, metavar="W",
                   help="content weight inside faces relative to elsewhere, so the person stays recognisable "
                   f"(default {STYLE_FACE_WEIGHT}: off; try 8)")
    g.add_argument("--flow", choices=["dis", "farneback"], default="dis", help="video: optical flow (default dis)")
    g.add_argument("--temporal-weight", type=non_negative_float, default=200.0, metavar="W",
                   help="video: how strongly a frame keeps the previous result where the flow is reliable "
                   "(default 200)")
    t = p.add_argument_group("training a style model (masque style train)")
    t.add_argument("--content", type=Path, metavar="FOLDER|FACESET", help="pictures to train on")
    t.add_argument("-m", "--model", type=Path, metavar="STYLE_MODEL", help="model folder to write")
    t.add_argument("--train-size", type=int_range(64, 1024), default=256, metavar="PX", help="crop size (default 256)")
    t.add_argument("--batch", type=positive_int, default=4, metavar="N", help="crops a step (default 4)")
    t.add_argument("--train-steps", type=positive_int, default=2000, metavar="N",
                   help="total steps (default 2000); the same command again resumes the model folder at its step, "
                   "Ctrl-C saves")
    t.add_argument("--minutes", type=positive_float, default=None, metavar="M", help="stop (and save) after M minutes")
    t.add_argument("--preview-every", type=positive_int, default=100, metavar="N",
                   help="steps between preview PNGs in MODEL/previews (default 100); losses go to MODEL/logs "
                   "(TensorBoard)")
    t.add_argument("--save-every", type=positive_int, default=100, metavar="N", help="steps between checkpoints "
                   "(default 100)")
    t.add_argument("--width", type=int_range(4, 128), default=8, metavar="C",
                   help="first layer's channels (default 8; Johnson et al.: 32, much slower)")
    t.add_argument("--blocks", type=int_range(1, 10), default=3, metavar="N", help="residual blocks (default 3)")
    add_label_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from masque.errors import UsageError

    first = args.inputs[0]
    if first == "train":
        return _train(args)
    if args.output is None:
        raise UsageError("masque style needs -o OUT (an image, a video, or a folder)")
    if len(args.inputs) < 2:
        raise UsageError(f"masque style needs CONTENT and STYLE (or STYLE_MODEL and CONTENT); got only {first}; "
                         "give a style image after the content")
    path = Path(first)
    if path.is_dir():
        from masque.stylize.fast import model_kind

        kind = model_kind(path)
        if kind == "style":
            return _fast(args)
        if kind in ("translate", "swap"):
            from masque.errors import ModelError

            what = "a translation model: use masque translate apply" if kind == "translate" \
                else "a face-swap model: use masque convert"
            raise ModelError(f"{path} is {what}; masque style takes a style model from masque style train")
    return _gatys(args)


def _gatys(args: argparse.Namespace) -> int:
    content, styles = Path(args.inputs[0]), [Path(s) for s in args.inputs[1:]]
    require_input(content, "content")
    for s in styles:
        require_file(s, "style image")
    writable_output(args.output, folder=content.is_dir())
    if args.blend is not None and len(args.blend) != len(styles):
        from masque.errors import UsageError

        raise UsageError(f"--blend has {len(args.blend)} weight(s) for {len(styles)} style image(s); give one each")

    from masque.compose.files import check_paths
    from masque.face import FaceAnalyzer
    from masque.media import read_image
    from masque.models.vgg import LAYERS, load_vgg19
    from masque.provenance import Labeler
    from masque.stylize.files import style_path
    from masque.stylize.gatys import GatysConfig
    from masque.stylize.styler import GatysStyler

    check_paths(content, args.output)
    config = GatysConfig(content_layers=args.content_layers, style_layers=args.style_layers,
                         content_weight=args.content_weight, style_weight=args.style_weight,
                         optimizer=args.optimizer, size=args.size or STYLE_SIZE, steps=args.steps,
                         scales=args.scales, keep_colors=args.keep_colors, face_weight=args.face_weight)
    style_images = [read_image(s) for s in styles]
    labeler = Labeler(label_config_from_args(args, kind="generated"))
    deepest = max(config.layers, key=LAYERS.index)
    vgg = load_vgg19(deepest)
    analyzer = FaceAnalyzer() if args.face_weight > 1 else None
    with removed_on_failure(args.output), progress_bar("style", unit="step") as bar:
        styler = GatysStyler(vgg, style_images, config, args.blend, analyzer, args.flow, args.temporal_weight,
                             progress=bar)
        stats = style_path(styler, content, args.output, labeler)
        if stats.frames == 0 and content.is_dir():
            raise nothing_read(content)
    last = styler.last
    extra = f", Gram loss {last.style_loss[0]:.3f} -> {last.style_loss[1]:.3f}" if last is not None else ""
    print(f"{stats.frames} frame(s) in {stats.files} file(s), {stats.seconds:.1f} s{extra} -> {args.output}")
    return 0


def _fast(args: argparse.Namespace) -> int:
    model, content = Path(args.inputs[0]), Path(args.inputs[1])
    require_input(content, "content")
    writable_output(args.output, folder=content.is_dir())

    from masque.compose.files import check_paths
    from masque.media import is_video_path
    from masque.provenance import Labeler
    from masque.stylize.fast import FastStyler, load_style_model
    from masque.stylize.files import style_path

    check_paths(content, args.output)
    net, _ = load_style_model(model)
    labeler = Labeler(label_config_from_args(args, kind="generated"))
    with removed_on_failure(args.output):
        if is_video_path(content) or content.is_dir():
            with progress_bar("style", unit="frame" if is_video_path(content) else "file") as bar:
                stats = style_path(FastStyler(net, args.size), content, args.output, labeler, progress=bar)
        else:
            stats = style_path(FastStyler(net, args.size), content, args.output, labeler)
        if stats.frames == 0 and content.is_dir():
            raise nothing_read(content)
    print(f"{stats.frames} frame(s) in {stats.files} file(s), {stats.seconds:.1f} s, {stats.fps:.1f} frames/s "
          f"-> {args.output}")
    return 0


class _StyleBar(TrainingBar):
    """The training bar with the style model's losses: ``style 0.812 content 0.204, 3.1 ex/s, 21:04 left``."""

    def postfix(self, info: StepInfo) -> str:
        nan = float("nan")
        losses = f"style {info.losses.get('style', nan):.3f} content {info.losses.get('content', nan):.3f}"
        rest = super().postfix(info)  # examples (pictures) a second, time left: no swap losses to show here
        return f"{losses}, {rest}" if rest else losses


def _train(args: argparse.Namespace) -> int:
    from masque.errors import UsageError

    if len(args.inputs) != 2 or args.content is None or args.model is None:
        raise UsageError("usage: masque style train STYLE_IMAGE --content FOLDER|FACESET -m STYLE_MODEL")
    style = require_file(args.inputs[1], "style image")
    require_input(args.content, "content (--content)")
    writable_output(args.model, folder=True)

    from masque.media import read_image
    from masque.models.vgg import load_vgg19
    from masque.stylize.fast import NetSpec
    from masque.stylize.fast_train import FastTrainConfig, FastTrainer
    from masque.stylize.gatys import STYLE_LAYERS
    from masque.stylize.images import load_pictures

    style_image = read_image(style)
    contents = load_pictures(args.content)
    config = FastTrainConfig(size=args.train_size, batch=args.batch, steps=args.train_steps, minutes=args.minutes,
                             preview_every=args.preview_every, save_every=args.save_every)
    vgg = load_vgg19(STYLE_LAYERS[-1])
    bar = _StyleBar("train style", args.minutes)
    with removed_on_failure(args.model):
        trainer = FastTrainer(args.model, vgg, style_image, contents, config,
                              NetSpec(width=args.width, blocks=args.blocks),
                              {"style_image": style.name, "content": str(args.content), "pictures": len(contents)})
        try:
            report = trainer.run(bar)
        finally:
            bar.close()
    how = "interrupted, saved" if report.interrupted else "saved"
    since = f"resumed, {report.steps_run} this run" if report.resumed else f"{report.steps_run} this run"
    print(f"step {report.steps} ({since}, {report.seconds:.0f} s); style loss {report.style_loss[0]:.3f} -> "
          f"{report.style_loss[1]:.3f}; {how} -> {args.model}")
    return 0

"""``masque translate``: CycleGAN between two sets of pictures (``train``), and applying it (``apply``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from masque.commands._known import TRANSLATE_SIZE, TRANSLATE_STEPS
from masque.commands._labels import add_label_arguments, label_config_from_args
from masque.commands._options import int_range, positive_float, positive_int
from masque.commands._paths import nothing_read, removed_on_failure, require_folder, require_input, writable_output
from masque.commands._progress import progress_bar


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "translate", help="CycleGAN: learn to turn pictures of A into B and back, without pairs; apply it",
        description="masque translate train -A SET_A -B SET_B -m MODEL trains two generators and two PatchGAN "
        "discriminators (LSGAN, cycle and identity losses); Ctrl-C saves, rerun resumes. masque translate "
        "apply -m MODEL INPUT -o OUT --to b translates images, videos or folders; a model trained on face sets "
        "translates each face and pastes it back (a third way to swap). Outputs are labelled.")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="train|apply")
    t = verbs.add_parser("train", help="train (or resume) a translation model")
    t.add_argument("-A", required=True, type=Path, metavar="DIR_OR_FACESET", help="pictures of side A")
    t.add_argument("-B", required=True, type=Path, metavar="DIR_OR_FACESET", help="pictures of side B")
    t.add_argument("-m", "--model", required=True, type=Path, metavar="MODEL", help="model folder (resumed if there)")
    t.add_argument("--size", type=int_range(32, 512), default=TRANSLATE_SIZE, metavar="PX",
                   help=f"picture side, a multiple of 4 (default {TRANSLATE_SIZE})")
    t.add_argument("--steps", type=positive_int, default=TRANSLATE_STEPS, metavar="N",
                   help=f"total steps; the learning rate decays to 0 over the last half (default {TRANSLATE_STEPS})")
    t.add_argument("--minutes", type=positive_float, default=None, metavar="M", help="stop (and save) after M minutes")
    t.add_argument("--ngf", type=int_range(4, 128), default=32, metavar="C", help="generator width (default 32)")
    t.add_argument("--ndf", type=int_range(4, 128), default=32, metavar="C", help="discriminator width (default 32)")
    t.add_argument("--blocks", type=int_range(1, 12), default=6, metavar="N", help="residual blocks (default 6)")
    t.set_defaults(func=run)
    a = verbs.add_parser("apply", help="translate an image, a video or a folder")
    a.add_argument("input", type=Path, metavar="INPUT", help="image, video, or folder of them")
    a.add_argument("-m", "--model", required=True, type=Path, metavar="MODEL", help="model from translate train")
    a.add_argument("-o", "--output", required=True, type=Path, metavar="OUT", help="output of the same kind")
    a.add_argument("--to", choices=["a", "b"], default="b", help="direction: to b (A->B, default) or to a")
    add_label_arguments(a)
    a.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return _train(args) if args.verb == "train" else _apply(args)


def _train(args: argparse.Namespace) -> int:
    require_folder(args.A, "set A (-A)")
    require_folder(args.B, "set B (-B)")
    writable_output(args.model, folder=True)
    if args.size % 4:
        from masque.errors import UsageError

        raise UsageError(f"--size must be a multiple of 4 (two stride-2 layers), got {args.size}")

    from masque.stylize.cyclegan import CycleConfig, CycleTrainer
    from masque.stylize.images import faceset_alignment, load_pictures

    pictures = load_pictures(args.A), load_pictures(args.B)
    config = CycleConfig(size=args.size, steps=args.steps, ngf=args.ngf, ndf=args.ndf, blocks=args.blocks)
    with removed_on_failure(args.model):
        trainer = CycleTrainer(args.model, *pictures, config=config, sources=(str(args.A), str(args.B)),
                               align=faceset_alignment(args.A))
        with progress_bar("translate train", unit="step") as bar:
            report = trainer.run(minutes=args.minutes, on_step=lambda s, total, losses: bar(s, total))
    state = "interrupted, saved" if report.interrupted else "saved"
    print(f"step {report.step} ({report.steps_run} this run, {report.seconds:.0f} s), cycle loss "
          f"{report.losses.get('cycle', float('nan')):.3f}; {state} -> {args.model}")
    return 0


def _apply(args: argparse.Namespace) -> int:
    require_input(args.input, "input")
    writable_output(args.output, folder=args.input.is_dir())

    from masque.compose.files import check_paths
    from masque.media import is_video_path
    from masque.provenance import Labeler
    from masque.stylize.cyclegan import Translator, load_translator
    from masque.stylize.files import style_path
    from masque.stylize.translate import FaceTranslator, WholeTranslator

    check_paths(args.input, args.output)
    model, card = load_translator(args.model)
    translator = Translator(model, card, args.to)
    styler: FaceTranslator | WholeTranslator
    if "align" in card:
        from masque.face import FaceAnalyzer

        styler = FaceTranslator(translator, FaceAnalyzer(), card["align"]["size"], card["align"]["centering"])
        kind = "composite"  # a translated face pasted into a real frame
    else:
        styler = WholeTranslator(translator)
        kind = "generated"
    labeler = Labeler(label_config_from_args(args, kind=kind))  # type: ignore[arg-type]
    with removed_on_failure(args.output):
        if is_video_path(args.input) or args.input.is_dir():
            with progress_bar("translate", unit="frame" if is_video_path(args.input) else "file") as bar:
                stats = style_path(styler, args.input, args.output, labeler, progress=bar)
        else:
            stats = style_path(styler, args.input, args.output, labeler)
        if stats.frames == 0 and args.input.is_dir():
            raise nothing_read(args.input)
    faces = f", {styler.faces} face(s) translated" if isinstance(styler, FaceTranslator) else ""
    print(f"{stats.frames} frame(s) in {stats.files} file(s){faces}, {stats.seconds:.1f} s -> {args.output}")
    return 0

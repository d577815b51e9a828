"""``masque convert``: swap faces in a video, image or folder with a trained model."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from masque.commands._cluster import add_ray_argument, plan_for, report
from masque.commands._known import (
    BLEND_NAMES,
    COLOR_NAMES,
    CONVERT_BLEND,
    CONVERT_COLOR,
    CONVERT_COLOR_SMOOTH,
    CONVERT_MASK,
)
from masque.commands._labels import add_label_arguments, label_config_from_args
from masque.commands._options import device, float_range, int_range, non_negative_float, smoothing
from masque.commands._paths import (
    nothing_read,
    removed_on_failure,
    require_file,
    require_folder,
    require_input,
    writable_output,
)
from masque.commands._progress import progress_bar

if TYPE_CHECKING:
    from masque.convert.coverage import Uncovered


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("convert", help="swap faces with a trained model",
                       description="Encode each face with the shared encoder, decode it with the other person's "
                       "decoder, and paste it back. Video keeps its size, frame rate, frame count and audio.")
    p.add_argument("input", metavar="INPUT", help="video, image or folder of images")
    p.add_argument("-m", "--model", required=True, metavar="MODEL_DIR", help="folder written by `masque train`")
    p.add_argument("-o", "--output", required=True, metavar="OUTPUT", help="same kind as INPUT")
    p.add_argument("--to", choices=["a", "b"], default="b", help="draw the faces as person a or b (default b)")
    p.add_argument("--color", default=CONVERT_COLOR, choices=COLOR_NAMES,
                   help=f"colour matching (default {CONVERT_COLOR})")
    p.add_argument("--color-smooth", type=smoothing, default=CONVERT_COLOR_SMOOTH, metavar="F",
                   help="share of a face's colour correction carried over from its previous frame, in [0, 1): "
                   f"0 off (default {CONVERT_COLOR_SMOOTH})")
    p.add_argument("--blend", default=CONVERT_BLEND, choices=BLEND_NAMES,
                   help=f"gaussian (feathered), poisson, seamless or none (default {CONVERT_BLEND})")
    p.add_argument("--mask", choices=["clipped", "occlusion", "learned", "components", "extended"],
                   default=CONVERT_MASK,
                   help="occlusion: the learned mask cut to the face's hull (jaw, brows and, for models trained "
                   "with the extended mask, the forehead where both faces show skin), less what the occlusion "
                   "model sees in front of the face (hands, hair, glasses, a microphone); clipped: the same "
                   f"without the occlusion model; learned; or a landmark mask (default {CONVERT_MASK})")
    p.add_argument("--keep-mouth", action="store_true",
                   help="with --mask occlusion or clipped, keep the frame's own inner mouth (teeth, tongue): "
                   "the mouth opens exactly as in the input, the new person's identity is weaker")
    p.add_argument("--occlusion-model", metavar="FILE",
                   help="occlusion.safetensors for --mask occlusion (default: the one masque ships)")
    p.add_argument("--erode", type=float_range(), default=0.0, metavar="PX",
                   help="shrink the mask (negative grows it)")
    p.add_argument("--feather", type=non_negative_float, default=None, metavar="PX",
                   help="blend width (default 15%% of the aligned crop)")
    p.add_argument("--smooth", type=smoothing, default=0.5, metavar="F",
                   help="temporal landmark smoothing in [0, 1): 0 off, 0.9 heavy (default 0.5)")
    p.add_argument("--no-enhancer", action="store_true",
                   help="paste the decoder's face stretched to the face's size even when MODEL_DIR has an "
                   "enhancer (`masque train --enhancer`; by default it draws the face at the real size)")
    p.add_argument("--detail-transfer", type=non_negative_float, default=1.0, metavar="G",
                   help="strength of the new person's own fine detail (lashes, nostrils, lip lines, skin), taken "
                   "from their face set's exemplars and laid onto the faces the enhancer draws: 1 their own "
                   "contrast, 0 off (default 1; needs the enhancer's exemplars, `masque train --enhancer`)")
    p.add_argument("--identity", metavar="REF_IMAGE", help="swap only this person")
    p.add_argument("--crf", type=int_range(0, 51), default=18, metavar="N",
                   help="H.264 quality, 0-51 (lower is better; default 18)")
    p.add_argument("--device", type=device, default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    add_label_arguments(p)
    add_ray_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    source = require_input(args.input)
    writable_output(args.output, folder=source.is_dir())
    require_folder(args.model, "model folder")
    if args.identity:
        require_input(args.identity, "reference image")
    if args.occlusion_model:
        require_file(args.occlusion_model, "occlusion model (--occlusion-model)")

    from masque.convert.files import convert_path
    from masque.convert.pipeline import ConvertConfig, Converter
    from masque.face import reference_embeddings
    from masque.models.device import pick_device

    identity = reference_embeddings([args.identity])[0] if args.identity else None
    config = ConvertConfig(to=args.to, color=args.color, color_smooth=args.color_smooth, blend=args.blend,
                           mask=args.mask, keep_mouth=args.keep_mouth, erode=args.erode,
                           feather=args.feather, smooth=args.smooth, identity=identity, crf=args.crf,
                           occlusion_model=str(Path(args.occlusion_model).resolve()) if args.occlusion_model else None,
                           detail_transfer=args.detail_transfer)
    if args.ray:
        return _run_on_ray(args, config)
    converter = Converter.from_folder(args.model, config, pick_device(args.device), enhance=not args.no_enhancer)
    with removed_on_failure(args.output), progress_bar("convert", unit="frame") as cb:
        s = convert_path(converter, args.input, args.output, label_config_from_args(args, "composite"), progress=cb)
        if s.frames == 0 and source.is_dir():
            raise nothing_read(source)
    print(f"{s.frames} frames, {s.faces} faces swapped, {s.seconds:.1f} s, {s.fps:.1f} frames/s -> {args.output}")
    _print_uncovered(s.uncovered, s.coverage_note, args.to.upper())
    return 0


def _print_uncovered(uncovered: Mapping[str, tuple[Uncovered, ...]], note: str | None, person: str) -> None:
    """The frames the target's face set cannot supply: the decoder guessed their pose or expression."""
    if note is not None:
        print(f"coverage not checked: {note}")
    for name, items in uncovered.items():
        for u in items:
            print(f"coverage: {name}: {u.words(person)}")


def _run_on_ray(args: argparse.Namespace, config: object) -> int:
    """Each file (each segment of a long video) a Ray task; the workers load the model."""
    import secrets

    from masque.cluster.jobs import ConvertRecipe
    from masque.cluster.runner import run_frames

    plan = plan_for(Path(args.input), Path(args.output))
    recipe = ConvertRecipe(str(Path(args.model).resolve()), args.device, config,
                           label_config_from_args(args, "composite"), secrets.randbits(32), not args.no_enhancer)
    with removed_on_failure(args.output), progress_bar("convert", unit="frame") as cb:
        summary = run_frames(args.ray, recipe, [(s.resolve(), d.resolve()) for s, d in plan], progress=cb)
    return report(summary, "frames", args.output)

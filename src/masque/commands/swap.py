"""``masque swap``: one photo of the source person onto an image, a folder or a video; no training."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from masque.commands._cluster import add_ray_argument, plan_for, report
from masque.commands._known import BLEND_NAMES, COLOR_NAMES, SWAP_BLEND, SWAP_COLOR, SWAP_MASK, TRACK_REDETECT_EVERY
from masque.commands._labels import add_label_arguments, label_config_from_args
from masque.commands._options import int_range, positive_int, smoothing
from masque.commands._paths import nothing_read, removed_on_failure, require_file, require_input, writable_output
from masque.commands._progress import progress_bar

if TYPE_CHECKING:  # OpenCV and dlib: loaded in run(), not for --help
    from masque.face import FaceAnalyzer, TargetSelector, TrackerConfig
    from masque.oneshot import OneShotSwapper, SwapConfig


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "swap", help="put the face of one photo onto an image, a folder or a video (no training)",
        description="Classic one-shot swap: 68 landmarks on both faces, a Delaunay mesh warped triangle by "
        "triangle, colour matched and blended into the target with a feathered edge. The target keeps its "
        "pose, expression and open mouth. A video keeps its frame rate, frame count and audio; frames "
        "without a face pass through. Outputs are labelled as synthetic.")
    p.add_argument("-s", "--source", required=True, type=Path, metavar="SOURCE_IMAGE",
                   help="photo of the person whose face is pasted")
    p.add_argument("-t", "--target", required=True, type=Path, metavar="TARGET",
                   help="image, video, or folder of them, to paste into")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="OUTPUT",
                   help="output image or video (same kind as TARGET), or folder when TARGET is a folder")
    p.add_argument("--target-face", default="largest", metavar="all|largest|REF_IMAGE",
                   help="faces to replace: all, the largest (default), or only the person in REF_IMAGE")
    p.add_argument("--source-face", type=int_range(0, 99), default=0, metavar="N",
                   help="which face of SOURCE_IMAGE to use, 0 = largest (default 0)")
    p.add_argument("--smooth", type=smoothing, default=0.0, metavar="F",
                   help="video landmark smoothing in [0, 1): 0 off (default), 0.5 moderate, 0.9 heavy")
    p.add_argument("--color", default=SWAP_COLOR, choices=COLOR_NAMES,
                   help=f"colour correction toward the target (default {SWAP_COLOR})")
    p.add_argument("--blend", default=SWAP_BLEND, choices=BLEND_NAMES,
                   help=f"how the face is blended in (default {SWAP_BLEND})")
    p.add_argument("--mask", default=SWAP_MASK, choices=["extended", "components"],
                   help="face region replaced: extended (with forehead, default) or components (jaw to brows)")
    p.add_argument("--no-occluders", action="store_true",
                   help="paste over what is in front of the target's face; by default the occlusion model "
                   "keeps glasses, hands, hair and microphones in front")
    p.add_argument("--occlusion-model", type=Path, metavar="FILE",
                   help="occlusion.safetensors (default: the one masque ships)")
    p.add_argument("--redetect-every", type=positive_int, default=TRACK_REDETECT_EVERY, metavar="N",
                   help=f"video: run the face detector every N frames, track in between "
                   f"(default {TRACK_REDETECT_EVERY})")
    p.add_argument("--detector", default="hog",
                   help="face detector: hog (default), cnn (slow, finds more) or mediapipe (fastest; optional extra)")
    p.add_argument("--fallback-detector", default="auto", choices=["auto", "mediapipe", "cnn", "none"],
                   help="detector run only where --detector found no face (turned heads, open mouths): "
                   "auto (default) = mediapipe when installed, else none; cnn is slow, for photos")
    add_label_arguments(p)
    add_ray_argument(p)
    p.set_defaults(func=run)


def _check_output(target: Path, output: Path, labelled: bool) -> None:
    """Refuse, before any work, a missing target, or an output its kind or the labeller cannot have."""
    from masque.compose.files import media_files
    from masque.errors import InvalidMediaError
    from masque.media import is_image_path, is_video_path
    from masque.provenance.manifest import MIME_TYPES

    media_files(target)
    if target.is_dir():
        if output.exists() and not output.is_dir():
            raise InvalidMediaError(f"TARGET {target} is a folder, so OUTPUT must be a folder; {output} is a file")
        return
    kind, ok = ("a video", is_video_path(output)) if is_video_path(target) else ("an image", is_image_path(output))
    if not ok:
        raise InvalidMediaError(f"TARGET {target} is {kind}, so OUTPUT must be one too; got {output}")
    if labelled and output.suffix.lower() not in MIME_TYPES:
        raise InvalidMediaError(f"cannot embed the synthetic-media manifest in a {output.suffix} file ({output}); "
                                f"use one of {', '.join(sorted(MIME_TYPES))}")


def run(args: argparse.Namespace) -> int:
    require_file(args.source, "source image")
    require_input(args.target, "target")
    if args.target_face not in ("all", "largest"):
        require_file(args.target_face, "reference image (--target-face)")
    if args.occlusion_model:
        require_file(args.occlusion_model, "occlusion model (--occlusion-model)")
    writable_output(args.output, folder=args.target.is_dir())

    from masque.media import is_image_path, is_video_path
    from masque.oneshot.files import swap_path
    from masque.provenance import Labeler

    config = label_config_from_args(args, kind="composite")
    _check_output(args.target, args.output, config.enabled)
    if args.ray:
        return _run_on_ray(args, config)
    labeler = Labeler(config)
    swapper, analyzer, selector, tracking = _build(args)
    with removed_on_failure(args.output):
        if is_image_path(args.target):  # one image: nothing to show progress of
            s = swap_path(swapper, args.target, args.output, analyzer, labeler, selector, tracking)
        else:
            with progress_bar("swap", unit="frame" if is_video_path(args.target) else "file") as cb:
                s = swap_path(swapper, args.target, args.output, analyzer, labeler, selector, tracking, progress=cb)
        if s.frames == 0 and args.target.is_dir():
            raise nothing_read(args.target)
    print(f"{s.frames} frame(s) in {s.files} file(s), {s.swapped} with a face swapped, {s.seconds:.1f} s, "
          f"{s.fps:.1f} frames/s -> {args.output}")
    return 0


def _build(args: argparse.Namespace) -> tuple[OneShotSwapper, FaceAnalyzer, TargetSelector, TrackerConfig]:
    """The swapper (source face read), the analyzer, the target selector and the tracking options."""
    from masque.face import AnalyzerConfig, FaceAnalyzer, TargetSelector, TrackerConfig
    from masque.media import read_image
    from masque.oneshot import OneShotSwapper

    analyzer = FaceAnalyzer(AnalyzerConfig(detector=args.detector, fallback=args.fallback_detector))
    swapper = OneShotSwapper.from_image(read_image(args.source), analyzer, args.source_face,
                                        _swap_config(args),
                                        name=str(args.source))
    if args.target_face in ("all", "largest"):
        selector = TargetSelector(args.target_face)
    else:
        ref = Path(args.target_face)
        selector = TargetSelector.from_reference(read_image(ref), analyzer, name=str(ref))
    return swapper, analyzer, selector, TrackerConfig(redetect_every=args.redetect_every, smooth=args.smooth)


def _swap_config(args: argparse.Namespace) -> SwapConfig:
    from masque.oneshot import SwapConfig

    model = str(args.occlusion_model.resolve()) if args.occlusion_model else None
    return SwapConfig(color=args.color, blend=args.blend, mask=args.mask, occluders=not args.no_occluders,
                      occlusion_model=model)


def _run_on_ray(args: argparse.Namespace, labels: object) -> int:
    """Each file (each segment of a long video) a Ray task; the workers read the source face."""
    import secrets

    from masque.cluster.jobs import SwapRecipe
    from masque.cluster.runner import run_frames
    from masque.face import AnalyzerConfig, TrackerConfig

    plan = plan_for(args.target, args.output)
    target_face = args.target_face if args.target_face in ("all", "largest") else str(Path(args.target_face).resolve())
    recipe = SwapRecipe(str(args.source.resolve()), args.source_face,
                        AnalyzerConfig(detector=args.detector, fallback=args.fallback_detector),
                        _swap_config(args), target_face,
                        TrackerConfig(redetect_every=args.redetect_every, smooth=args.smooth), labels,  # type: ignore[arg-type]
                        secrets.randbits(32))
    with removed_on_failure(args.output), progress_bar("swap", unit="frame") as cb:
        summary = run_frames(args.ray, recipe, [(s.resolve(), d.resolve()) for s, d in plan], progress=cb)
    return report(summary, "frames", args.output)

"""``masque animate``: a photo brought to life by a driving video (head, brows, blinks, mouth)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from masque.commands._known import (
    ANIMATE_CROP,
    ANIMATE_FIRST_FRAMES,
    ANIMATE_SIZE,
    ANIMATE_SMOOTH,
    TRACK_REDETECT_EVERY,
)
from masque.commands._labels import add_label_arguments, label_config_from_args
from masque.commands._options import int_range, non_negative_int, positive_int, smoothing
from masque.commands._paths import removed_on_failure, require_file, writable_output
from masque.commands._progress import progress_bar


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "animate", help="make a photo follow the head motion and expressions of a driving video",
        description="Photo animation, as First Order Motion does it: the change of the driving face since a "
        "reference frame (head turn, nod, tilt and shift; brows, blinks, mouth) is applied to the photo's own "
        "landmarks, and the whole picture is warped by one mesh whose rings carry the hair and neck and fade "
        "into a still background. A mouth opening wider than the photo's is given an inside (the driving "
        "mouth's, colour-matched). The output keeps the driving video's frame count, frame rate and audio, "
        "and is labelled as synthetic.")
    p.add_argument("-s", "--source", required=True, type=Path, metavar="PHOTO", help="the photo to animate")
    p.add_argument("-d", "--driving", required=True, type=Path, metavar="DRIVING",
                   help="video whose face drives the photo")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.mp4", help="output video")
    p.add_argument("--size", type=int_range(64, 4096), default=ANIMATE_SIZE, metavar="PX",
                   help=f"output size: the square's side (--crop face) or the longer side (--crop photo) "
                   f"(default {ANIMATE_SIZE})")
    p.add_argument("--crop", choices=["face", "photo"], default=ANIMATE_CROP,
                   help=f"face: a square around the face, hair and shoulders; photo: the whole photo "
                   f"(default {ANIMATE_CROP})")
    p.add_argument("--smooth", type=smoothing, default=ANIMATE_SMOOTH, metavar="F",
                   help=f"driving landmark smoothing in [0, 1): 0 off, 0.5 moderate (default {ANIMATE_SMOOTH}), "
                   "0.9 heavy")
    p.add_argument("--reference", type=non_negative_int, default=None, metavar="N",
                   help="driving frame motion is measured from (default: the frame whose pose and "
                   "expression best match the photo)")
    p.add_argument("--source-face", type=int_range(0, 99), default=0, metavar="N",
                   help="which face of PHOTO to animate, 0 = largest (default 0)")
    p.add_argument("--driving-face", type=int_range(0, 99), default=0, metavar="N",
                   help="which face of DRIVING drives, 0 = largest in its first frame with faces (default 0)")
    p.add_argument("--first-frames", type=positive_int, default=ANIMATE_FIRST_FRAMES, metavar="N",
                   help=f"the driving face must appear within the first N frames (default {ANIMATE_FIRST_FRAMES})")
    p.add_argument("--redetect-every", type=positive_int, default=TRACK_REDETECT_EVERY, metavar="N",
                   help=f"run the face detector every N driving frames, track in between "
                   f"(default {TRACK_REDETECT_EVERY})")
    p.add_argument("--no-mouth", action="store_true",
                   help="do not paint a mouth interior (the photo's lips only stretch)")
    add_label_arguments(p)
    p.set_defaults(func=run)


def check_video_output(output: Path, labelled: bool) -> None:
    """Refuse an output that is not a video, or whose format cannot carry the manifest."""
    from masque.errors import InvalidMediaError
    from masque.media import is_video_path
    from masque.provenance.manifest import MIME_TYPES

    if not is_video_path(output):
        raise InvalidMediaError(f"OUTPUT must be a video file (.mp4, .mov, ...); got {output}")
    if labelled and output.suffix.lower() not in MIME_TYPES:
        raise InvalidMediaError(f"cannot embed the synthetic-media manifest in a {output.suffix} file ({output}); "
                                f"use one of {', '.join(sorted(MIME_TYPES))}")


def check_video_input(path: Path, what: str) -> None:
    from masque.errors import InvalidMediaError
    from masque.media import is_video_path, probe_video

    if not is_video_path(path):
        raise InvalidMediaError(f"the {what} must be a video (.mp4, .mov, .mkv, .avi, .webm, .m4v); got {path}")
    probe_video(path)  # a damaged file fails here, before any model loads


def run(args: argparse.Namespace) -> int:
    require_file(args.source, "photo")
    require_file(args.driving, "driving video")
    check_video_input(args.driving, "driving video")
    writable_output(args.output)

    from masque.animate import AnimateConfig, Animator
    from masque.animate.files import animate_video
    from masque.face import AnalyzerConfig, FaceAnalyzer
    from masque.media import read_image
    from masque.provenance import Labeler

    # composite: every output pixel is the captured photo's (or the driving mouth's), moved by a
    # trained landmark model's measurements; nothing is drawn by a generative network
    config = dataclasses.replace(label_config_from_args(args, kind="composite"),
                                 description="photo animated by a driving video with masque (mesh warp)")
    check_video_output(args.output, config.enabled)
    labeler = Labeler(config)
    animate = AnimateConfig(size=args.size, crop=args.crop, smooth=args.smooth, mouth=not args.no_mouth,
                            redetect_every=args.redetect_every)
    analyzer = FaceAnalyzer(AnalyzerConfig())
    animator = Animator.from_photo(read_image(args.source), animate, args.source_face, analyzer,
                                   name=f"the photo {args.source}")
    with removed_on_failure(args.output), progress_bar("animate", unit="frame") as cb:
        s = animate_video(animator, args.driving, args.output, labeler, reference=args.reference,
                          driving_face=args.driving_face, first_frames=args.first_frames, progress=cb)
    print(f"{s.frames} frame(s), {s.driven} with the driving face, reference frame {s.reference}, "
          f"{s.seconds:.1f} s, {s.fps:.1f} frames/s -> {args.output}")
    return 0

"""``masque reenact``: a target video keeps its head and identity, a source actor's expression drives it."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from masque.commands._known import ANIMATE_FIRST_FRAMES, ANIMATE_SMOOTH, TRACK_REDETECT_EVERY
from masque.commands._labels import add_label_arguments, label_config_from_args
from masque.commands._options import int_range, positive_int, smoothing
from masque.commands._paths import removed_on_failure, require_file, writable_output
from masque.commands._progress import progress_bar


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "reenact", help="give a target video the expressions (eyes, brows, mouth) of a source video",
        description="Expression reenactment (Face2Face-style, without a 3D model): the source actor's change of "
        "expression since their most neutral frame replaces the target's own, frame by frame, on the target's "
        "landmarks; the target keeps its head pose, identity and background. The output has the target's "
        "frames, frame rate and size, and is labelled as synthetic.")
    p.add_argument("-s", "--source", required=True, type=Path, metavar="SOURCE_VIDEO",
                   help="video of the actor whose expressions are used")
    p.add_argument("-t", "--target", required=True, type=Path, metavar="TARGET_VIDEO",
                   help="video whose face is reenacted")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.mp4", help="output video")
    p.add_argument("--audio", choices=["source", "target", "none"], default="source",
                   help="whose audio the output carries (default source: the mouth follows the source)")
    p.add_argument("--smooth", type=smoothing, default=ANIMATE_SMOOTH, metavar="F",
                   help=f"landmark smoothing in [0, 1) (default {ANIMATE_SMOOTH})")
    p.add_argument("--source-face", type=int_range(0, 99), default=0, metavar="N",
                   help="which face of SOURCE_VIDEO drives, 0 = largest (default 0)")
    p.add_argument("--target-face", type=int_range(0, 99), default=0, metavar="N",
                   help="which face of TARGET_VIDEO is reenacted, 0 = largest (default 0)")
    p.add_argument("--first-frames", type=positive_int, default=ANIMATE_FIRST_FRAMES, metavar="N",
                   help=f"each video's face must appear within its first N frames (default {ANIMATE_FIRST_FRAMES})")
    p.add_argument("--redetect-every", type=positive_int, default=TRACK_REDETECT_EVERY, metavar="N",
                   help=f"run the face detector every N frames, track in between (default {TRACK_REDETECT_EVERY})")
    p.add_argument("--no-mouth", action="store_true", help="do not paint a mouth interior")
    add_label_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from masque.commands.animate import check_video_input, check_video_output

    require_file(args.source, "source video")
    require_file(args.target, "target video")
    check_video_input(args.source, "source video")
    check_video_input(args.target, "target video")
    writable_output(args.output)

    from masque.animate import AnimateConfig, Reenactor
    from masque.animate.files import reenact_video
    from masque.face import FaceAnalyzer
    from masque.provenance import Labeler

    # composite: the target's real frames, with the face region re-drawn from its own pixels
    config = dataclasses.replace(label_config_from_args(args, kind="composite"),
                                 description="facial expression reenacted with masque (mesh warp)")
    check_video_output(args.output, config.enabled)
    labeler = Labeler(config)
    reenactor = Reenactor(FaceAnalyzer(), AnimateConfig(smooth=args.smooth, mouth=not args.no_mouth,
                                                        redetect_every=args.redetect_every))
    with removed_on_failure(args.output), progress_bar("reenact", unit="frame") as cb:
        s = reenact_video(reenactor, args.source, args.target, args.output, labeler, audio=args.audio,
                          source_face=args.source_face, target_face=args.target_face,
                          first_frames=args.first_frames, progress=cb)
    print(f"{s.frames} frame(s), {s.driven} with the target face, {s.seconds:.1f} s, {s.fps:.1f} frames/s "
          f"-> {args.output}")
    return 0

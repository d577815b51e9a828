"""``masque extract``: videos, images or folders in, an aligned face set out."""

from __future__ import annotations

import argparse
from pathlib import Path

from masque.commands._cluster import add_ray_argument, report
from masque.commands._options import int_range, non_negative_int, positive_float, positive_int
from masque.commands._paths import removed_on_failure, require_input, writable_output
from masque.commands._progress import progress_bar
from masque.errors import OutputPathError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("extract", help="detect, align and save every face of videos or images",
                       description="Detect every face, find 68 landmarks, align it onto the mean face and save "
                       "it in a face set (aligned PNGs + an SQLite index). Rerun the same command to resume.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="video, image, or folder of images/videos")
    p.add_argument("-o", "--output", required=True, metavar="FACESET", help="face set folder (created or resumed)")
    p.add_argument("--every", type=positive_int, default=1, metavar="N", help="keep every N-th video frame (default 1)")
    p.add_argument("--size", type=int_range(16, 4096), default=256, metavar="PX",
                   help="side of the aligned faces, 16-4096 (default 256)")
    p.add_argument("--centering", choices=["face", "head"], default="face", help="crop around the face or head")
    p.add_argument("--min-face", type=non_negative_int, default=0, metavar="PX", help="drop faces narrower than PX")
    p.add_argument("--identity", nargs="+", metavar="REF_IMAGE", help="keep only faces of this person")
    p.add_argument("--identity-threshold", type=positive_float, default=0.6, metavar="D",
                   help="max embedding distance to the reference (default 0.6)")
    p.add_argument("--detector", default="hog",
                   help="face detector: hog (default), cnn (slow, finds more) or mediapipe (fastest; optional extra)")
    p.add_argument("--upsample", type=int_range(0, 4), default=0, metavar="N",
                   help="detector upsampling 0-4, finds smaller faces (slower)")
    p.add_argument("--detect-every", type=positive_int, default=8, metavar="N",
                   help="in videos, detect every N frames and track faces in between (default 8; 1 = always detect)")
    p.add_argument("--sequence", action="store_true",
                   help="the images are consecutive video frames (a folder written by ffmpeg or DeepFaceLab): "
                   "track faces between them as in a video")
    p.add_argument("--embed-every-frame", action="store_true",
                   help="compute the identity embedding on every frame, not once per detection")
    p.add_argument("--workers", type=int_range(0, 64), default=None, metavar="N",
                   help="analysis processes, 0 = in this one (default: cores, max 2)")
    add_ray_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for path in args.inputs:
        require_input(path)
    for path in args.identity or []:
        require_input(path, "reference image")
    writable_output(args.output, folder=True)

    from masque.face import reference_embeddings
    from masque.faceset.extract import ExtractConfig, extract_faceset
    from masque.faceset.store import DB_NAME

    out = Path(args.output)
    if out.is_dir() and not (out / DB_NAME).exists() and any(out.iterdir()):
        raise OutputPathError(f"{out} is a folder of other files, not a face set; give a new or empty folder, "
                              "or a face set to add to")

    identity = reference_embeddings(args.identity) if args.identity else None
    kwargs = {} if args.workers is None else {"workers": args.workers}
    config = ExtractConfig(size=args.size, centering=args.centering, every=args.every, min_face=args.min_face,
                           detector=args.detector, upsample=args.upsample, identity=identity,
                           detect_every=args.detect_every, embed_every_frame=args.embed_every_frame,
                           sequence=args.sequence,
                           identity_threshold=args.identity_threshold, **kwargs)
    if args.ray:  # workers analyse, this process alone writes the face set
        from masque.cluster.runner import run_extract
        from masque.faceset.extract import collect_inputs

        with removed_on_failure(out, keep=_has_faces), progress_bar("extract", unit="frame") as cb:
            cs = run_extract(args.ray, collect_inputs(args.inputs), out, config, progress=cb)
        print(f"{cs.faces} faces", end=", ")
        return report(cs, "frames", args.output)
    # a new face set that failed before its first face is removed; one with faces is kept, to resume
    with removed_on_failure(out, keep=_has_faces), progress_bar("extract", unit="frame") as cb:
        s = extract_faceset(args.inputs, out, config, progress=cb)
    print(f"{s.frames} frames, {s.faces} faces, {s.frames_without_face} frames without a face, "
          f"{s.frames_skipped} already done, {s.faces_rejected} faces of other people, "
          f"{s.seconds:.1f} s, {s.fps:.1f} frames/s -> {args.output}")
    for err in s.errors:
        print(f"masque: warning: {err}")
    return 0


def _has_faces(faceset: Path) -> bool:
    from masque.faceset.store import FACES_DIR

    return (faceset / FACES_DIR).is_dir() and any((faceset / FACES_DIR).iterdir())

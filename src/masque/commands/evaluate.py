"""``masque evaluate``: measure a swap (identity, pose, expression, jitter, seam, reconstruction)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from masque.commands._known import EVALUATE_EVERY
from masque.commands._labels import add_label_arguments, label_config_from_args
from masque.commands._options import positive_int
from masque.commands._paths import removed_on_failure, require_folder, require_input, writable_output
from masque.commands._progress import progress_bar


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate", help="measure a swap against the input it was made from",
        description="Compare a swapped image or video with the original it was made from, frame by frame: "
        "identity (embedding distance to the source and to the original face, retrieval in a gallery), "
        "pose and expression error, temporal jitter, blending seams, and for a trained model A->A / B->B "
        "reconstruction SSIM and PSNR.")
    p.add_argument("--swapped", required=True, metavar="OUTPUT", help="the swap's output (image or video)")
    p.add_argument("--original", metavar="INPUT",
                   help="the input it was made from (same kind, frame count and size); required unless --driving")
    p.add_argument("--driving", metavar="DRIVING",
                   help="measure an animation instead (masque animate): OUTPUT against its driving video, "
                   "with SOURCE the animated photo: identity to the photo, mouth and eye opening and head pose "
                   "following (measured with mediapipe's face mesh, not the dlib landmarks that drive the "
                   "warp), jitter")
    p.add_argument("--source", required=True, metavar="SOURCE",
                   help="the identity swapped in: an image, a folder of images, a video (faces sampled across it) "
                   "or a face set")
    p.add_argument("--gallery", nargs="+", default=[], metavar="G",
                   help="more identities (images, folders, videos, face sets) to rank the swapped face against")
    p.add_argument("--model", metavar="MODEL_DIR", help="a trained model: adds reconstruction SSIM/PSNR")
    p.add_argument("--every", type=positive_int, default=EVALUATE_EVERY, metavar="N",
                   help="measure identity on every Nth frame (embeddings are slow on a CPU; "
                   f"default {EVALUATE_EVERY}, 1 for every frame); the other metrics use every frame")
    p.add_argument("--json", action="store_true", help="print one JSON summary object instead of text")
    p.add_argument("--report", metavar="DIR", help="also write DIR/metrics.png, DIR/index.html and DIR/report.json")
    add_label_arguments(p)  # the report's sample images show the synthetic face
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.driving is not None:
        return _run_driving(args)
    if args.original is None:
        from masque.errors import UsageError

        raise UsageError("evaluate needs --original INPUT (the input a swap was made from), "
                         "or --driving DRIVING to measure an animation")
    for path, what in ((args.swapped, "swapped output"), (args.original, "original"), (args.source, "source")):
        require_input(path, what)
    for path in args.gallery:
        require_input(path, "gallery identity")
    if args.model:
        require_folder(args.model, "model folder")
    if args.report:
        writable_output(args.report, folder=True)

    from masque.metrics import evaluate, format_summary, write_report
    from masque.provenance import Labeler

    # built before the long evaluation, so a bad signing key fails at once
    labeler = Labeler(label_config_from_args(args, kind="composite")) if args.report else None
    with progress_bar("evaluate", unit="frame") as cb:
        report = evaluate(args.swapped, args.original, args.source, gallery=args.gallery,
                          model_dir=args.model, progress=cb, every=args.every)
    summary = report.summary()
    if args.report:
        with removed_on_failure(args.report):
            page = write_report(report, args.report, labeler=labeler)
        summary["report"] = str(page)
    if args.json:
        print(json.dumps(summary))
    else:
        print(format_summary(summary))
        if args.report:
            print(f"report: {summary['report']}")
    sys.stdout.flush()
    return 0


def _run_driving(args: argparse.Namespace) -> int:
    """``--driving``: an animation against its driving video and its photo."""
    for path, what in ((args.swapped, "animation"), (args.driving, "driving video"), (args.source, "photo")):
        require_input(path, what)
    if args.report or args.model or args.gallery or args.original:
        from masque.errors import UsageError

        raise UsageError("--driving measures an animation; --original, --model, --gallery and --report "
                         "are for swaps and cannot be combined with it")

    from masque.metrics.driving import evaluate_driving, format_driving

    with progress_bar("evaluate", unit="frame") as cb:
        report = evaluate_driving(args.swapped, args.driving, args.source, every=args.every, progress=cb)
    summary = report.summary()
    print(json.dumps(summary) if args.json else format_driving(summary))
    sys.stdout.flush()
    return 0

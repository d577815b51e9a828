"""``masque liveness VIDEO...``: a live person in front of the camera, or a photo or screen held up to it?

Exit status: 0 when every clip looks live, 1 when any looks like a presentation attack, 2 when
any cannot be read or shows no face.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from masque.commands._options import int_range
from masque.commands._paths import writable_output
from masque.errors import InputNotFoundError, MasqueError

EXIT_LIVE, EXIT_SPOOF, EXIT_UNREADABLE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``liveness`` parser."""
    parser = subparsers.add_parser(
        "liveness", help="tell a live face from a photo or screen held up to the camera",
        description="Signals: non-rigid head and face motion (a photo moves as one plane), blinks, skin pulse "
        "(rPPG, 40-180 bpm) and screen/print texture (moire, glare); a score per signal (1 = live) and a "
        "combined verdict. Exit status: 0 when every clip looks live, 1 when any looks like a spoof, 2 when any "
        "cannot be read or shows no face. Needs a few seconds of video with the face towards the camera; a live "
        "person who keeps perfectly still and silent looks like a photo to the motion signal.")
    parser.add_argument("videos", nargs="+", type=Path, metavar="VIDEO", help="clips to judge")
    parser.add_argument("--max-frames", type=int_range(10), default=600, metavar="N",
                        help="frames read from the start of each clip (default 600)")
    parser.add_argument("--report", type=Path, metavar="DIR", help="write DIR/index.html with a plot per signal")
    parser.add_argument("--json", action="store_true", help="print one JSON array of reports")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Judge every clip; print reports; return the exit status."""
    if args.report is not None:
        writable_output(args.report, folder=True)
    from masque.face import FaceAnalyzer
    from masque.forensics.liveness import LivenessConfig, LivenessReport, check_liveness
    from masque.forensics.report import write_liveness_report

    analyzer = FaceAnalyzer()
    config = LivenessConfig(max_frames=args.max_frames)
    reports: list[LivenessReport] = []
    entries: list[dict[str, Any]] = []
    unreadable = spoof = False
    for path in args.videos:
        try:
            if path.is_dir():
                raise InputNotFoundError(f"{path} is a folder; give the video files in it")
            r = check_liveness(path, analyzer, config)
        except MasqueError as exc:
            unreadable = True
            entries.append({"path": str(path), "error": str(exc)})
            if not args.json:
                print(f"masque: error: {exc}", file=sys.stderr)
            continue
        reports.append(r)
        entries.append(r.to_dict())
        spoof |= not r.live
        if not args.json:
            print(r.summary())
    if args.report is not None and reports:
        page = write_liveness_report(reports, args.report)
        if not args.json:
            print(f"report: {page}")
    if args.json:
        print(json.dumps(entries, indent=2))
    return EXIT_UNREADABLE if unreadable else EXIT_SPOOF if spoof else EXIT_LIVE

"""``masque faceset info|list|sort|prune``."""

from __future__ import annotations

import argparse
import json

from masque.faceset import FaceSet
from masque.faceset.tools import prune_candidates, record_json, rename_in_order, sorted_faces


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("faceset", help="inspect and clean a face set")
    fs_sub = p.add_subparsers(dest="faceset_command", required=True, metavar="ACTION")
    info = fs_sub.add_parser("info", help="counts and ranges")
    info.add_argument("faceset")
    info.set_defaults(func=run_info)
    lst = fs_sub.add_parser("list", help="one line per face")
    lst.add_argument("faceset")
    lst.add_argument("--json", action="store_true", help="one JSON object a line")
    lst.set_defaults(func=run_list)
    srt = fs_sub.add_parser("sort", help="rename the aligned PNGs so they list in this order")
    srt.add_argument("faceset")
    srt.add_argument("--by", choices=["blur", "yaw", "identity"], required=True)
    srt.set_defaults(func=run_sort)
    prn = fs_sub.add_parser("prune", help="remove blurry or turned faces, and faces whose PNG you deleted")
    prn.add_argument("faceset")
    prn.add_argument("--max-blur", type=float, help="remove faces with a blur score above X (higher = blurrier)")
    prn.add_argument("--max-yaw", type=float, help="remove faces turned more than D degrees")
    prn.add_argument("--dry-run", action="store_true", help="only print what would go")
    prn.set_defaults(func=run_prune)


def run_info(args: argparse.Namespace) -> int:
    with FaceSet(args.faceset) as fs:
        for key, value in fs.stats().items():
            if isinstance(value, tuple):
                value = " / ".join("-" if v is None else f"{v:.2f}" for v in value)
            print(f"{key:>20}: {value}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    with FaceSet(args.faceset) as fs:
        for r in fs.faces():
            if args.json:
                print(json.dumps(record_json(fs, r)))
            else:
                print(f"{fs.image_path(r)}\t{r.source}\tframe {r.frame}\tface {r.face_index}\t"
                      f"yaw {r.yaw:+.1f}\tblur {r.blur:.2f}")
    return 0


def run_sort(args: argparse.Namespace) -> int:
    with FaceSet(args.faceset) as fs:
        faces = sorted_faces(fs, args.by)
        rename_in_order(fs, faces)
        print(f"sorted {len(faces)} faces by {args.by}")
    return 0


def run_prune(args: argparse.Namespace) -> int:
    with FaceSet(args.faceset) as fs:
        doomed = list(prune_candidates(fs, args.max_blur, args.max_yaw))
        if args.dry_run:
            for r in doomed:
                print(fs.image_path(r))
            print(f"would remove {len(doomed)} of {len(fs)} faces")
            return 0
        n = fs.delete_faces([r.id for r in doomed])
        print(f"removed {n} faces, {len(fs)} left")
    return 0

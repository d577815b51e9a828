"""``masque faceset info|list|sort|prune|restore``."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from masque.commands._options import float_range, non_negative_float, percentage
from masque.commands._paths import require_folder, writable_output
from masque.errors import FaceSetError

if TYPE_CHECKING:  # numpy: loaded in run_info(), not for --help
    from masque.faceset.coverage import Coverage, Gap

#: a prune that would set aside more than this share of the set stops and asks for --yes
_PRUNE_CONFIRM_SHARE = 0.5


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("faceset", help="inspect and clean a face set")
    fs_sub = p.add_subparsers(dest="faceset_command", required=True, metavar="ACTION")
    info = fs_sub.add_parser(
        "info", help="counts, ranges, and the poses and expressions the set covers",
        description="With --against B: the poses and expressions FACESET's faces show that B has (almost) no "
        "faces of; a swap of FACESET's faces onto B cannot draw them well.")
    info.add_argument("faceset")
    info.add_argument("--against", metavar="FACESET_B", help="compare coverage with face set B and name the gaps")
    info.add_argument("--report", metavar="DIR", help="write DIR/coverage.png (histograms) and DIR/coverage.json")
    info.add_argument("--json", action="store_true", help="print counts, coverage and gaps as one JSON object")
    info.set_defaults(func=run_info)
    lst = fs_sub.add_parser("list", help="one line per face")
    lst.add_argument("faceset")
    lst.add_argument("--json", action="store_true", help="one JSON object a line")
    lst.set_defaults(func=run_list)
    srt = fs_sub.add_parser("sort", help="rename the aligned PNGs so they list in this order")
    srt.add_argument("faceset")
    srt.add_argument("--by", choices=["blur", "yaw", "identity"], required=True)
    srt.set_defaults(func=run_sort)
    _register_prune(fs_sub)
    rst = fs_sub.add_parser("restore", help="put back the faces a prune set aside (the latest prune by default)")
    rst.add_argument("faceset")
    which = rst.add_mutually_exclusive_group()
    which.add_argument("--batch", metavar="NAME", help="restore this prune (see `faceset restore --list`)")
    which.add_argument("--all", action="store_true", help="restore every prune")
    which.add_argument("--list", action="store_true", help="only list the prunes that can be restored")
    rst.set_defaults(func=run_restore)


def _register_prune(fs_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prn = fs_sub.add_parser(
        "prune", help="set aside blurry or turned faces, and faces whose PNG you deleted (undo: faceset restore)",
        description="Faces are moved to FACESET/pruned/<batch>/, not deleted: `masque faceset restore FACESET` "
        "puts them back. Blur scores depend on the footage, so prefer the relative --blurriest; "
        "--dry-run lists what would go.")
    prn.add_argument("faceset")
    prn.add_argument("--max-blur", type=non_negative_float, metavar="X",
                     help="faces with a blur score above X (higher = blurrier)")
    prn.add_argument("--blurriest", type=percentage, metavar="PCT", help="the blurriest PCT %% of the set (e.g. 10)")
    prn.add_argument("--max-yaw", type=float_range(0.0, 180.0), metavar="D", help="faces turned more than D degrees")
    prn.add_argument("--most-turned", type=percentage, metavar="PCT", help="the most turned PCT %% of the set")
    prn.add_argument("--dry-run", action="store_true", help="only list what would be set aside")
    prn.add_argument("--yes", action="store_true",
                     help=f"go ahead even when more than {_PRUNE_CONFIRM_SHARE * 100:.0f}%% of the set would be "
                     "set aside")
    prn.set_defaults(func=run_prune)


def run_info(args: argparse.Namespace) -> int:
    require_folder(args.faceset, "face set")
    if args.against is not None:
        require_folder(args.against, "face set B (--against)")
    if args.report is not None:
        writable_output(args.report, folder=True)

    from masque.faceset import FaceSet
    from masque.faceset.coverage import coverage, coverage_against
    from masque.faceset.coverage_report import report_json, write_report

    with FaceSet(args.faceset) as fs:
        stats, pruned, cov = fs.stats(), sum(n for _, n in fs.pruned_batches()), coverage(fs)
    other = coverage(args.against) if args.against is not None else None
    gaps = coverage_against(cov, other) if other is not None else None
    written = write_report(cov, other, gaps, args.report) if args.report is not None else ()
    if args.json:
        print(json.dumps({"stats": stats, "set_aside": pruned, **report_json(cov, other, gaps)}))
    else:
        _print_info(args, stats, pruned, cov, other, gaps)
        for path in written:
            print(f"wrote {path}")
    return 0


def _print_info(args: argparse.Namespace, stats: dict[str, object], pruned: int, cov: Coverage,
                other: Coverage | None, gaps: list[Gap] | None) -> None:
    from masque.faceset.coverage_report import coverage_summary, coverage_table, gap_lines

    for key, value in stats.items():
        shown = " / ".join("-" if v is None else f"{v:.2f}" for v in value) if isinstance(value, tuple) else value
        print(f"{key:>20}: {shown}")
    if pruned:
        print(f"{'set_aside':>20}: {pruned} (restore with `masque faceset restore {args.faceset}`)")
    if other is None:
        print("coverage (pose in degrees; eyes: eye aspect ratio; mouth: lip gap / mouth width):")
        print("\n".join(coverage_summary(cov)))
        return
    print(f"A: {args.faceset}\nB: {args.against}")
    print("\n".join(coverage_table(cov, other)))
    if gaps:
        print("gaps: what A's faces show that B cannot teach (a swap of A onto B draws these poorly):")
        print("\n".join(f"- {line}" for line in gap_lines(gaps)))
    else:
        print("no gaps: B has enough faces of every pose and expression A shows")


def run_list(args: argparse.Namespace) -> int:
    from masque.faceset import FaceSet
    from masque.faceset.tools import record_json

    with FaceSet(args.faceset) as fs:
        for r in fs.faces():
            if args.json:
                print(json.dumps(record_json(fs, r)))
            else:
                print(f"{fs.image_path(r)}\t{r.source}\tframe {r.frame}\tface {r.face_index}\t"
                      f"yaw {r.yaw:+.1f}\tblur {r.blur:.2f}")
    return 0


def run_sort(args: argparse.Namespace) -> int:
    from masque.faceset import FaceSet
    from masque.faceset.tools import rename_in_order, sorted_faces

    with FaceSet(args.faceset) as fs:
        faces = sorted_faces(fs, args.by)
        rename_in_order(fs, faces)
        print(f"sorted {len(faces)} faces by {args.by}")
    return 0


def run_prune(args: argparse.Namespace) -> int:
    from masque.faceset import FaceSet
    from masque.faceset.tools import PruneRule, new_batch_name, prune_candidates, spread

    rule = PruneRule(max_blur=args.max_blur, max_yaw=args.max_yaw, blurriest=args.blurriest,
                     most_turned=args.most_turned)
    with FaceSet(args.faceset) as fs:
        total = len(fs)
        doomed = prune_candidates(fs, rule)
        if args.dry_run:
            for r in doomed:
                print(f"{fs.image_path(r)}\tblur {r.blur:.2f}\tyaw {r.yaw:+.1f}")
            print(f"would set aside {len(doomed)} of {total} faces")
            return 0
        if total and len(doomed) > _PRUNE_CONFIRM_SHARE * total and not args.yes:
            faces = list(fs.faces())
            raise FaceSetError(
                f"this prune would set aside {len(doomed)} of {total} faces; nothing was changed. Blur scores "
                f"here run {spread([r.blur for r in faces])} (min / median / max) and |yaw| "
                f"{spread([abs(r.yaw) for r in faces])}: blur depends on the footage, so try a relative "
                "threshold (--blurriest 10), look first (--dry-run), or pass --yes")
        batch = new_batch_name(fs)
        n = fs.set_aside([r.id for r in doomed], batch)
        print(f"set aside {n} of {total} faces ({total - n} left) in {fs.root / 'pruned' / batch}; "
              f"undo with `masque faceset restore {args.faceset}`")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    from masque.faceset import FaceSet

    with FaceSet(args.faceset) as fs:
        batches = fs.pruned_batches()
        if args.list:
            for name, n in batches:
                print(f"{name}\t{n} faces")
            return 0
        if not batches:
            raise FaceSetError(f"{args.faceset} has no pruned faces to restore")
        known = dict(batches)
        if args.batch is not None and args.batch not in known:
            raise FaceSetError(f"{args.faceset} has no prune named {args.batch!r}; it has: {', '.join(known)}")
        chosen = list(known) if args.all else [args.batch or batches[-1][0]]
        restored = skipped = 0
        for name in chosen:
            r, s = fs.restore(name)
            restored, skipped = restored + r, skipped + s
        note = f" ({skipped} skipped: extracted again since, or their PNG is gone)" if skipped else ""
        print(f"restored {restored} faces from {', '.join(chosen)}{note}; {len(fs)} in the set")
    return 0

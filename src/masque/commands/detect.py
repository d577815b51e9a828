"""``masque detect FILE...`` (is it a fake?) and ``masque detect train -r REAL... -m DETECTOR``.

Exit status of ``detect``: 0 when nothing looks fake, 1 when something does (a face the detector
scores at or above its threshold, or a file labelled as synthetic by masque), 2 when an input
cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from masque.commands._cluster import add_ray_argument
from masque.commands._known import DETECT_EVERY, DETECT_TRAIN_EMA, DETECT_TRAIN_STEPS
from masque.commands._options import float_range, int_range
from masque.commands._paths import require_input, writable_output
from masque.errors import MasqueError, UsageError

if TYPE_CHECKING:  # torch, OpenCV: imported in run(), not for --help
    from masque.forensics.detect import FileVerdict

EXIT_REAL, EXIT_FAKE, EXIT_UNREADABLE = 0, 1, 2

_DESCRIPTION = (
    "Score every face of images, videos and folders for signs of blending or synthesis (0 = looks real, "
    "1 = looks fake) with a Self-Blended-Images detector (the one shipped with masque unless -m), and say "
    "separately whether masque's own labels (C2PA manifest, watermark) mark the file as synthetic: a label is "
    "a fact, the score an estimate. Exit status: 0 when nothing looks fake, 1 when something does, 2 when an "
    "input cannot be read. Train your own detector on real footage of your domain with "
    "`masque detect train -r REAL... -m DETECTOR` (see `masque detect train --help`).")


class _Parser(argparse.ArgumentParser):
    """The inner parsers: a bad command line is a UsageError, printed by the CLI like any other."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}; see `{self.prog} --help`")


def _add_detect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-m", "--model", type=Path, metavar="DETECTOR",
                   help="detector written by `masque detect train` (default: the one shipped with masque)")
    p.add_argument("--every", type=int_range(1), default=DETECT_EVERY, metavar="N",
                   help=f"score every N-th video frame (default {DETECT_EVERY})")
    p.add_argument("--threshold", type=float_range(0.0, 1.0), metavar="T",
                   help="score at or above which a face counts as fake (default: the detector's own)")
    p.add_argument("--report", type=Path, metavar="DIR", help="write DIR/index.html with heat maps and plots")
    p.add_argument("--no-labels", action="store_true", help="skip reading masque's labels (C2PA, watermark)")
    p.add_argument("--json", action="store_true", help="print one JSON array of per-file results")
    add_ray_argument(p, segments=False)


def _add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-r", "--real", nargs="+", type=Path, required=True, metavar="REAL",
                   help="real footage: videos, images, folders of them, or face sets")
    p.add_argument("-m", "--model", type=Path, required=True, metavar="DETECTOR",
                   help="output folder (detector.safetensors, detector_raw.safetensors, card, optimizer state, "
                        "logs); resumed if it exists")
    p.add_argument("--steps", type=int_range(1), default=DETECT_TRAIN_STEPS,
                   help=f"total training steps (default {DETECT_TRAIN_STEPS})")
    p.add_argument("--minutes", type=float_range(0.0), default=0.0, help="stop after this many minutes (0: no limit)")
    p.add_argument("--batch", type=int_range(2), default=32, help="faces per step, half real (default 32)")
    p.add_argument("--width", type=int_range(4), default=16,
                   help="channels of a new network's first stage (default 16)")
    p.add_argument("--size", type=int_range(32), default=128, help="face crop side of a new network (default 128)")
    p.add_argument("--every", type=int_range(1), default=1, metavar="N", help="use every N-th video frame (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--warp", type=float_range(0.0, 1.0), default=0.0, metavar="SHARE",
                   help="share of the fakes made by warping the face's landmarks instead of blending (default 0)")
    p.add_argument("--ema", type=float_range(0.0, 1.0, high_open=True), default=DETECT_TRAIN_EMA, metavar="DECAY",
                   help="the detector saved is an exponential moving average of the training weights with this decay "
                        f"per step, which steadies it (default {DETECT_TRAIN_EMA}; 0: the training weights)")
    p.add_argument("--validate-on", nargs="+", type=Path, metavar="REAL",
                   help="real footage kept apart to calibrate the scores and pick the threshold on (default: the "
                        "last 15%% of each training video); with --steps at the detector's step, only calibrates")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``detect`` parser (its ``train`` action is parsed in :func:`run`)."""
    parser = subparsers.add_parser("detect", help="estimate whether faces in images or videos are fake",
                                   description=_DESCRIPTION,
                                   usage="masque detect [options] FILE... | masque detect train -r REAL... -m DETECTOR")
    _add_detect_options(parser)
    parser.add_argument("rest", nargs=argparse.REMAINDER, metavar="FILE", help="images, videos or folders")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Dispatch to training or detection."""
    if not args.rest:
        raise UsageError("masque detect: give at least one FILE (or `train`); see `masque detect --help`")
    if args.rest[0] == "train":
        tp = _Parser(prog="masque detect train", description="Self-Blended Images training of a fake detector on "
                     "real faces only (Shiohara & Yamasaki 2022): no fakes needed. Resumable; TensorBoard logs in "
                     "DETECTOR/logs.")
        _add_train_options(tp)
        return run_train(tp.parse_args(args.rest[1:]))
    fp = _Parser(prog="masque detect", description=_DESCRIPTION)
    _add_detect_options(fp)
    fp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    return run_detect(fp.parse_args(args.rest, namespace=args))


def run_train(args: argparse.Namespace) -> int:
    """Collect real faces, train, print where the detector is."""
    for p in args.real:
        require_input(p, "real footage")
    for p in args.validate_on or ():
        require_input(p, "validation footage (--validate-on)")
    writable_output(args.model, folder=True)
    from masque.commands._progress import progress_bar
    from masque.forensics.faces import collect_crops, describe
    from masque.forensics.train import DetectTrainConfig, train_detector

    config = DetectTrainConfig(steps=args.steps, minutes=args.minutes, batch=args.batch, width=args.width,
                               size=args.size, seed=args.seed, warp=args.warp, ema=args.ema)
    with progress_bar("finding faces", "file") as bar:
        crops = collect_crops(list(args.real), config.size, args.every, on_progress=bar)
    print(f"{len(crops)} real faces from {len(args.real)} input(s)", file=sys.stderr)
    val = None
    if args.validate_on:
        val = collect_crops(list(args.validate_on), config.size, args.every)
        print(f"{len(val)} real faces to calibrate on from {len(args.validate_on)} input(s)", file=sys.stderr)
    from tqdm import tqdm

    bar = tqdm(desc="training", unit="step", total=config.steps, dynamic_ncols=True)
    try:
        def on_step(info: Any) -> None:
            bar.update(info.step - bar.n)
            bar.set_postfix_str(f"loss {info.loss:.3f} acc {info.accuracy:.2f}", refresh=False)

        card = train_detector(crops, args.model, config, tuple(describe(p) for p in args.real), on_step, val)
    finally:
        bar.close()
    print(f"detector: {Path(args.model) / 'detector.safetensors'} (step {card.step})")
    return 0


def run_detect(args: argparse.Namespace) -> int:
    """Score every file (here, or one Ray task per file with ``--ray``); print verdicts; return the exit status."""
    if args.report is not None:
        writable_output(args.report, folder=True)
    if args.model is not None:
        require_input(args.model, "detector (-m)")
    from masque.forensics.detect import DetectConfig, expand_inputs
    from masque.forensics.report import write_detect_report

    config = DetectConfig(every=args.every, threshold=args.threshold, labels=not args.no_labels)
    files = expand_inputs(list(args.files))
    verdicts: list[FileVerdict] = []
    entries: list[dict[str, Any]] = []
    unreadable = fake = False
    for path, v in _on_ray(args, config, files) if args.ray else _here(args, config, files):
        if isinstance(v, str):  # the reason the file could not be scored
            unreadable = True
            entries.append({"path": str(path), "error": v})
            if not args.json:
                print(f"masque: error: {v}", file=sys.stderr)
            continue
        verdicts.append(v)
        entries.append(v.to_dict())
        fake |= v.fake or v.labelled
        if not args.json:
            print(v.summary())
    if args.report is not None and verdicts:
        index = write_detect_report(verdicts, args.report)
        if not args.json:
            print(f"report: {index}")
    if args.json:
        print(json.dumps(entries, indent=2))
    return EXIT_UNREADABLE if unreadable else EXIT_FAKE if fake else EXIT_REAL


def _here(args: argparse.Namespace, config: Any, files: list[Path]) -> Iterator[tuple[Path, FileVerdict | str]]:
    """Each file's verdict, or the message of the error that kept it from being scored, one at a time."""
    from masque.forensics.detect import FakeDetector, detect_file

    detector = FakeDetector(args.model)
    for path in files:
        try:
            yield path, detect_file(detector, path, config)
        except MasqueError as exc:
            yield path, str(exc)


def _on_ray(args: argparse.Namespace, config: Any, files: list[Path]) -> Iterator[tuple[Path, FileVerdict | str]]:
    """The same, each file a Ray task (a worker loads the detector once); results in input order at the end."""
    from masque.cluster.jobs import DetectRecipe
    from masque.cluster.runner import run_detect as run_on_ray
    from masque.commands._progress import progress_bar

    recipe = DetectRecipe(None if args.model is None else str(Path(args.model).resolve()), config)
    with progress_bar("detect", unit="frame") as cb:
        summary, results = run_on_ray(args.ray, recipe, files, progress=cb)
    # on stderr: stdout (verdicts, --json) is what a local run prints
    print(f"{summary.frames} frames scored in {summary.tasks} Ray task(s), {summary.work_seconds:.1f} s after "
          f"connecting ({summary.seconds:.1f} s in all)", file=sys.stderr)
    yield from zip(files, results)

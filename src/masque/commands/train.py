"""``masque train``: train a swap model (shared encoder, one decoder per person) on two face sets."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from masque.commands._known import MODEL_NAMES, RECIPE_NAMES, TRAIN_BACKGROUND, TRAIN_BALANCE, TRAIN_WARMUP
from masque.commands._options import device, float_range, int_range, positive_float, positive_int
from masque.commands._paths import require_folder, writable_output
from masque.errors import OutputPathError, UsageError

if TYPE_CHECKING:  # torch: loaded in run(), not for --help
    from masque.train.trainer import Trainer, TrainSummary

log = logging.getLogger("masque.train")
#: gap lines logged per direction at the start of training (the rest: `masque faceset info --against`)
_GAP_LINES = 3


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("train", help="train a swap model on face sets of person A and person B",
                       description="One encoder learns what all faces share, one decoder per person learns to "
                       "draw that person. Ctrl-C saves and stops; the same command again resumes from there.")
    p.add_argument("-A", dest="faceset_a", required=True, metavar="FACESET_A", help="face set of person A")
    p.add_argument("-B", dest="faceset_b", required=True, metavar="FACESET_B", help="face set of person B")
    p.add_argument("-m", "--model-dir", required=True, metavar="MODEL_DIR", help="model folder (resumed if present)")
    p.add_argument("--model", choices=MODEL_NAMES, default=None,
                   help="architecture (default original; a resumed folder keeps its own)")
    p.add_argument("--recipe", choices=RECIPE_NAMES, default=None,
                   help="loss recipe: classic (L1 + DSSIM), perceptual (+ VGG19 features and identity), gan "
                   "(+ PatchGAN, edge and mask terms); default classic, a resumed folder keeps its own")
    p.add_argument("--batch", type=int_range(1, 4096), default=16, help="faces per person per step (default 16)")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--steps", type=positive_int, default=None, metavar="N",
                      help="train until the model reaches step N")
    stop.add_argument("--minutes", type=positive_float, default=None, metavar="M", help="train for M minutes")
    p.add_argument("--save-every", type=positive_int, default=250, metavar="N", help="steps between checkpoints (250)")
    p.add_argument("--preview-every", type=positive_int, default=100, metavar="N", help="steps between previews (100)")
    p.add_argument("--device", type=device, default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.add_argument("--lr", type=float_range(0.0, 1.0, low_open=True), default=5e-5,
                   help="Adam learning rate in (0, 1] (default 5e-5)")
    p.add_argument("--warmup", type=int_range(0, 10**7), default=TRAIN_WARMUP, metavar="N",
                   help=f"learning-rate warm-up steps of a new model; the rate then decays (cosine) to 0.2x over "
                   f"--steps or --minutes (default {TRAIN_WARMUP})")
    p.add_argument("--balance", type=float_range(0.0, 1.0), default=TRAIN_BALANCE, metavar="B",
                   help="draw each set's rare expressions (eyes closed, mouth open) more often: 0 every face "
                   f"alike, 1 every eye x mouth state alike (default {TRAIN_BALANCE})")
    p.add_argument("--background", type=float_range(0.0, 1.0), default=TRAIN_BACKGROUND, metavar="W",
                   help="how much the pixels around the face count in the loss, against the face's 1 (a new model "
                   f"only; a resumed one keeps its own; default {TRAIN_BACKGROUND:g}: the face alone; the demo "
                   "uses 0.5)")
    p.add_argument("--workers", type=int_range(0, 64), default=1, help="augmentation processes (default 1)")
    p.add_argument("--threads", type=int_range(1, 1024), default=None, metavar="N",
                   help="CPU threads (default: measured, all cores or one, whichever steps faster)")
    p.add_argument("--no-amp", action="store_true", help="train in float32 even where bf16/fp16 is available")
    p.add_argument("--seed", type=int_range(0, 2**32 - 1), default=0, help="initialisation and augmentation seed")
    p.add_argument("--nproc", type=int_range(1, 1024), default=1, metavar="N",
                   help="train as N processes of one DDP group on this machine (gloo on CPU, one GPU each on "
                   "CUDA); --batch is per process. Under torchrun, torchrun's ranks are used instead (default 1)")
    p.add_argument("--enhancer", action="store_true",
                   help="train the per-person enhancer of the trained model in MODEL_DIR instead of the model: a "
                   "small super-resolution network that draws the decoder's face at 4x its size with that "
                   "person's detail, and keep each person's detail exemplars (real faces of the face sets, "
                   "exemplars.safetensors); convert then uses both (stops at --steps/--minutes like training; --batch, "
                   "--lr, --model, --recipe and --warmup are the base model's: the enhancer uses 8 faces per "
                   "person and lr 1e-3)")
    p.set_defaults(func=run)


class _Interrupt:
    """First Ctrl-C: finish the step, save, stop. Second: stop at once (still saving)."""

    def __init__(self) -> None:
        self.requested = False

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nmasque: stopping after this step and saving (Ctrl-C again to stop sooner)", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    require_folder(args.faceset_a, "face set A")
    require_folder(args.faceset_b, "face set B")
    writable_output(args.model_dir, folder=True)

    from masque.models.device import pick_device
    from masque.models.io import STATE_FILE
    from masque.train.checkpoint import read_state
    from masque.train.distributed import Group, launch, process_group
    from masque.train.losses import LossConfig
    from masque.train.recipes import Schedule
    from masque.train.trainer import TrainConfig, Trainer

    if args.enhancer:
        return _run_enhancer(args)
    group = Group.from_env()
    if args.nproc > 1 and not group.distributed:  # this process starts the ranks and waits for them
        return launch(_rank_argv(args), args.nproc)

    root = Path(args.model_dir)
    if root.is_dir() and not (root / STATE_FILE).exists() and any(root.iterdir()):
        raise OutputPathError(f"{root} is a folder of other files, not a model folder; give a new or empty folder, "
                              "or a model folder to resume")
    previous = read_state(args.model_dir)
    model = args.model or (previous or {}).get("model") or "original"
    # in a group the time limit is rank 0's clock, checked collectively (see masque.train.distributed)
    config = TrainConfig(model=model, batch=args.batch, steps=args.steps,
                         minutes=None if group.distributed else args.minutes,
                         save_every=args.save_every, preview_every=args.preview_every, device=args.device,
                         lr=args.lr, workers=args.workers, amp=not args.no_amp, seed=args.seed,
                         threads=args.threads or group.threads(), recipe=args.recipe,
                         schedule=Schedule(warmup=args.warmup), balance=args.balance,
                         loss=LossConfig(background=args.background))
    with process_group(group, pick_device(args.device)):
        trainer = Trainer(args.faceset_a, args.faceset_b, args.model_dir, config, group)
        if group.main:
            warn_coverage_gaps(args.faceset_a, args.faceset_b)
        start = int((previous or {}).get("step", 0))
        if previous and group.main:
            print(f"resuming {model} in {args.model_dir} from step {start}", file=sys.stderr)
        summary = _train(trainer, f"train {model} ({trainer.recipe.name})", args.minutes)
    if not group.main:
        return 0
    how = "interrupted" if summary.interrupted else "done"
    loss = summary.losses
    print(f"{how}: step {summary.step} ({summary.step - summary.start_step} this run, {summary.seconds:.0f} s, "
          f"{summary.examples_per_s:.1f} examples/s); loss A {loss.get('total_a', float('nan')):.4f} "
          f"B {loss.get('total_b', float('nan')):.4f}; saved to {args.model_dir}")
    if summary.interrupted:
        print("run the same command again to continue", file=sys.stderr)
    return 0


def _run_enhancer(args: argparse.Namespace) -> int:
    """``masque train --enhancer``: the enhancer stage on the trained model in ``args.model_dir``."""
    if args.nproc > 1 or args.model or args.recipe:
        raise UsageError("--enhancer trains the enhancer of the model already in MODEL_DIR, in one process: drop "
                         "--nproc, --model and --recipe (they are options of the base model's training)")
    from masque.train.enhancer import EnhancerConfig, EnhancerTrainer

    config = EnhancerConfig(steps=args.steps, minutes=args.minutes, save_every=args.save_every,
                            preview_every=args.preview_every, device=args.device, workers=args.workers,
                            seed=args.seed, threads=args.threads)
    trainer = EnhancerTrainer(args.faceset_a, args.faceset_b, args.model_dir, config)
    summary = _train(trainer, "train enhancer", args.minutes)  # type: ignore[arg-type]  # same run() contract
    how = "interrupted" if summary.interrupted else "done"
    loss = summary.losses
    print(f"enhancer {how}: step {summary.step} ({summary.step - summary.start_step} this run, "
          f"{summary.seconds:.0f} s, {summary.examples_per_s:.1f} examples/s); loss A "
          f"{loss.get('total_a', float('nan')):.4f} B {loss.get('total_b', float('nan')):.4f}; saved to "
          f"{args.model_dir}")
    if summary.interrupted:
        print("run the same command again to continue", file=sys.stderr)
    return 0


def warn_coverage_gaps(faceset_a: str, faceset_b: str) -> None:
    """Log, as one warning, what each set's faces show that the other set lacks (a swap goes both ways).

    Reads the two sets' indexes only (poses and landmarks; no image is decoded).
    """
    from masque.faceset.coverage import coverage, coverage_against
    from masque.faceset.coverage_report import gap_lines

    a, b = coverage(faceset_a), coverage(faceset_b)
    lines = []
    for (one, two), (this, other), (x, y) in ((("A", "B"), (a, b), (faceset_a, faceset_b)),
                                              (("B", "A"), (b, a), (faceset_b, faceset_a))):
        gaps = coverage_against(this, other)
        if gaps:
            lines.append(f"{one}'s faces swapped to {two} (`masque faceset info {x} --against {y}`):")
            lines += [f"  - {g}" for g in gap_lines(gaps, one, two, examples=False, limit=_GAP_LINES)]
    if lines:
        log.warning("the face sets do not cover each other; these poses and expressions will swap poorly:\n%s",
                    "\n".join(lines))


def _rank_argv(args: argparse.Namespace) -> list[str]:
    """The command line each rank of ``--nproc`` runs: this one, without ``--nproc``."""
    argv = ["-v"] if getattr(args, "verbose", False) else []
    argv += ["train", "-A", args.faceset_a, "-B", args.faceset_b, "-m", args.model_dir, "--batch", str(args.batch),
            "--save-every", str(args.save_every), "--preview-every", str(args.preview_every),
            "--device", args.device, "--lr", repr(args.lr), "--workers", str(args.workers), "--seed", str(args.seed),
            "--balance", repr(args.balance), "--background", repr(args.background)]
    for flag, value in (("--model", args.model), ("--steps", args.steps), ("--minutes", args.minutes),
                        ("--threads", args.threads), ("--recipe", args.recipe), ("--warmup", args.warmup)):
        if value is not None:
            argv += [flag, str(value)]
    return argv + (["--no-amp"] if args.no_amp else [])


def _train(trainer: Trainer, desc: str, minutes: float | None) -> TrainSummary:
    """Run ``trainer`` under the training bar `masque demo` draws too, with Ctrl-C asking it to save and stop.

    In a DDP group only rank 0 draws the bar, and the stop (Ctrl-C on any rank, the time limit) is agreed
    by all ranks each step.
    """
    from masque.commands._progress import TrainingBar

    group = trainer.group
    interrupt = _Interrupt()
    old = signal.signal(signal.SIGINT, interrupt)
    bar = TrainingBar(desc, minutes)
    stop = group.stop_check(lambda: interrupt.requested, minutes) if group.distributed else lambda: interrupt.requested
    try:
        return trainer.run(on_step=bar if group.main else None, should_stop=stop)
    finally:
        bar.close()
        signal.signal(signal.SIGINT, old)

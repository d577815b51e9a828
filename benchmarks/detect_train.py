"""Train masque's default fake detector (src/masque/data/detector.safetensors) with `masque detect train`.

    nice -n 10 python benchmarks/detect_train.py [--hold-out clip_short|clip_long] [-m OUT] [--steps N]

Real faces only: one fixture clip and the fixture photos; the other clip is held out for
benchmarks/detect.py. The shipped default holds out clip_short (train on clip_long + photos);
``--hold-out clip_long`` trains the reverse direction, to measure how the score carries over.
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
    parser.add_argument("--hold-out", choices=["clip_short", "clip_long"], default="clip_short")
    parser.add_argument("-m", "--model", default="src/masque/data/detector-train")
    parser.add_argument("--steps", default="1400")
    parser.add_argument("--minutes", default="26")
    args = parser.parse_args()
    real = [str(assets.fetch(c)) for c in CLIPS if not c.startswith(args.hold_out)]
    real += [str(assets.fetch(p)) for p in PHOTOS]
    return masque(["detect", "train", "-r", *real, "-m", args.model, "--steps", args.steps,
                   "--minutes", args.minutes])


if __name__ == "__main__":
    sys.exit(main())

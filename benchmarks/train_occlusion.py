"""Train masque's occlusion model (src/masque/data/occlusion.safetensors + occlusion.json).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/train_occlusion.py [--steps 2000] [--seed 0] [-o PATH]

From scratch, on the fixture faces with synthetic occluders (masque.face.occluders). People are
held out: clip_long's presenter (the occlusion benchmark, benchmarks/occlusion.py, measures on her
real hand), Biden and the expression_di woman (the tests' held-out faces) are never trained on.
Prints the held-out IoU of the occluder (synthetic occluders on the held-out photos) at the end and
writes it into the card.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from masque import assets
from masque.face.occlusion import WEIGHTS, OcclusionModel
from masque.face.occlusion_train import collect_faces, make_example, train
from masque.media.image import read_image
from masque.media.video import VideoReader

TRAIN_PHOTOS = ["obama.jpg", "obama2.jpg", "obama3.jpg", "expression_su.jpg", "expression_hao.jpg",
                "expression_anc.jpg", "single_face.jpg", "multi_face.jpg"]
HELD_OUT = ["biden.jpg", "expression_di.jpg"]


def backgrounds() -> list[np.ndarray]:
    """Face-free images to cut occluder textures from: the mountain photo and no_face.mp4's frames."""
    out = [read_image(assets.fetch("no_face.jpg"))]
    out += [f for k, f in enumerate(VideoReader(assets.fetch("no_face.mp4"))) if k % 10 == 0][:20]
    return [cv2.resize(b, None, fx=640 / max(b.shape[:2]), fy=640 / max(b.shape[:2]), interpolation=cv2.INTER_AREA)
            if max(b.shape[:2]) > 640 else b for b in out]


def occluder_iou(model: OcclusionModel, faces: list, sources: list[np.ndarray], n: int = 200,
                 seed: int = 1234) -> float:
    """Mean IoU of the predicted occluder (on the face hull) with the pasted one, over examples
    that have one."""
    rng = np.random.default_rng(seed)
    pool = [(f.image, f.landmarks) for f in faces]
    ious = []
    while len(ious) < n:
        img, label, weight = make_example(faces[rng.integers(len(faces))], rng, model.card.size, sources, pool)
        hull = weight == 1
        truth = (label < 0.5) & hull
        if truth.sum() < 10:
            continue
        pred = (model.predict(img[None])[0] < model.card.threshold) & hull
        ious.append((pred & truth).sum() / max((pred | truth).sum(), 1))
    return float(np.mean(ious))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", default=str(WEIGHTS))
    args = parser.parse_args()
    images = [(p.split(".")[0].rstrip("23"), read_image(assets.fetch(p))) for p in TRAIN_PHOTOS]
    images += [("clip_short", f) for k, f in enumerate(VideoReader(assets.fetch("clip_short.mp4"))) if k % 2 == 0]
    faces = collect_faces(images)
    held = collect_faces([(p.split(".")[0], read_image(assets.fetch(p))) for p in HELD_OUT])
    bg = backgrounds()
    print(f"{len(faces)} training faces, {len(held)} held-out faces, {len(bg)} backgrounds", flush=True)
    t0 = time.time()
    model = train(faces, bg, steps=args.steps, seed=args.seed,
                  log=lambda s, v: print(f"step {s} loss {v:.4f} {time.time() - t0:.0f}s", flush=True))
    iou_train = occluder_iou(model, faces, bg + [f.image for f in faces])
    iou_held = occluder_iou(model, held, bg + [f.image for f in held])
    print(f"occluder IoU: training people {iou_train:.3f}, held-out people {iou_held:.3f}")
    card = replace(model.card, held_out=("clip_long", *[p.split(".")[0] for p in HELD_OUT]),
                   command=" ".join(["python", "benchmarks/train_occlusion.py", *sys.argv[1:]]),
                   metrics={"occluder_iou_train": round(iou_train, 4), "occluder_iou_held_out": round(iou_held, 4)})
    OcclusionModel(model.net, card).save(Path(args.output))
    print(f"wrote {args.output} ({Path(args.output).stat().st_size / 1e3:.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

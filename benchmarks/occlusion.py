"""Occlusion (issue 12, item 3 and the glasses of item 5): is what is in front of a face kept?

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/occlusion.py -m MODEL_DIR [--previews DIR]

1. **The hand in clip_long.** Frames 95-230 are converted with ``MODEL_DIR`` (a trained
   ``lightweight`` A/B model of the demo's face sets), once with ``--mask clipped`` and once with
   ``--mask occlusion``, as ``masque convert`` would (the folder's enhancer and detail exemplars
   when it has them). On four frames where her hand covers the face (110, 145, 175, 200) the
   hand was outlined by hand: the polygons below were drawn by looking at 3.5-4x enlargements
   with a 10 px grid (``HAND``), not with the occlusion model; they are shrunk by
   ``HAND_MARGIN`` px so that the measure is inside the hand, not on its outline. Printed: mean
   absolute change (grey levels, RGB mean) inside the hand between the original and the
   converted frame (goal <= 4), and the seam score (``masque evaluate``'s) median over the
   converted frames, for both masks.
2. **Speed.** CPU time of the occlusion model per face (batch of 1, the 64 px crop, alignment
   and warp included) and the whole convert of those frames with each mask, interleaved, as a
   ratio.
3. **Glasses in the one-shot swap.** Dark glasses rims are drawn on the held-out fixture faces
   (biden.jpg, expression_di.jpg; the model never saw these people) from their landmarks, and
   obama.jpg is swapped onto them with and without ``--no-occluders``: printed is the share of
   rim pixels that stay within 12 grey levels of the target's (goal: all of them; a half-erased
   pair of glasses is about half).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from masque import assets
from masque.convert.pipeline import ConvertConfig, Converter
from masque.face import FaceAnalyzer, landmark_mask
from masque.face.occlusion import OcclusionModel
from masque.media.image import read_image
from masque.media.video import VideoReader
from masque.metrics.seam import seam_score
from masque.oneshot.swap import OneShotSwapper, SwapConfig

FIRST, LAST = 95, 230
CLEAR_FROM = 240  # from here on nothing is in front of her face
#: hand outlines, frame -> polygons (x, y in clip_long's 640x360 pixels), drawn by eye
HAND: dict[int, list[list[tuple[int, int]]]] = {
    110: [[(417, 171), (424, 173), (430, 199), (434, 224), (440, 249), (451, 252), (457, 261), (455, 273),
           (441, 290), (424, 307), (407, 333), (396, 359), (313, 359), (317, 336), (327, 307), (347, 273),
           (370, 244), (390, 216), (404, 196), (413, 179)]],
    145: [[(367, 184), (373, 181), (380, 184), (391, 173), (399, 171), (406, 174), (411, 181), (410, 206),
           (407, 223), (404, 243), (401, 263), (399, 291), (401, 320), (404, 359), (323, 359), (327, 320),
           (331, 291), (339, 263), (347, 240), (353, 214), (362, 194)],
          [(421, 240), (427, 239), (430, 246), (428, 269), (422, 291), (416, 320), (413, 359), (404, 359),
           (401, 320), (406, 291), (410, 263), (416, 249)]],
    175: [[(334, 204), (341, 201), (350, 206), (363, 189), (373, 184), (380, 187), (386, 199), (393, 200),
           (400, 204), (403, 216), (401, 244), (397, 273), (390, 287), (383, 310), (380, 333), (377, 359),
           (293, 359), (297, 321), (304, 293), (310, 264), (320, 236), (326, 221)],
          [(443, 266), (450, 269), (451, 277), (440, 293), (423, 310), (409, 327), (400, 359), (377, 359),
           (383, 327), (394, 310), (411, 293), (429, 279)]],
    200: [[(342, 205), (350, 199), (360, 203), (372, 188), (384, 182), (394, 188), (400, 197), (410, 199),
           (417, 210), (416, 240), (410, 270), (402, 295), (392, 335), (388, 359), (302, 359), (306, 330),
           (313, 300), (321, 270), (330, 240), (338, 215)],
          [(455, 266), (462, 272), (462, 284), (435, 315), (410, 350), (402, 359), (388, 359), (392, 335),
           (415, 305), (440, 282)]],
}
HAND_MARGIN = 3


def hand_mask(frame: int, shape: tuple[int, int]) -> np.ndarray:
    """The annotated hand of ``frame``, shrunk by :data:`HAND_MARGIN` px; boolean ``(H, W)``."""
    mask = np.zeros(shape, np.uint8)
    for poly in HAND[frame]:
        cv2.fillPoly(mask, [np.array(poly, np.int32)], 255)
    k = 2 * HAND_MARGIN + 1
    return cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0


def convert(model_dir: str, frames: list[np.ndarray], mask: str) -> tuple[list[np.ndarray], float]:
    """The converted frames and the CPU seconds the conversion took."""
    # as `masque convert` does: the folder's enhancer and detail exemplars when it has them
    conv = Converter.from_folder(model_dir, ConvertConfig(mask=mask))  # type: ignore[arg-type]
    t = time.process_time()
    out = [o for i in range(0, len(frames), 8) for o in conv.convert_frames(frames[i:i + 8])]
    return out, time.process_time() - t


def glasses(target: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``target`` with dark rectangular-ish glasses drawn from its landmarks, and the rims' mask."""
    out, rims = target.copy(), np.zeros(target.shape[:2], np.uint8)
    left, right = landmarks[36:42].mean(0), landmarks[42:48].mean(0)
    unit = float(np.linalg.norm(right - left))
    thick = max(2, round(0.07 * unit))
    for c in (left, right):
        box = np.round([c[0] - 0.45 * unit, c[1] - 0.3 * unit, c[0] + 0.45 * unit, c[1] + 0.32 * unit]).astype(int)
        cv2.rectangle(rims, tuple(box[:2]), tuple(box[2:]), 255, thick, cv2.LINE_AA)
    cv2.line(rims, tuple(np.round(left + np.array([0.45 * unit, -0.1 * unit])).astype(int)),
             tuple(np.round(right - np.array([0.45 * unit, 0.1 * unit])).astype(int)), 255, thick, cv2.LINE_AA)
    for c, ear in ((left, landmarks[0]), (right, landmarks[16])):
        side = np.sign(ear[0] - c[0])
        cv2.line(rims, tuple(np.round(c + np.array([side * 0.45 * unit, -0.1 * unit])).astype(int)),
                 tuple(np.round(ear).astype(int)), 255, thick, cv2.LINE_AA)
    a = rims.astype(np.float32)[..., None] / 255
    out = (out * (1 - a) + np.array([25, 20, 18], np.float32) * a).astype(np.uint8)
    return out, rims > 127


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", required=True, help="trained lightweight model folder (A = clip_long)")
    parser.add_argument("--previews", type=Path, help="write before/after PNG crops here")
    args = parser.parse_args()
    frames = [f for k, f in enumerate(VideoReader(assets.fetch("clip_long.mp4"))) if FIRST <= k <= LAST]
    analyzer = FaceAnalyzer()
    results = {}
    for mask in ("clipped", "occlusion", "clipped", "occlusion"):  # interleaved: the second pass is timed
        out, cpu = convert(args.model, frames, mask)
        results[mask] = (out, cpu)
    for mask, (out, cpu) in results.items():
        maes = [float(np.abs(out[k - FIRST].astype(np.float32) - frames[k - FIRST])[hand_mask(k, frames[0].shape[:2])]
                      .mean()) for k in HAND]
        seams = []
        for i in range(0, len(frames), 5):
            faces = analyzer.detect(frames[i])
            if faces:
                seams.append(seam_score(out[i], frames[i], faces[0].landmarks))
        print(f"--mask {mask:9s}: hand MAE per frame {', '.join(f'{m:.1f}' for m in maes)} -> mean {np.mean(maes):.2f} "
              f"grey levels (goal <= 4); seam median {np.nanmedian(seams):.3f} over {len(seams)} frames; "
              f"{len(frames) / cpu:.1f} frames/CPU-s")
        if args.previews:
            args.previews.mkdir(parents=True, exist_ok=True)
            for k in HAND:
                crop = np.concatenate([frames[k - FIRST][60:360, 240:520], out[k - FIRST][60:360, 240:520]], 1)
                cv2.imwrite(str(args.previews / f"hand_{k}_{mask}.png"), crop[..., ::-1])
    ratio = results["occlusion"][1] / results["clipped"][1]
    print(f"convert CPU time with the occlusion model / without: {ratio:.2f}")
    model = OcclusionModel.load()
    lm = analyzer.detect(frames[100])[0].landmarks
    t = time.process_time()
    for _ in range(100):
        model.masks(frames[100], [lm], [model.matrix(lm)], model.card.size)
    per = (time.process_time() - t) / 100
    print(f"occlusion model: {per * 1000:.2f} ms CPU per face ({1 / per:.0f} faces/CPU-s), "
          f"{model.card.size} px crop")
    clear = [f for k, f in enumerate(VideoReader(assets.fetch("clip_long.mp4"))) if k >= CLEAR_FROM and k % 10 == 0]
    lost = []
    for f in clear:  # nothing is in front of her face here: what the model removes is lost face
        for face in analyzer.detect(f):
            hull = landmark_mask(face.landmarks, f.shape[:2], "components") > 127
            visible = model.masks(f, [face.landmarks], [np.array([[1.0, 0, 0], [0, 1.0, 0]])], f.shape[1::-1])[0]
            lost.append(float((visible[hull] < model.card.threshold).mean()))
    print(f"hand-free frames {CLEAR_FROM}-471 of clip_long (every 10th): the occlusion model takes "
          f"{np.mean(lost):.1%} of the jaw-and-brows hull off the paste mask (median {np.median(lost):.1%}, "
          f"max {np.max(lost):.1%})")
    source = read_image(assets.fetch("obama.jpg"))
    for name in ("biden.jpg", "expression_di.jpg"):
        target = read_image(assets.fetch(name))
        face = analyzer.detect(target)[0]
        worn, rims = glasses(target, face.landmarks)
        kept = {}
        for occluders in (False, True):
            swapper = OneShotSwapper(source, analyzer.detect(source)[0].landmarks, SwapConfig(occluders=occluders))
            out = swapper.swap(worn, [face.landmarks])
            diff = np.abs(out.astype(np.int16) - worn).max(2)
            kept[occluders] = float((diff[rims] <= 12).mean())
            if args.previews:
                x0, y0 = np.maximum(face.landmarks.min(0).astype(int) - 20, 0)
                x1, y1 = face.landmarks.max(0).astype(int) + 20
                crop = np.concatenate([worn[y0:y1, x0:x1], out[y0:y1, x0:x1]], 1)
                cv2.imwrite(str(args.previews / f"glasses_{name[:-4]}_{'kept' if occluders else 'off'}.png"),
                            crop[..., ::-1])
        print(f"glasses on {name}: rim pixels kept {kept[True]:.1%} with occluders kept, "
              f"{kept[False]:.1%} with --no-occluders")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Fake detector: frame- and video-level AUC, accuracy at the default threshold, faces/s.

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/detect.py [-m DETECTOR...] [--swap-model DIR] [--work DIR]

Reals: frames of footage the detector did NOT train on (``--hold-out``). The default is
``clip_take2`` (clip_short's man in another recording: new footage; benchmarks/detect_train.py
calibrates on clip_short and trains on neither). ``--hold-out clip_short`` measures a detector
trained without clip_short. The swap donors and the animated photo are photos that
benchmarks/detect_train.py does not train on (its ``EVAL_PHOTOS``). Several ``-m`` detectors are
measured on the very same faces: every video's face crops are found once and kept in ``--work``.
Fakes made from that same footage, all written with
``--no-label`` (no watermark, no manifest: the score is the detector's alone):

- masque's own: ``masque swap`` (one-shot) of three fixture photos onto it; ``masque convert``
  through ``--swap-model DIR`` (a `lightweight` model of clip_long's woman and clip_short's man,
  as ``make demo`` trains it; or one trained here ``--convert-minutes M``; else the row is skipped);
  ``masque animate`` of a fixture photo driven by the footage.
- other tools' (held out: none of it is the SBI generator): a classic landmark swap written here,
  a donor photo warped triangle by triangle onto the frame's Delaunay mesh, colour-matched in Lab
  and Poisson-cloned (``cv2.seamlessClone``), as face-swap scripts and GIMP-era tools do; and a
  similarity-aligned donor face alpha-blended through a feathered hull with a mean colour shift.

Frame level: each scored frame's most suspicious face. Video level: the mean over segments of
12 scored frames (there is one held-out real clip, so segments stand in for videos). Accuracy
counts reals below and fakes at or above the detector's default threshold, classes weighted alike.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from masque import assets
from masque.face import FaceAnalyzer
from masque.face.align import umeyama
from masque.forensics.detect import FakeDetector
from masque.forensics.faces import FaceCrop, crops_in_image, iter_frames
from masque.forensics.sbi import self_blend, self_warp
from masque.forensics.scores import accuracy, roc_auc
from masque.media import read_image

DONORS = ["obama.jpg", "biden.jpg", "expression_di.jpg"]
ANIMATE_PHOTO = "expression_hao.jpg"
SEGMENT = 12


def face_crops(analyzer: FaceAnalyzer, frames: list[np.ndarray], size: int, cache: Path | None) -> list[list[FaceCrop]]:
    """Each frame's aligned face crops (HOG detection and landmarks: the slow part), kept in ``cache``
    (an ``.npz``) so that several detectors are scored on the very same faces."""
    if cache is not None and cache.exists():
        data = np.load(cache)
        out: list[list[FaceCrop]] = [[] for _ in range(int(data["frames"]))]
        for img, lm, i in zip(data["images"], data["landmarks"], data["index"]):
            out[int(i)].append(FaceCrop(img, lm, np.eye(2, 3), str(cache), int(i), len(out[int(i)]), (0, 0, 0, 0)))
        return out
    out = [crops_in_image(analyzer, f, size) for f in frames]
    if cache is not None:
        flat = [(c, i) for i, cs in enumerate(out) for c in cs]
        np.savez(cache, frames=len(out), index=np.array([i for _, i in flat], np.int32),
                 images=np.stack([c.image for c, _ in flat]) if flat else np.zeros((0, size, size, 3), np.uint8),
                 landmarks=np.stack([c.landmarks for c, _ in flat]) if flat else np.zeros((0, 68, 2), np.float32))
    return out


def score_frames(det: FakeDetector, crops: list[list[FaceCrop]]) -> tuple[list[float], int, float]:
    """Per frame with a face: its highest face score; also faces scored and seconds in the network."""
    out, faces, net_s = [], 0, 0.0
    for cs in crops:
        if not cs:
            continue
        t = time.perf_counter()
        s, _ = det.score([c.image for c in cs])
        net_s += time.perf_counter() - t
        faces += len(cs)
        out.append(float(s.max()))
    return out, faces, net_s


def landmark_swap(frame: np.ndarray, lm: np.ndarray, donor: np.ndarray, dlm: np.ndarray, poisson: bool) -> np.ndarray:
    """A classic landmark swap of ``donor`` onto ``frame``'s face (RGB uint8 in and out)."""
    h, w = frame.shape[:2]
    hull_idx = cv2.convexHull(lm[:27].astype(np.float32), returnPoints=False).ravel()
    mask = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(mask, lm[hull_idx].astype(np.int32), 255)
    if poisson:  # Delaunay mesh of the target's landmarks, donor triangles warped onto it
        warped = frame.copy()
        sub = cv2.Subdiv2D((0, 0, w, h))
        for p in lm:
            sub.insert((float(np.clip(p[0], 0, w - 1)), float(np.clip(p[1], 0, h - 1))))
        for t in sub.getTriangleList().reshape(-1, 3, 2):
            d = [((lm - q) ** 2).sum(1) for q in t]
            if max(float(x.min()) for x in d) > 1.0:  # a triangle on Subdiv2D's outer helper vertices
                continue
            idx = [int(np.argmin(x)) for x in d]
            _warp_triangle(donor, warped, dlm[idx].astype(np.float32), lm[idx].astype(np.float32))
        warped = _lab_match(warped, frame, mask)
        x, y, bw, bh = cv2.boundingRect(mask)
        out = cv2.seamlessClone(warped[..., ::-1].copy(), frame[..., ::-1].copy(), mask,
                                (x + bw // 2, y + bh // 2), cv2.NORMAL_CLONE)
        return out[..., ::-1].copy()
    mat = umeyama(dlm, lm)
    warped = cv2.warpAffine(donor, mat, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    inside = mask > 0
    shift = frame[inside].mean(0) - warped[inside].mean(0)
    warped = np.clip(warped.astype(np.float32) + shift, 0, 255)
    soft = cv2.GaussianBlur(cv2.erode(mask, np.ones((9, 9), np.uint8)).astype(np.float32) / 255, (0, 0), 6)[..., None]
    return (warped * soft + frame.astype(np.float32) * (1 - soft)).astype(np.uint8)


def _warp_triangle(src: np.ndarray, dst: np.ndarray, ts: np.ndarray, td: np.ndarray) -> None:
    x, y, w, h = cv2.boundingRect(td)
    if w <= 0 or h <= 0:
        return
    m = cv2.getAffineTransform(ts, td - np.float32([x, y]))
    patch = cv2.warpAffine(src, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    tri = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(tri, (td - np.float32([x, y])).astype(np.int32), 1)
    region = dst[y:y + h, x:x + w]
    sel = tri[:region.shape[0], :region.shape[1]] > 0
    region[sel] = patch[:region.shape[0], :region.shape[1]][sel]


def _lab_match(img: np.ndarray, ref: np.ndarray, mask: np.ndarray) -> np.ndarray:
    a = cv2.cvtColor(img, cv2.COLOR_RGB2LAB).astype(np.float32)
    b = cv2.cvtColor(ref, cv2.COLOR_RGB2LAB).astype(np.float32)
    m = mask > 0
    a = a - a[m].mean(0) + b[m].mean(0)  # means only: a std ratio blows up a flat chroma channel
    return cv2.cvtColor(np.clip(a, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def generic_fakes(analyzer: FaceAnalyzer, frames: list[np.ndarray], poisson: bool) -> list[np.ndarray]:
    out = []
    donors = []
    for name in DONORS:
        img = read_image(assets.fetch(name))
        donors.append((img, analyzer.detect(img)[0].landmarks))
    for i, f in enumerate(frames):
        faces = analyzer.detect(f)
        if faces:
            d, dlm = donors[i % len(donors)]
            out.append(landmark_swap(f, faces[0].landmarks, d, dlm, poisson))
    return out


def _masque(*args: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "masque.cli", *args], check=False, capture_output=True,
                          text=True)
    if proc.returncode:
        raise SystemExit(f"masque {' '.join(args[:1])} failed: {proc.stderr.strip()[-800:]}")


def masque_oneshot(clip: Path, work: Path, donors: int) -> list[Path]:
    """``masque swap`` of the first ``donors`` photos onto ``clip``, unlabelled."""
    outs = []
    for name in DONORS[:donors]:
        out = work / f"oneshot_{Path(name).stem}.mp4"
        if not out.exists():
            _masque("swap", "-s", str(assets.fetch(name)), "-t", str(clip), "-o", str(out), "--no-label")
        outs.append(out)
    return outs


def masque_animate(clip: Path, work: Path) -> Path:
    """``masque animate``: a fixture photo driven by ``clip``'s face, unlabelled."""
    out = work / "animate.mp4"
    if not out.exists():
        _masque("animate", "-s", str(assets.fetch(ANIMATE_PHOTO)), "-d", str(clip), "-o", str(out), "--no-label")
    return out


def masque_convert(clip: Path, work: Path, model: Path | None, minutes: float) -> Path | None:
    """``masque convert`` of ``clip`` through ``model`` (or one trained ``minutes`` here), unlabelled.

    The model is a `lightweight` one of clip_long's woman (A) and clip_short's man (B), as
    ``make demo`` trains it; the held-out footage shows the man, so it is drawn as the woman
    (``--to a``). ``None`` when there is no model and no minutes to train one.
    """
    out = work / "convert.mp4"
    if out.exists():
        return out
    if model is not None:  # a copy: convert must not write into a model folder it was lent (read-only demo)
        copy = work / "swapmodel_copy"
        if not copy.exists():
            shutil.copytree(model, copy, ignore=shutil.ignore_patterns("logs", "previews", "*optimizer*"))
        model = copy
    if model is None:
        if minutes <= 0:
            return None
        model = work / "swapmodel"
        _masque("extract", str(assets.fetch("clip_long.mp4")), "-o", str(work / "fs_a"))
        _masque("extract", str(assets.fetch("clip_short.mp4")), "-o", str(work / "fs_b"))
        _masque("train", "-A", str(work / "fs_a"), "-B", str(work / "fs_b"), "-m", str(model), "--model",
                "lightweight", "--minutes", str(minutes))
    _masque("convert", str(clip), "-m", str(model), "-o", str(out), "--to", "a", "--no-label")
    return out


def segments(scores: list[float]) -> list[float]:
    return [float(np.mean(scores[i:i + SEGMENT])) for i in range(0, len(scores) - SEGMENT + 1, SEGMENT)]


def report(name: str, real: list[float], fake: list[float], threshold: float) -> None:
    rs, fs = segments(real), segments(fake)
    print(f"{name:30s} frames {len(fake):4d}  frame AUC {roc_auc(real, fake):.3f}  "
          f"acc {accuracy(real, fake, threshold):.3f}"
          f"  | video AUC {roc_auc(rs, fs):.3f}  acc {accuracy(rs, fs, threshold):.3f}"
          f"  | fakes >= threshold {np.mean(np.asarray(fake) >= threshold):.2f}, median {np.median(fake):.3f}")


def video_frames(path: Path, every: int) -> list[np.ndarray]:
    return [f for _, f in iter_frames(path, every)]


def fake_sets(args: argparse.Namespace, clip: Path, work: Path, analyzer: FaceAnalyzer,
              frames: list[np.ndarray]) -> list[tuple[str, str, list[list[FaceCrop]]]]:
    """``(group, name, per-frame crops)`` of every fake set: group ``own`` (masque's) or ``other``."""
    size = 128

    def crops(name: str, make: Callable[[], list[np.ndarray]]) -> list[list[FaceCrop]]:
        cache = work / f"crops_{name}_every{args.every}_{size}.npz"
        return face_crops(analyzer, [] if cache.exists() else make(), size, cache)

    sets = []
    for out in masque_oneshot(clip, work, args.donors):
        sets.append(("own", f"masque swap {out.stem[8:]}", crops(out.stem, lambda o=out: video_frames(o, args.every))))
    conv = masque_convert(clip, work, args.swap_model, args.convert_minutes)
    if conv is None:
        print("masque convert: skipped (give --swap-model DIR or --convert-minutes M)")
    else:
        sets.append(("own", "masque convert", crops("convert", lambda: video_frames(conv, args.every))))
    anim = masque_animate(clip, work)
    sets.append(("own", f"masque animate {Path(ANIMATE_PHOTO).stem}",
                 crops("animate", lambda: video_frames(anim, args.every))))
    for poisson in (True, False):
        name = "Delaunay+Poisson" if poisson else "affine+alpha"
        sets.append(("other", "landmark swap " + name,
                     crops(name.replace("+", "_"), lambda p=poisson: generic_fakes(analyzer, frames, p))))
    return sets


def measure(det: FakeDetector, real_crops: list[list[FaceCrop]], sets: list[tuple[str, str, list[list[FaceCrop]]]],
            label: str) -> None:
    """Print one detector's table: speed, self-made fakes, masque's own, other tools'."""
    t = det.card.threshold
    print(f"\n== {label}: {det.path} (step {det.card.step}, threshold {t:.3f}, calibration "
          f"{tuple(round(v, 3) for v in det.card.calibration)})\n   trained on {', '.join(det.card.sources)}")
    real, faces, net_s = score_frames(det, real_crops)
    rs = segments(real)
    print(f"real: {len(real)} frames with a face, score median {np.median(real):.3f}; below the threshold: "
          f"{np.mean(np.asarray(real) < t):.1%} of frames, {np.mean(np.asarray(rs) < t):.1%} of {len(rs)} segments")
    batch = [c.image for cs in real_crops for c in cs][:64]
    det.score(batch[:8])
    t0, c0 = time.perf_counter(), time.process_time()
    det.score(batch)
    wall_b, cpu_b = time.perf_counter() - t0, time.process_time() - c0
    print(f"speed: {len(batch) / wall_b:.0f} faces/s wall ({len(batch) / cpu_b:.0f} per CPU-second) in batches of "
          f"64 (goal >= 30; ratio {len(batch) / wall_b / 30:.1f}), load {os.getloadavg()[0]:.1f}; "
          f"{faces / net_s:.0f} faces/s one frame at a time")
    rng = np.random.default_rng(0)
    firsts = [cs[0] for cs in real_crops if cs]
    report("(self-blended, not a goal)", real, det.score([self_blend(c.image, c.landmarks, rng)[0]
                                                           for c in firsts])[0].tolist(), t)
    report("(self-warped, not a goal)", real, det.score([self_warp(c.image, c.landmarks, rng)[0]
                                                          for c in firsts])[0].tolist(), t)
    pooled: dict[str, list[float]] = {"own": [], "other": []}
    for group, name, crops in sets:
        s = score_frames(det, crops)[0]
        report(name, real, s, t)
        pooled[group] += s
        if name.startswith("masque animate"):
            report("masque, all (goal 0.95)", real, pooled["own"], t)
    report("other tools, all (goal 0.85)", real, pooled["other"], t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-m", "--model", nargs="*", default=[None],
                        help="detector(s), each measured on the same faces (default: the shipped one)")
    parser.add_argument("--hold-out", choices=["clip_take2", "clip_short", "clip_long"], default="clip_take2",
                        help="real footage the detector did not train on (default clip_take2)")
    parser.add_argument("--every", type=int, default=2, help="score every N-th frame")
    parser.add_argument("--work", default=None,
                        help="keep generated fakes and their face crops here (default: a temporary folder)")
    parser.add_argument("--swap-model", type=Path, default=None,
                        help="a trained `lightweight` swap model (A: clip_long, B: clip_short) for the convert row; "
                             "copied into the work folder first")
    parser.add_argument("--convert-minutes", type=float, default=0.0,
                        help="without --swap-model: train one this many minutes (0: skip the convert row)")
    parser.add_argument("--donors", type=int, default=3, help="photos swapped onto the clip by masque swap")
    args = parser.parse_args()
    clip = assets.fetch(args.hold_out + (".mov" if args.hold_out == "clip_take2" else ".mp4"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; held out: {clip.name}, "
          f"every {args.every} frames")
    dets = [FakeDetector(m) for m in args.model]
    if any(d.card.size != 128 for d in dets):
        raise SystemExit("this benchmark caches 128 px crops; every detector must take 128 px")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work or tmp)
        work.mkdir(parents=True, exist_ok=True)
        analyzer = dets[0].analyzer
        frames = video_frames(clip, args.every)
        start = time.perf_counter()
        real_crops = face_crops(analyzer, frames, 128, work / f"crops_real_{clip.stem}_every{args.every}_128.npz")
        print(f"{len(frames) / (time.perf_counter() - start):.1f} frames/s finding and aligning faces (HOG, landmarks;"
              " 0 time when cached)")
        sets = fake_sets(args, clip, work, analyzer, frames)
        for i, det in enumerate(dets):
            measure(det, real_crops, sets, args.model[i] or "shipped")


if __name__ == "__main__":
    main()

"""Swap quality per CPU minute: each training recipe for the same CPU time on the demo clips.

1. Face sets of the two demo clips (``clip_long`` as A, ``clip_short`` as B, every frame), as
   ``masque demo`` extracts them; every 10th face is held out of training.
2. The per-step cost of each recipe relative to ``classic``, measured interleaved (short runs of
   each, in turn, so all see the same machine load).
3. Each recipe trains for ``--steps`` classic steps' worth of CPU time: ``steps / cost`` steps
   (the demo's training: ``lightweight``, batch 16, its peak lr and loss background, the default
   warm-up, decay and expression balance). On a shared machine wall time says little; steps at a
   measured cost ratio do not depend on the load. The demo's idle figure: 1528 classic steps in 10 minutes on 2 cores.
4. On the held-out faces: SSIM and PSNR of A->A and B->B; the VGG19 feature distance
   (:class:`masque.train.perceptual.PerceptualLoss`, masked) of A->A and B->B; the detail ratio of
   :mod:`masque.metrics.detail` (half scale) of A->A against A and A->B against A; the identity
   distance (dlib descriptor, same chip geometry as training) of A->B to B's mean; the share of
   A->B faces retrieved as B among A, B and the other fixture people; and the correlation, over
   the held-out faces, of eye aspect ratio and mouth openness of A->B with A's.

Prints a JSON summary and a Markdown table; writes ``quality.png`` (held-out A faces: A, then
A->A and A->B per recipe) into ``--out``.

Usage: python benchmarks/quality.py [--steps 3056] [--recipes classic,perceptual,gan] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from masque import assets
from masque.demo import DemoConfig
from masque.face.align import alignment_matrix, transform_points
from masque.faceset import FaceSet
from masque.faceset.extract import extract_faceset
from masque.media import read_image, write_image
from masque.metrics.detail import detail_ratio
from masque.metrics.reconstruction import held_out_records, model_inputs, psnr, ssim
from masque.models import load_model
from masque.train.data import face_aux
from masque.train.losses import LossConfig
from masque.train.trainer import StepInfo, TrainConfig, Trainer

OTHERS = ("obama.jpg", "obama2.jpg", "biden.jpg", "single_face.jpg", "expression_su.jpg", "expression_hao.jpg",
          "expression_anc.jpg", "expression_di.jpg")


def facesets(root: Path) -> tuple[Path, Path]:
    out = []
    for clip, side in (("clip_long.mp4", "a"), ("clip_short.mp4", "b")):
        path = root / f"faces_{side}"
        if not (path / "faceset.sqlite").exists():
            extract_faceset([assets.fetch(clip)], path)
        out.append(path)
    return out[0], out[1]


def config(recipe: str, steps: int, threads: int | None) -> TrainConfig:
    demo = DemoConfig()  # the demo's training: its peak lr, batch and loss background
    return TrainConfig(model=demo.model, batch=demo.batch, steps=steps, lr=demo.lr, recipe=recipe,
                       loss=LossConfig(background=demo.background), save_every=10**6, preview_every=10**6,
                       label_previews=False, threads=threads)


def step_costs(sets: tuple[Path, Path], work: Path, recipes: list[str], rounds: int, steps: int,
               threads: int | None) -> dict[str, float]:
    """Median seconds per step of each recipe, measured in turns (``rounds`` x ``steps`` steps each)."""
    times: dict[str, list[float]] = {r: [] for r in recipes}
    for r in recipes:  # a rerun into the same --out measures afresh (a resumed run would time nothing)
        shutil.rmtree(work / f"cost_{r}", ignore_errors=True)
    for k in range(rounds):
        for r in recipes:
            stamps: list[float] = []
            root = work / f"cost_{r}"
            Trainer(*sets, root, config(r, (k + 1) * (steps + 1), threads)).run(
                on_step=lambda info, s=stamps: s.append(info.elapsed))
            times[r] += list(np.diff(stamps))  # the first step of a run (start-up) is not counted
    return {r: statistics.median(t) for r, t in times.items()}


def train(sets: tuple[Path, Path], root: Path, recipe: str, steps: int, threads: int | None) -> dict[str, float]:
    if (root / "state.json").exists() and json.loads((root / "state.json").read_text())["step"] >= steps:
        return {}
    infos: list[StepInfo] = []
    s = Trainer(*sets, root, config(recipe, steps, threads)).run(on_step=infos.append)
    return {"steps": s.step, "seconds": round(s.seconds, 1), "examples_per_s": round(s.examples_per_s, 1)}


def held_out(sets: tuple[Path, Path], card_json: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per side: held-out model inputs ``(N, 64, 64, 3)`` and their landmark masks ``(N, 64, 64, 1)``."""
    align = {**card_json["align"], "size": int(card_json["input_size"])}
    out = {}
    for side, path in zip("ab", sets):
        with FaceSet(path) as fs:
            recs = held_out_records(fs, 10)
            faces = model_inputs(fs, recs, align, card_json["color_shift"].get(side))
            size, cov = align["size"], align["coverage"]
            masks = []
            for rec in recs:  # the landmark mask in the model crop, as training sees it
                mat = alignment_matrix(rec.aligned_landmarks, size, "face", cov)
                pts = transform_points(rec.aligned_landmarks, mat)
                masks.append(face_aux(pts, size, "extended")[..., :1].astype(np.float32) / 255)
        out[side] = (faces, np.stack(masks))
    return out


def others_crops(size: int, coverage: float) -> list[np.ndarray]:
    from masque.face import FaceAnalyzer
    from masque.face.align import align_face

    analyzer, crops = FaceAnalyzer(), []
    for name in OTHERS:
        image = read_image(assets.fetch(name))
        for face in analyzer.detect(image)[:1]:
            crops.append(align_face(image, face.landmarks, size, "face", coverage).image.astype(np.float32) / 255)
    return crops


def expression(analyzer: object, faces: np.ndarray) -> list[tuple[float, float] | None]:
    """Eye aspect ratio and mouth openness of each 64 px face, read on a 4x upscale with a margin."""
    from masque.face.expression import eye_aspect_ratio, mouth_openness

    out: list[tuple[float, float] | None] = []
    for f in faces:
        big = cv2.resize((f * 255).astype(np.uint8), (256, 256), interpolation=cv2.INTER_CUBIC)
        big = cv2.copyMakeBorder(big, 96, 96, 96, 96, cv2.BORDER_REPLICATE)
        found = analyzer.detect(big)  # type: ignore[attr-defined]
        out.append((eye_aspect_ratio(found[0].landmarks), mouth_openness(found[0].landmarks)) if found else None)
    return out


def evaluate(root: Path, sets: tuple[Path, Path], gallery_crops: list[np.ndarray]) -> tuple[dict, np.ndarray]:
    from masque.face import FaceAnalyzer
    from masque.train.perceptual import IdentityLoss, PerceptualLoss

    model, card = load_model(root)
    held = held_out(sets, card.to_json())
    nchw = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2)  # noqa: E731
    res: dict[str, float] = {}
    vgg, ident = PerceptualLoss(), IdentityLoss(card.align.coverage)
    outs = {}
    for side, other in (("a", "b"), ("b", "a")):
        faces, masks = held[side]
        x, m = nchw(faces), nchw(masks)
        rgb, mask = model.swap(x, side)
        own = (rgb * mask + x * (1 - mask)).clamp(0, 1)
        srgb, smask = model.swap(x, other)
        swap = (srgb * smask + x * (1 - smask)).clamp(0, 1)
        outs[side] = (own, swap)
        recon = rgb.permute(0, 2, 3, 1).numpy()
        res[f"ssim_{side}"] = float(np.mean([ssim(f, r) for f, r in zip(faces, recon)]))
        res[f"psnr_{side}"] = float(np.mean([psnr(f, r) for f, r in zip(faces, recon)]))
        with torch.no_grad():
            res[f"vgg_{side}"] = float(vgg(rgb * m, x * m))
        u8 = lambda t: (t.permute(0, 2, 3, 1).numpy() * 255 + 0.5).astype(np.uint8)  # noqa: E731
        box = (0.0, 0.0, 64.0, 64.0)
        res[f"detail_{side}{side}"] = float(np.nanmean([detail_ratio(o, f, box)[0] for o, f in zip(u8(own), u8(x))]))
        res[f"detail_{side}{other}"] = float(np.nanmean([detail_ratio(o, f, box)[0]
                                                         for o, f in zip(u8(swap), u8(x))]))
    with torch.no_grad():
        means = {s: ident.mean_embedding(nchw(held[s][0])) for s in "ab"}
        others = [ident.mean_embedding(nchw(c[None])) for c in gallery_crops]
        q = ident.embed(outs["a"][1])
        res["identity_ab_to_b"] = float((q - means["b"]).norm(dim=1).mean())
        res["identity_ab_to_a"] = float((q - means["a"]).norm(dim=1).mean())
        gallery = torch.stack([means["a"], means["b"], *others])
        nearest = torch.cdist(q, gallery).argmin(1)
        res["retrieved_as_b"] = float((nearest == 1).float().mean())
    analyzer = FaceAnalyzer()
    ea = expression(analyzer, held["a"][0])
    eb = expression(analyzer, outs["a"][1].permute(0, 2, 3, 1).numpy())
    pairs = [(p, q_) for p, q_ in zip(ea, eb) if p is not None and q_ is not None]
    res["expression_faces"] = len(pairs)
    if len(pairs) >= 3:
        res["eye_corr"] = float(np.corrcoef([p[0] for p, _ in pairs], [q_[0] for _, q_ in pairs])[0, 1])
        res["mouth_corr"] = float(np.corrcoef([p[1] for p, _ in pairs], [q_[1] for _, q_ in pairs])[0, 1])
    picks = np.linspace(0, len(held["a"][0]) - 1, 4).round().astype(int)
    column = torch.cat([torch.cat([outs["a"][0][i], outs["a"][1][i]], dim=2) for i in picks], dim=1)
    return {k: round(v, 4) for k, v in res.items()}, column.permute(1, 2, 0).numpy()  # (4 S, 2 S, 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3056, help="classic steps of CPU time per recipe (3056: 20 idle min)")
    ap.add_argument("--recipes", default="classic,perceptual,gan")
    ap.add_argument("--out", type=Path, default=Path("/tmp/masque-quality"))
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--cost-rounds", type=int, default=2)
    ap.add_argument("--cost-steps", type=int, default=6)
    args = ap.parse_args()
    recipes = args.recipes.split(",")
    args.out.mkdir(parents=True, exist_ok=True)
    sets = facesets(args.out)
    t0 = time.time()
    costs = step_costs(sets, args.out, recipes, args.cost_rounds, args.cost_steps, args.threads)
    ratio = {r: costs[r] / costs.get("classic", costs[recipes[0]]) for r in recipes}
    print(json.dumps({"seconds_per_step": costs, "cost_vs_classic": ratio}), flush=True)
    results: dict[str, dict] = {}
    columns = []
    gallery = others_crops(64, 0.875)
    for r in recipes:
        steps = max(1, round(args.steps / ratio[r]))
        run = train(sets, args.out / f"model_{r}", r, steps, args.threads)
        metrics, column = evaluate(args.out / f"model_{r}", sets, gallery)
        results[r] = {"steps": steps, "cost_vs_classic": round(ratio[r], 3),
                      "examples_per_s_idle_equiv": round(32 / (0.393 * ratio[r]), 1), **run, **metrics}
        columns.append(column)
        print(json.dumps({r: results[r]}), flush=True)
    held = held_out(sets, json.loads((args.out / f"model_{recipes[0]}" / "state.json").read_text()))["a"][0]
    picks = np.linspace(0, len(held) - 1, 4).round().astype(int)
    grid = np.concatenate([np.concatenate(list(held[picks]), axis=0), *columns], axis=1)
    write_image(args.out / "quality.png", (grid * 255 + 0.5).astype(np.uint8))
    print(f"| recipe | steps | cost/step | SSIM A->A | SSIM B->B | PSNR A->A | VGG A->A | detail A->B | "
          f"identity A->B to B | retrieved as B | eye corr | mouth corr |  ({time.time() - t0:.0f} s)")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r, m in results.items():
        print(f"| {r} | {m['steps']} | {m['cost_vs_classic']:.2f}x | {m['ssim_a']:.3f} | {m['ssim_b']:.3f} | "
              f"{m['psnr_a']:.1f} | {m['vgg_a']:.3f} | {m['detail_ab']:.2f} | {m['identity_ab_to_b']:.3f} | "
              f"{m['retrieved_as_b']:.2f} | {m.get('eye_corr', float('nan')):.2f} | "
              f"{m.get('mouth_corr', float('nan')):.2f} |")
    (args.out / "quality.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

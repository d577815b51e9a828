"""Training throughput: examples/s (both sides counted) per model and batch, against a plain loop.

The plain reference loop is what a straightforward PyTorch port of the classic design does:
the ``original`` model in float32, contiguous tensors, default Adam, default threads, and the
same augmentation (:func:`masque.train.data.make_batch`) run inline on the main thread. masque's
loop (:class:`masque.train.trainer.Trainer`) is measured in the same run, alternating with the
plain loop so both see the same machine load. Achieved GFLOP/s counts a training step as three
forward passes (2 FLOPs per multiply-add, convs and linears only).

Usage: python benchmarks/train.py [--device cpu|cuda] [--steps N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from masque import assets
from masque.faceset.extract import ExtractConfig, extract_faceset
from masque.models import MODELS, SIDES
from masque.models.device import amp_dtype
from masque.train.data import AugmentConfig, load_pool, make_batch, mean_color
from masque.train.losses import LossConfig, face_loss
from masque.train.trainer import StepInfo, TrainConfig, Trainer


def facesets(root: Path) -> tuple[Path, Path]:
    """Small real face sets from the two fixture clips (extracted once into ``root``)."""
    out = []
    for clip, name, every in (("clip_long.mp4", "a", 4), ("clip_short.mp4", "b", 1)):
        path = root / name
        if not (path / "faceset.sqlite").exists():
            extract_faceset([assets.fetch(clip)], path, ExtractConfig(every=every))
        out.append(path)
    return out[0], out[1]


def plain_loop(sets: tuple[Path, Path], batch: int, steps: int, device: torch.device,
               threads: int | None = None) -> dict[str, float]:
    """The reference: original, fp32, contiguous, default Adam, augmentation inline."""
    default_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        return _plain_loop(sets, batch, steps, device)
    finally:
        torch.set_num_threads(default_threads)


def _plain_loop(sets: tuple[Path, Path], batch: int, steps: int, device: torch.device) -> dict[str, float]:
    torch.manual_seed(0)
    model = MODELS.create("original").to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=5e-5, betas=(0.5, 0.999))
    pools = tuple(load_pool(p, 64, 0.875) for p in sets)
    shifts = (mean_color(pools[1]) - mean_color(pools[0]), np.zeros(3))
    rng = np.random.default_rng(0)
    times = []
    for _ in range(steps + 2):
        t0 = time.perf_counter()
        arrays = make_batch(pools, batch, rng, 64, 0.875, shifts, AugmentConfig())
        x, t, aux = (torch.from_numpy(arrays[k]).permute(0, 3, 1, 2).contiguous().to(device)
                     for k in ("warped", "target", "aux"))
        total = torch.zeros((), device=device)
        for i, side in enumerate(SIDES):
            part = slice(i * batch, (i + 1) * batch)
            rgb, mask = model(x[part], side)
            total = total + face_loss(rgb, mask, t[part], aux[part, :1] / 255, aux[part, 1:2], LossConfig())["total"]
        opt.zero_grad()
        total.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return _rates(times[2:], batch)


def masque_loop(sets: tuple[Path, Path], name: str, batch: int, steps: int, device: str,
                threads: int | None = None) -> dict[str, float]:
    """masque's trainer, timed step to step from its progress callback (warm-up and probing skipped)."""
    stamps: list[float] = []
    warm = 12  # the thread tuner probes steps 3-10

    def on_step(info: StepInfo) -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(model=name, batch=batch, steps=warm + steps, save_every=10**9, preview_every=10**9,
                          device=device, label_previews=False, log_every=10**9, threads=threads)
        Trainer(*sets, Path(tmp) / "m", cfg).run(on_step=on_step)
    return _rates(list(np.diff(stamps[warm - 1:])), batch)


def _rates(times: list[float], batch: int) -> dict[str, float]:
    med = float(statistics.median(times))
    return {"examples_per_s": 2 * batch / med, "step_s": med, "steps": len(times)}


def matmul_rate(dtype: torch.dtype, device: torch.device, n: int = 2048) -> float:
    """Best-of-5 GFLOP/s of an n x n x n matmul."""
    a, b = torch.randn(n, n, dtype=dtype, device=device), torch.randn(n, n, dtype=dtype, device=device)
    best = 0.0
    for _ in range(5):
        t0 = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e9)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=8, help="timed steps per measurement")
    parser.add_argument("--quick", action="store_true", help="original at batch 16 only")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    device = torch.device(args.device)
    sets = facesets(Path(tempfile.gettempdir()) / "masque-bench-facesets")
    configs = [("original", 16)] if args.quick else [("original", 16), ("original", 8), ("lightweight", 16),
                                                     ("lightweight", 32)]
    if device.type == "cuda" and not args.quick:
        configs += [("original", 64), ("hires", 16)]
    print(f"device {device}; fp32 matmul {matmul_rate(torch.float32, device):.0f} GFLOP/s, "
          f"bf16 matmul {matmul_rate(torch.bfloat16, device):.0f} GFLOP/s; masque's autocast: {amp_dtype(device)}")
    gflop = {name: 3 * MODELS.create(name).flops_per_example() / 1e9 for name, _ in configs}
    comparison = compare(sets, args.steps, device, args.device, gflop["original"])
    results = []
    for name, batch in configs:
        run = (comparison["masque"] if (name, batch) == ("original", 16)
               else masque_loop(sets, name, batch, args.steps, args.device))
        row = {"model": name, "batch": batch, "examples_per_s": round(run["examples_per_s"], 2),
               "gflops": round(run["examples_per_s"] * gflop[name], 1)}
        results.append(row)
        print(f"masque {name:11s} b{batch:<3d}: {row['examples_per_s']:6.1f} ex/s  {row['gflops']:6.0f} GFLOP/s")
    if args.json:
        args.json.write_text(json.dumps({"device": str(device), "comparison": comparison, "masque": results},
                                        indent=2))


def compare(sets: tuple[Path, Path], steps: int, device: torch.device, device_name: str,
            gflop: float) -> dict[str, dict[str, float]]:
    """original, batch 16: the plain loop against masque's, at default threads and at matched ones.

    The runs alternate (twice) so both loops see the same machine load; the best of each is kept.
    Defaults: the plain loop uses every core; masque measures all-cores against one thread.
    """
    cores = torch.get_num_threads()
    variants = {"plain": lambda: plain_loop(sets, 16, steps, device),
                "masque": lambda: masque_loop(sets, "original", 16, steps, device_name)}
    pairs = [("masque", "plain")]
    if device.type == "cpu" and cores > 1:
        variants.update({"plain_1t": lambda: plain_loop(sets, 16, steps, device, 1),
                         f"masque_{cores}t": lambda: masque_loop(sets, "original", 16, steps, device_name, cores),
                         "masque_1t": lambda: masque_loop(sets, "original", 16, steps, device_name, 1)})
        pairs += [(f"masque_{cores}t", "plain"), ("masque_1t", "plain_1t")]
    runs: dict[str, list[dict[str, float]]] = {k: [] for k in variants}
    for _ in range(2):
        for key, fn in variants.items():
            runs[key].append(fn())
    best = {k: max(v, key=lambda r: r["examples_per_s"]) for k, v in runs.items()}
    for key, r in best.items():
        print(f"{key:10s} original b16: {r['examples_per_s']:6.1f} ex/s  {r['examples_per_s'] * gflop:6.0f} GFLOP/s"
              f"   runs {[round(x['examples_per_s'], 1) for x in runs[key]]}")
    for ours, ref in pairs:
        ratio = best[ours]["examples_per_s"] / best[ref]["examples_per_s"]
        best[ours][f"vs_{ref}"] = round(ratio, 2)
        print(f"{ours} / {ref}: {ratio:.2f}x")
    return best


if __name__ == "__main__":
    main()

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


def plain_loop(sets: tuple[Path, Path], batch: int, steps: int, device: torch.device) -> dict[str, float]:
    """The reference: original, fp32, contiguous, default Adam, augmentation inline."""
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


def masque_loop(sets: tuple[Path, Path], name: str, batch: int, steps: int, device: str) -> dict[str, float]:
    """masque's trainer, timed step to step from its progress callback (warm-up and probing skipped)."""
    stamps: list[float] = []
    warm = 12  # the thread tuner probes steps 3-10

    def on_step(info: StepInfo) -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(model=name, batch=batch, steps=warm + steps, save_every=10**9, preview_every=10**9,
                          device=device, label_previews=False, log_every=10**9)
        Trainer(*sets, Path(tmp) / "m", cfg).run(on_step=on_step)
    return _rates(list(np.diff(stamps[warm - 1:])), batch)


def _rates(times: list[float], batch: int) -> dict[str, float]:
    med = statistics.median(times)
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
          f"bf16 matmul {matmul_rate(torch.bfloat16, device):.0f} GFLOP/s")
    results = []
    plain_runs, ours_runs = [], []
    for _ in range(2):  # alternate so the two loops share the machine's load
        plain_runs.append(plain_loop(sets, 16, args.steps, device))
        ours_runs.append(masque_loop(sets, "original", 16, args.steps, args.device))
    plain = max(plain_runs, key=lambda r: r["examples_per_s"])
    gflop = 3 * MODELS.create("original").flops_per_example() / 1e9
    print(f"plain loop  original b16: {plain['examples_per_s']:6.1f} ex/s  {plain['examples_per_s'] * gflop:6.0f} "
          f"GFLOP/s   (runs: {[round(r['examples_per_s'], 1) for r in plain_runs]})")
    for name, batch in configs:
        runs = ours_runs if (name, batch) == ("original", 16) else [masque_loop(sets, name, batch, args.steps,
                                                                                args.device)]
        best = max(runs, key=lambda r: r["examples_per_s"])
        g = 3 * MODELS.create(name).flops_per_example() / 1e9
        row = {"model": name, "batch": batch, "examples_per_s": round(best["examples_per_s"], 2),
               "gflops": round(best["examples_per_s"] * g, 1),
               "vs_plain": round(best["examples_per_s"] / plain["examples_per_s"], 2) if name == "original" else None}
        results.append(row)
        ratio = f"  {row['vs_plain']:.2f}x plain" if row["vs_plain"] else ""
        print(f"masque      {name:11s} b{batch:<3d}: {row['examples_per_s']:6.1f} ex/s  {row['gflops']:6.0f} GFLOP/s"
              f"{ratio}   (runs: {[round(r['examples_per_s'], 1) for r in runs]})")
    if args.json:
        args.json.write_text(json.dumps({"device": str(device), "plain": plain, "masque": results}, indent=2))


if __name__ == "__main__":
    main()

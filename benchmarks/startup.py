"""Start-up time of the ``masque`` command: what a user waits for before the first line of help.

    python benchmarks/startup.py [--runs N]

Prints the median wall time (over N runs, each a fresh subprocess) of ``python -c "import
masque.cli"``, ``masque --help`` and ``masque CMD --help`` for every command. Goal: under 0.3 s
for every ``--help`` on a 2-core CPU; the commands import torch, OpenCV, dlib and PyAV only in
their ``run()``. Wall time is inflated when other programs share the cores, so the load average
is printed too.

On the 2-core development machine: 2.4 s for ``masque --help`` and 2.7-4.8 s for each
``masque CMD --help`` when the command modules imported the library at the top; 0.07-0.10 s
since (``import masque.cli`` alone: 0.03-0.05 s, a bare ``python``: 0.01 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = [["extract"], ["faceset"], ["faceset", "info"], ["train"], ["model"], ["model", "info"],
            ["convert"], ["swap"], ["evaluate"], ["verify"], ["demo"]]


def wall_time(argv: list[str], runs: int) -> float:
    """Median wall seconds of ``argv`` run ``runs`` times (stdout and stderr discarded)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    args = parser.parse_args()
    py = sys.executable
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; median of {args.runs} runs")
    print(f"{'python (no masque)':>28}: {wall_time([py, '-c', 'pass'], args.runs):.3f} s")
    print(f"{'import masque.cli':>28}: {wall_time([py, '-c', 'import masque.cli'], args.runs):.3f} s")
    script = Path(py).with_name("masque")  # the console script `pip install` wrote beside this python
    cli = [str(script)] if script.is_file() else [py, "-m", "masque.cli"]
    print(f"{'command':>28}: {' '.join(cli)}")
    print(f"{'masque --help':>28}: {wall_time([*cli, '--help'], args.runs):.3f} s")
    for command in COMMANDS:
        name = f"masque {' '.join(command)} --help"
        print(f"{name:>28}: {wall_time([*cli, *command, '--help'], args.runs):.3f} s")


if __name__ == "__main__":
    main()

"""The ``--ray ADDRESS`` option of ``extract``, ``convert``, ``swap`` and ``detect``, and the line printed after a run.

Ray is imported only by :mod:`masque.cluster.runner`, when a command's ``run()`` is given ``--ray``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from masque.cluster.runner import ClusterSummary


def add_ray_argument(p: argparse.ArgumentParser, segments: bool = True) -> None:
    """``--ray``; ``segments``: the command cuts a long video into segments (``detect`` keeps it whole)."""
    task = ("run each input file (and each segment of a long video) as a task on a Ray cluster" if segments else
            "score each input file as a task on a Ray cluster (a worker loads the detector once; this process "
            "prints the same results and writes --report)")
    p.add_argument("--ray", metavar="ADDRESS|auto|local", default=None,
                   help=f"{task}: local starts one on this machine, auto joins the cluster of this machine, else its "
                   "address; inputs (and outputs) must be on storage every worker sees at the same paths "
                   "(needs `pip install masque[cluster]`)")


def plan_for(source: Path, output: Path) -> list[tuple[Path, Path]]:
    """``(input, output)`` pairs of a file or a folder, as a local run names them (checked before any work)."""
    from masque.compose.files import check_paths, plan_outputs

    files = check_paths(source, output)
    if not source.is_dir():
        return [(source, output)]
    output.mkdir(parents=True, exist_ok=True)
    return plan_outputs(files, output)


def report(summary: ClusterSummary, what: str, output: str | Path) -> int:
    """Print the run's line and one warning per failed input; an error when every input failed."""
    from masque.errors import InvalidMediaError

    if summary.failed and not summary.outputs and not summary.frames:
        raise InvalidMediaError("every input failed: " + "; ".join(f"{p}: {r}" for p, r in summary.failed))
    print(f"{summary.frames} {what} in {summary.tasks} Ray task(s), {summary.work_seconds:.1f} s after connecting "
          f"({summary.seconds:.1f} s in all), {summary.fps:.1f} {what}/s -> {output}")
    for path, reason in summary.failed:
        print(f"masque: warning: {path} failed: {reason}")
    return 0

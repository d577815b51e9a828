"""Training across processes and machines: PyTorch DistributedDataParallel (DDP).

Two ways in, one code path:

- ``masque train --nproc N ...`` on one machine: :func:`launch` starts N copies of the same
  command (``python -m masque train ...``) with torchrun's environment variables set;
- ``torchrun --nnodes M --nproc-per-node N ... -m masque train ...`` on one or many machines:
  torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``.

Each process ("rank") is a :class:`~masque.train.trainer.Trainer` given a :class:`Group`: it
loads both face sets, draws its own augmented batches (per-rank seed), runs the shared encoder and
both decoders under one DDP wrapper, so every gradient (encoder, decoder A, decoder B) is
averaged across ranks before Adam's step and every rank holds the same weights. The batch is per
rank: N ranks of ``--batch B`` see ``N * B`` faces per side per step, like one process of
``--batch N*B``. Backend: gloo on CPU, NCCL on CUDA (one GPU per rank, ``cuda:LOCAL_RANK``).

Only rank 0 writes: checkpoints, previews, TensorBoard logs, the progress bar, the summary.
Stopping is collective: each step the ranks agree (one one-element all-reduce) whether any of
them was asked to stop (Ctrl-C) or the time limit is reached, so all stop after the same step and
rank 0 saves it. A rank that dies breaks the group's connections; the others see the
communication error, stop, and rank 0 saves the last completed step (weights change only in
Adam's step, after every all-reduce of that step has succeeded). Resuming reads the saved
folder, so it works with any number of ranks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType

import torch
from torch import nn

from masque.errors import ConfigError, WorkerDiedError
from masque.models import SIDES, SwapModel

__all__ = ["LOCAL", "Group", "launch", "process_group"]

log = logging.getLogger(__name__)

#: how long a collective may wait for a slow rank (data loading at start-up included)
TIMEOUT = timedelta(minutes=10)
#: seconds the launcher waits for the other ranks to stop by themselves after one has died
_GRACE = 60.0

Forward = Callable[[torch.Tensor, int], list[tuple[torch.Tensor, torch.Tensor]]]


class _EncodeDecode(nn.Module):
    """Encoder, then decoder ``a`` on the first ``batch`` codes and ``b`` on the rest: one module for DDP."""

    def __init__(self, model: SwapModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, batch: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        z = self.model.encoder(x)
        return [self.model.decoders[side](zs) for side, zs in zip(SIDES, z.split(batch))]


@dataclass(frozen=True)
class Group:
    """This process's place in a training group (``world == 1``: a single process, no communication).

    Attributes:
        rank: 0 .. world-1; rank 0 writes everything.
        world: number of processes.
        local_rank: rank on this machine (picks the GPU).
        local_world: processes on this machine (shares the CPU cores).
    """

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def main(self) -> bool:
        """True for the rank that writes checkpoints, previews, logs and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @classmethod
    def from_env(cls) -> Group:
        """The group torchrun (or :func:`launch`) described in the environment; a single process when unset."""
        env = os.environ
        if "RANK" not in env or "WORLD_SIZE" not in env:
            return LOCAL
        try:
            world = int(env["WORLD_SIZE"])
            return cls(rank=int(env["RANK"]), world=world, local_rank=int(env.get("LOCAL_RANK", env["RANK"])),
                       local_world=int(env.get("LOCAL_WORLD_SIZE", world)))
        except ValueError:
            raise ConfigError(f"RANK/WORLD_SIZE/LOCAL_RANK must be integers, got {env['RANK']!r}/"
                              f"{env['WORLD_SIZE']!r}/{env.get('LOCAL_RANK')!r}; launch with torchrun") from None

    def device(self, device: torch.device) -> torch.device:
        """A CUDA device becomes this rank's own GPU (``cuda:LOCAL_RANK``)."""
        if self.distributed and device.type == "cuda":
            return torch.device("cuda", self.local_rank % max(1, torch.cuda.device_count()))
        return device

    def threads(self) -> int | None:
        """CPU threads per rank: the machine's cores shared by its ranks (``None``: single process, tuned)."""
        if not self.distributed:
            return None
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return max(1, cores // self.local_world)

    def seed(self, seed: int) -> int:
        """This rank's augmentation seed: distinct per rank, the given one on rank 0."""
        return seed + 1_000_003 * self.rank

    def forward(self, model: SwapModel, device: torch.device) -> Forward:
        """``forward(x, batch) -> [(rgb_a, mask_a), (rgb_b, mask_b)]``, gradients averaged across ranks.

        Builds the DDP wrapper, which first copies rank 0's weights to every rank (a collective:
        every rank calls this at the same point).
        """
        module = _EncodeDecode(model)
        if not self.distributed:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)

    def average_gradients(self, module: torch.nn.Module) -> None:
        """Average ``module``'s gradients across the ranks (a collective); for networks outside DDP's wrapper."""
        world = self.world
        for p in module.parameters():
            if p.grad is not None:
                torch.distributed.all_reduce(p.grad)
                p.grad.div_(world)

    def lost_errors(self) -> tuple[type[BaseException], ...]:
        """Exceptions that mean another rank is gone (its connections closed, or a collective timed out)."""
        if not self.distributed:
            return ()
        return (torch.distributed.DistError,)

    def stop_errors(self) -> tuple[type[BaseException], ...]:
        """What ends a training loop early but cleanly: Ctrl-C, and in a group a rank gone."""
        return (KeyboardInterrupt, *self.lost_errors())

    def agree_to_stop(self, local: bool) -> bool:
        """True on every rank when any rank wants to stop (or one is gone); call on all ranks each step."""
        if not self.distributed:
            return local
        flag = torch.tensor([1.0 if local else 0.0])
        try:
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        except self.lost_errors() as exc:
            log.warning("rank %d: lost contact with the group (%s); stopping", self.rank, _first_line(exc))
            return True
        return bool(flag.item() > 0)

    def stop_check(self, requested: Callable[[], bool], minutes: float | None) -> Callable[[], bool]:
        """A ``should_stop`` for :meth:`Trainer.run`: Ctrl-C on any rank or ``minutes`` on rank 0's clock."""
        deadline = time.monotonic() + minutes * 60 if minutes is not None else None

        def should_stop() -> bool:
            late = deadline is not None and time.monotonic() >= deadline and self.main
            return self.agree_to_stop(requested() or late)

        return should_stop


#: a single process
LOCAL = Group()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


@contextlib.contextmanager
def process_group(group: Group, device: torch.device) -> Iterator[Group]:
    """Join the process group (gloo on CPU, NCCL on CUDA) for the ``with`` block; nothing for one process."""
    if not group.distributed:
        yield group
        return
    import torch.distributed as dist

    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(group.device(device))
    dist.init_process_group(backend, rank=group.rank, world_size=group.world, timeout=TIMEOUT)
    try:
        yield group
    finally:
        with contextlib.suppress(Exception):  # a group whose peer died cannot always be torn down cleanly
            dist.destroy_process_group()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for the group's rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def launch(argv: Sequence[str], nproc: int) -> int:
    """Run ``python -m masque ARGV`` as ``nproc`` ranks of one group on this machine; wait for all.

    The ranks run in their own session: a Ctrl-C here is passed on once to each (they agree to
    stop after the same step and rank 0 saves); a second Ctrl-C is passed on again (stop sooner).
    When one rank dies, the others stop by themselves (see the module doc) and are killed after
    a grace period if they do not.

    Returns:
        0 when every rank exited cleanly.

    Raises:
        WorkerDiedError: a rank exited with an error or was killed (rank 0's last checkpoint is intact).
    """
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port()), "WORLD_SIZE": str(nproc),
           "LOCAL_WORLD_SIZE": str(nproc)}
    procs = [subprocess.Popen([sys.executable, "-m", "masque", *argv], start_new_session=True,
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}) for r in range(nproc)]

    def forward_sigint(signum: int, frame: FrameType | None) -> None:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)

    old = signal.signal(signal.SIGINT, forward_sigint)
    try:
        failed = _wait_all(procs)
    finally:
        signal.signal(signal.SIGINT, old)
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    if failed:
        what = ", ".join(f"rank {r} {_exit_text(code)}" for r, code in failed)
        raise WorkerDiedError(f"{what}; the other ranks stopped, and the model folder holds the last checkpoint "
                              "rank 0 saved: run the same command again (with any --nproc) to resume")
    return 0


def _wait_all(procs: list[subprocess.Popen]) -> list[tuple[int, int]]:
    """Wait until every rank exits (killing stragglers ``_GRACE`` s after a failure); ``(rank, code)`` of failures."""
    failed_at: float | None = None
    while any(p.poll() is None for p in procs):
        if failed_at is None and any(p.returncode not in (None, 0) for p in procs):
            failed_at = time.monotonic()
        if failed_at is not None and time.monotonic() - failed_at > _GRACE:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        time.sleep(0.1)
    return [(r, p.returncode) for r, p in enumerate(procs) if p.returncode != 0]


def _exit_text(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"

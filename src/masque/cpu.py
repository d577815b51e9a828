"""CPU thread settings for stages that run torch beside other busy threads or processes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@contextmanager
def torch_threads(n: int, device: torch.device | str = "cpu") -> Iterator[None]:
    """Run torch's CPU ops on ``n`` threads inside the block, restoring the count after.

    Where other threads or processes keep the cores busy (decoding, tracking, encoding, extract
    workers), torch's default of one thread per core makes its threads spin at barriers waiting
    for each other: measured on 2 cores, convert ran at 7.5 frames/s with 2 torch threads and 30
    with 1. No-op for a CUDA device.
    """
    # Imported here, not at the top: extract imports this module, and its worker processes
    # re-import the caller's main module, which should not cost each of them torch's import.
    import torch

    if torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)

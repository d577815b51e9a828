"""Adam's moments of stylize's trainers (fast style, CycleGAN) as safetensors, so a run resumes where it stopped.

Each tensor is named ``{optimiser key}/{parameter name}.{state field}`` (``g/g_ab.net.0.weight.exp_avg``):
names, not positions, so a file written by one run loads into the next even if parameter order moved.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import save as st_save
from torch import nn

from masque.atomic import atomic_write_bytes
from masque.models.io import read_safetensors


def save_moments(path: str | os.PathLike[str], model: nn.Module, opts: Mapping[str, torch.optim.Optimizer],
                 fmt: str) -> None:
    """Write every tensor of the optimisers' state (CPU, contiguous) atomically to ``path`` (``format`` = ``fmt``)."""
    names = {id(p): n for n, p in model.named_parameters()}
    moments: dict[str, torch.Tensor] = {}
    for key, opt in opts.items():
        for p, st in opt.state.items():
            for k, v in st.items():
                if isinstance(v, torch.Tensor):
                    moments[f"{key}/{names[id(p)]}.{k}"] = v.detach().cpu().reshape(v.shape).contiguous()
    atomic_write_bytes(Path(path), st_save(moments, {"format": fmt}))


def load_moments(path: str | os.PathLike[str], model: nn.Module, opts: Mapping[str, torch.optim.Optimizer]) -> bool:
    """Restore what :func:`save_moments` wrote; False (fresh moments) when ``path`` does not exist."""
    if not Path(path).is_file():
        return False
    tensors, _ = read_safetensors(Path(path))
    params = dict(model.named_parameters())
    for key, opt in opts.items():
        sd = opt.state_dict()
        index = {id(p): i for i, p in enumerate(opt.param_groups[0]["params"])}
        state: dict[int, dict[str, torch.Tensor]] = {}
        for name, value in tensors.items():
            group, _, rest = name.partition("/")
            pname, _, fieldname = rest.rpartition(".")
            if group == key and pname in params and id(params[pname]) in index:
                state.setdefault(index[id(params[pname])], {})[fieldname] = value
        sd["state"] = state
        opt.load_state_dict(sd)
    return True

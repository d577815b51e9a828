"""Saving model folders: weights, optimiser state and the model card, each written atomically.

The folder layout and the reading side (:func:`load_model`, the model card, the safetensors
checks) live in :mod:`masque.models.io` and :mod:`masque.models.card`; this module adds what only
training needs: writing a checkpoint, and Adam's moments (``optimizer.safetensors``) so a resumed
run continues the same loss curve.

Every file is written to a temporary name and renamed, ``state.json`` (the card) last, so a
folder always holds a card that matches complete weights. Nothing is ever pickled.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save as st_save
from torch import nn

from masque.atomic import atomic_write_bytes
from masque.errors import ModelError
from masque.models import SwapModel
from masque.models.card import CARD_VERSION, FORMAT, ModelCard
from masque.models.io import MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, read_card, read_safetensors

__all__ = ["load_optimizer", "read_state", "save_checkpoint"]

log = logging.getLogger(__name__)

#: version of the weights file's own metadata (the card has its own ``card_version``)
WEIGHTS_VERSION = 1


def save_checkpoint(model_dir: str | os.PathLike[str], model: SwapModel, optimizer: torch.optim.Optimizer | None,
                    state: dict[str, Any] | ModelCard) -> ModelCard:
    """Write weights, optimiser state and the model card atomically.

    Args:
        model_dir: the model folder (created if needed).
        model: the model whose weights are saved.
        optimizer: its optimiser, or ``None`` to save no moments.
        state: the card, or its fields as a dict (at least ``model``, ``step``, ``input_size`` and
            ``align``; see :class:`~masque.models.card.ModelCard`).

    Returns:
        The card written.

    Raises:
        ModelError: ``state`` is not a valid card (checked before anything is written).
        OutOfSpaceError: the disk is full; the previous checkpoint files are kept.
    """
    if isinstance(state, ModelCard):  # a card read from an older layout is written in this one
        card = dataclasses.replace(state, card_version=CARD_VERSION)
    else:
        card = ModelCard.from_json({**state, "format": FORMAT, "card_version": CARD_VERSION}, "the state to save")
    root = Path(model_dir)
    root.mkdir(parents=True, exist_ok=True)
    step = str(card.step)
    if optimizer is not None:
        tensors, hyper = _optimizer_tensors(model, optimizer)
        atomic_write_bytes(root / OPTIMIZER_FILE, st_save(tensors, {"format": FORMAT, "step": step,
                                                                     "param_groups": json.dumps(hyper)}))
    weights = {k: v.detach().to("cpu", copy=False).contiguous() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "version": str(WEIGHTS_VERSION), "model": model.name,
            "arch": json.dumps(model.arch.to_json()), "step": step}
    atomic_write_bytes(root / MODEL_FILE, st_save(weights, meta))
    atomic_write_bytes(root / STATE_FILE, (json.dumps(card.to_json(), indent=2) + "\n").encode())
    return card


def read_state(model_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The model card of ``model_dir`` as its JSON object (for resuming), or ``None`` when there is none.

    Raises:
        ModelError: the card is invalid or from a newer masque (see :func:`masque.models.io.read_card`).
    """
    card = read_card(model_dir)
    return None if card is None else card.to_json()


def _optimizer_tensors(model: SwapModel, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    hyper = [{k: v for k, v in g.items() if k != "params" and isinstance(v, (int, float, bool, tuple, list))}
             for g in optimizer.param_groups]
    return adam_moments(model, optimizer), hyper


def adam_moments(module: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """The optimiser's per-parameter tensors (Adam's moments, step) keyed ``<parameter name>.<key>``,
    on the CPU: what :func:`load_adam_moments` reads back. Shared by every trainer that saves Adam."""
    names = {id(p): n for n, p in module.named_parameters()}
    tensors: dict[str, torch.Tensor] = {}
    for param, st in optimizer.state.items():
        for key, value in st.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{names[id(param)]}.{key}"] = value.detach().to("cpu").reshape(value.shape).contiguous()
    return tensors


def load_adam_moments(path: str | os.PathLike[str], module: nn.Module, optimizer: torch.optim.Optimizer,
                      what: str = "this model") -> bool:
    """Restore what :func:`adam_moments` saved to the safetensors file ``path``; ``False`` when there is none.

    Raises:
        ModelError: the file is a pickle or damaged, or does not fit ``module``'s parameters.
    """
    path = Path(path)
    if not path.exists():
        return False
    tensors, _ = read_safetensors(path)
    index = {n: i for i, (n, _) in enumerate(module.named_parameters())}
    per_param: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        name, _, field = key.rpartition(".")
        if name not in index:
            raise ModelError(f"{path} has state for an unknown parameter {name!r}; delete it to restart Adam's moments")
        per_param.setdefault(index[name], {})[field] = value
    sd = optimizer.state_dict()
    sd["state"] = per_param
    try:
        optimizer.load_state_dict(sd)
    except (ValueError, RuntimeError, KeyError) as exc:
        raise ModelError(f"{path} does not fit {what} ({exc}); delete it to restart Adam's moments") from None
    return True


def load_optimizer(model_dir: str | os.PathLike[str], model: SwapModel, optimizer: torch.optim.Optimizer) -> bool:
    """Restore Adam's state saved beside the weights; ``False`` (fresh moments) when there is none.

    Raises:
        ModelError: the file is a pickle or damaged, or does not fit the model's parameters.
    """
    return load_adam_moments(Path(model_dir) / OPTIMIZER_FILE, model, optimizer)

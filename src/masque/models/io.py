"""Reading a model folder: the model card, the safetensors weights, and the model they make.

A model folder (``MODEL_DIR``, written by ``masque train``) holds:

- ``model.safetensors``: the encoder's and both decoders' weights; its metadata names the
  architecture and the step, so the file alone says what it is;
- ``optimizer.safetensors``: Adam's moments (read and written by ``masque.train.checkpoint``);
- ``state.json``: the :class:`~masque.models.card.ModelCard`.

Nothing is ever unpickled, and a file that is not safetensors (a ``torch.save`` pickle, say) is
refused before anything in it is interpreted: loading a model cannot run code.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import struct
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load

from masque.errors import ModelError
from masque.models.architectures import MODELS
from masque.models.card import ModelCard
from masque.models.swap import SwapModel

log = logging.getLogger(__name__)

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
#: the model card's file (its historical name)
STATE_FILE = "state.json"
_PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin", ".h5")


def read_card(model_dir: str | os.PathLike[str]) -> ModelCard | None:
    """The model card of ``model_dir``, or ``None`` when the folder holds no model yet.

    Raises:
        ModelError: ``state.json`` exists but is not valid JSON, not a masque model card, made by a
            newer masque, or has a missing or mistyped field.
    """
    path = Path(model_dir) / STATE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} is not valid JSON ({exc}); restore it or train into a new folder") from None
    return ModelCard.from_json(data, str(path))


def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; anything else is refused unread.

    Raises:
        ModelError: the file is missing, is a pickle / ``torch.save`` archive, or is not safetensors.
    """
    if not path.is_file():
        raise ModelError(f"{path} is missing; the model folder is incomplete (train again or restore it)")
    data = path.read_bytes()
    _check_safetensors_header(path, data)
    try:
        tensors = st_load(data)
        meta = _safetensors_metadata(data)
    except (SafetensorError, ValueError) as exc:
        raise ModelError(f"{path} is a damaged safetensors file ({exc}); restore it or train again") from None
    return tensors, meta


def _check_safetensors_header(path: Path, data: bytes) -> None:
    # a safetensors file is an 8-byte little-endian header length, then the JSON header: its first
    # byte is the length's low byte, 0x80 (pickle's PROTO opcode) for one header length in 256, so
    # only a file without the JSON brace at byte 8 is taken for a pickle
    looks_pickled = data[:1] == b"\x80" or data[:4] == b"PK\x03\x04"
    if looks_pickled and data[8:9] != b"{":
        raise ModelError(f"{path} is a pickle (torch.save) file, not safetensors; masque refuses pickles because "
                         "loading one can run arbitrary code. Convert it with safetensors or retrain.")
    if len(data) < 10:
        raise ModelError(f"{path} is too short to be a safetensors file ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8 or data[8:9] != b"{":
        raise ModelError(f"{path} is not a safetensors file (bad header); masque loads only safetensors weights")


def _safetensors_metadata(data: bytes) -> dict[str, str]:
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.get("__metadata__") or {}
    return {str(k): str(v) for k, v in meta.items()}


def _check_no_pickles(root: Path) -> None:
    pickles = sorted(p.name for p in root.iterdir() if p.suffix.lower() in _PICKLE_SUFFIXES)
    if pickles and not (root / MODEL_FILE).exists():
        raise ModelError(f"{root} holds {', '.join(pickles)} but no {MODEL_FILE}: pickle checkpoints are refused "
                         "(loading one can run arbitrary code); masque models are safetensors")


def load_model(model_dir: str | os.PathLike[str],
               device: str | torch.device = "cpu") -> tuple[SwapModel, ModelCard]:
    """Load a trained model for inference.

    Args:
        model_dir: a folder written by ``masque train``.
        device: where to put the model.

    Returns:
        ``(model, card)``: the :class:`SwapModel` in eval mode on ``device``, and its
        :class:`ModelCard` (step, input size, crop geometry, per-side colour shift, ...). When
        the weights and the card disagree on the step, the weights' step is the card's.

    Raises:
        ModelError: the folder or a file is missing, a file is a pickle or damaged, the card is
            invalid or from a newer masque, or the weights do not match the architecture it names.
    """
    root = Path(model_dir)
    if not root.is_dir():
        raise ModelError(f"model folder not found: {root}; train one with `masque train -A ... -B ... -m {root}`")
    _check_no_pickles(root)
    card = read_card(root)
    if card is None:
        raise ModelError(f"{root} holds no {STATE_FILE}: it is not a model folder written by `masque train`")
    tensors, meta = read_safetensors(root / MODEL_FILE)
    model = build_model(root, card, meta)
    _load_weights(root, model, tensors)
    step = int(meta.get("step", card.step))
    if step != card.step:
        log.warning("%s: weights are from step %d, %s says %d; using %d", root, step, STATE_FILE, card.step, step)
        card = dataclasses.replace(card, step=step)
    return model.to(device).eval(), card


def build_model(root: Path, card: ModelCard, meta: dict[str, str]) -> SwapModel:
    """A fresh model of the architecture the card and the weights' metadata name; checks they agree.

    Raises:
        ModelError: an unknown model type, or card, weights and this masque disagree on it.
    """
    name = card.model
    if name not in MODELS:
        raise ModelError(f"{root}: unknown model type {name!r}; this masque knows {', '.join(MODELS.names())}")
    if meta.get("model", name) != name:
        raise ModelError(f"{root}: {MODEL_FILE} holds a {meta.get('model')!r} model but {STATE_FILE} says {name!r}; "
                         "the folder is inconsistent, restore it or retrain")
    model = MODELS.create(name)
    stored = json.loads(meta["arch"]) if "arch" in meta else model.arch.to_json()
    if stored != model.arch.to_json() or card.input_size != model.input_size:
        raise ModelError(f"{root}: the {name!r} model there was built as {stored}, this masque's {name!r} is "
                         f"{model.arch.to_json()}; use the masque version that trained it")
    return model


def _load_weights(root: Path, model: SwapModel, tensors: dict[str, torch.Tensor]) -> None:
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    bad = sorted(k for k in set(own) & set(tensors) if own[k].shape != tensors[k].shape)
    if missing or extra or bad:
        raise ModelError(f"{root / MODEL_FILE} does not fit the {model.name!r} architecture (missing {missing[:3]}, "
                         f"unexpected {extra[:3]}, wrong shape {bad[:3]}); it is damaged or of another model")
    model.load_state_dict(tensors)

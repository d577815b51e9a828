"""Model folders: weights and optimiser state in safetensors, ``state.json`` beside them.

A model folder (``MODEL_DIR``) holds:

- ``model.safetensors``: the encoder's and both decoders' weights; its metadata names the
  architecture and the step, so the file alone says what it is;
- ``optimizer.safetensors``: Adam's moments per parameter, so a resumed run continues the same
  loss curve;
- ``state.json``: step, model, input size, the aligned-crop geometry (``align``), face sets,
  colour shift, training config and device.

Every file is written to a temporary name and renamed, ``state.json`` last. Nothing is ever
pickled, and a file that is not safetensors (a ``torch.save`` pickle, say) is refused before
anything in it is interpreted: loading a model cannot run code.
"""

from __future__ import annotations

import json
import logging
import os
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from masque.errors import ModelError
from masque.media.image import atomic_write_bytes
from masque.models import MODELS, SwapModel

log = logging.getLogger(__name__)

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
STATE_FILE = "state.json"
FORMAT = "masque-swap-model"
FORMAT_VERSION = 1
_PICKLE_SUFFIXES = (".pt", ".pth", ".ckpt", ".pkl", ".pickle", ".bin", ".h5")


def save_checkpoint(model_dir: str | os.PathLike[str], model: SwapModel, optimizer: torch.optim.Optimizer | None,
                    state: dict[str, Any]) -> None:
    """Write weights, optimiser state and ``state.json`` (with ``state["step"]``) atomically.

    Raises:
        OutOfSpaceError: the disk is full; the previous checkpoint files are kept.
    """
    root = Path(model_dir)
    root.mkdir(parents=True, exist_ok=True)
    step = str(int(state["step"]))
    if optimizer is not None:
        tensors, hyper = _optimizer_tensors(model, optimizer)
        atomic_write_bytes(root / OPTIMIZER_FILE, st_save(tensors, {"format": FORMAT, "step": step,
                                                                     "param_groups": json.dumps(hyper)}))
    weights = {k: v.detach().to("cpu", copy=False).contiguous() for k, v in model.state_dict().items()}
    meta = {"format": FORMAT, "version": str(FORMAT_VERSION), "model": model.name,
            "arch": json.dumps(model.arch.to_json()), "step": step}
    atomic_write_bytes(root / MODEL_FILE, st_save(weights, meta))
    full = {"format": FORMAT, "version": FORMAT_VERSION, **state}
    atomic_write_bytes(root / STATE_FILE, (json.dumps(full, indent=2) + "\n").encode())


def read_state(model_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``state.json`` of ``model_dir``, or ``None`` when the folder holds no model yet.

    Raises:
        ModelError: ``state.json`` exists but is not a masque model state.
    """
    path = Path(model_dir) / STATE_FILE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} is not valid JSON ({exc}); restore it or train into a new folder") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ModelError(f"{path} is not a masque model state (no format {FORMAT!r}); "
                         "train into an empty folder or one written by `masque train`")
    return state


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
    if data[:1] == b"\x80" or data[:4] == b"PK\x03\x04":
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


def load_model(model_dir: str | os.PathLike[str], device: str | torch.device = "cpu") -> tuple[SwapModel, dict]:
    """Load a trained model for inference.

    Args:
        model_dir: a folder written by ``masque train``.
        device: where to put the model.

    Returns:
        ``(model, state)``: the :class:`SwapModel` in eval mode on ``device``, and ``state.json``
        (keys include ``model``, ``step``, ``input_size``, ``align`` = ``{"centering", "coverage",
        "size"}``, ``facesets`` = ``[A path, B path]``, ``color_shift`` = ``{"a": [r, g, b], "b":
        [r, g, b]}`` (added to that side's faces, RGB in [0, 1], before they enter the model),
        ``mask``, ``device``).

    Raises:
        ModelError: the folder or a file is missing, a file is a pickle or damaged, or the weights
            do not match the architecture the state names.
    """
    root = Path(model_dir)
    if not root.is_dir():
        raise ModelError(f"model folder not found: {root}; train one with `masque train -A ... -B ... -m {root}`")
    _check_no_pickles(root)
    state = read_state(root)
    if state is None:
        raise ModelError(f"{root} holds no {STATE_FILE}: it is not a model folder written by `masque train`")
    tensors, meta = read_safetensors(root / MODEL_FILE)
    model = build_model(root, state, meta)
    _load_weights(root, model, tensors)
    step = int(meta.get("step", state.get("step", 0)))
    if step != int(state.get("step", step)):
        log.warning("%s: weights are from step %d, state.json says %s; using %d", root, step, state.get("step"), step)
        state["step"] = step
    return model.to(device).eval(), state


def build_model(root: Path, state: dict[str, Any], meta: dict[str, str]) -> SwapModel:
    """A fresh model of the architecture ``state`` and the weights' metadata name; checks they agree."""
    name = state.get("model")
    if name not in MODELS:
        raise ModelError(f"{root}: unknown model type {name!r}; this masque knows {', '.join(MODELS.names())}")
    if meta.get("model", name) != name:
        raise ModelError(f"{root}: {MODEL_FILE} holds a {meta.get('model')!r} model but {STATE_FILE} says {name!r}; "
                         "the folder is inconsistent, restore it or retrain")
    model = MODELS.create(name)
    stored = json.loads(meta["arch"]) if "arch" in meta else model.arch.to_json()
    if stored != model.arch.to_json() or int(state.get("input_size", model.input_size)) != model.input_size:
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


def _optimizer_tensors(model: SwapModel, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    names = {id(p): n for n, p in model.named_parameters()}
    tensors: dict[str, torch.Tensor] = {}
    for param, st in optimizer.state.items():
        for key, value in st.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{names[id(param)]}.{key}"] = value.detach().to("cpu").reshape(value.shape).contiguous()
    hyper = [{k: v for k, v in g.items() if k != "params" and isinstance(v, (int, float, bool, tuple, list))}
             for g in optimizer.param_groups]
    return tensors, hyper


def load_optimizer(model_dir: str | os.PathLike[str], model: SwapModel, optimizer: torch.optim.Optimizer) -> bool:
    """Restore Adam's state saved beside the weights; ``False`` (fresh moments) when there is none.

    Raises:
        ModelError: the file is a pickle or damaged, or does not fit the model's parameters.
    """
    path = Path(model_dir) / OPTIMIZER_FILE
    if not path.exists():
        return False
    tensors, _ = read_safetensors(path)
    index = {n: i for i, (n, _) in enumerate(model.named_parameters())}
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
        raise ModelError(f"{path} does not fit this model ({exc}); delete it to restart Adam's moments") from None
    return True

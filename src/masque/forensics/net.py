"""The fake detector network, its card, and reading and writing it as safetensors.

A small from-scratch CNN (no ImageNet weights exist here) on aligned ``size`` x ``size`` face
crops. Two heads share the trunk: a global logit (is this face blended?) and a logit map at 1/8
of the crop (where?), which the SBI masks supervise pixel by pixel; the map is the heat map that
``masque detect --report`` draws, not a post-hoc explanation.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from masque.atomic import atomic_path
from masque.errors import ModelError

WEIGHTS_NAME = "detector.safetensors"
CARD_VERSION = 1


@dataclass(frozen=True)
class DetectorCard:
    """What a detector is and how it was made (stored in the safetensors metadata and as card.json).

    Attributes:
        width: channels of the first stage (stages double up to ``8 * width``).
        size: side of the aligned input crop in pixels.
        centering: alignment template centering of the crops.
        threshold: score at or above which a face counts as fake.
        step: training steps done.
        sources: the real footage and face sets it was trained on.
        metrics: held-out numbers measured at training time (name -> value).
        calibration: ``(a, b)`` of the Platt scaling ``sigmoid(a * logit(raw) + b)`` of a face's raw
            score, fitted on self-blended validation faces (:mod:`masque.forensics.calibrate`);
            ``(1, 0)`` leaves scores raw (detectors from before calibration).
        warp: share of its training fakes that were self-warped rather than self-blended
            (:func:`masque.forensics.sbi.self_warp`; 0 for detectors from before).
        ema: decay of the exponential moving average of the training weights that these weights
            are (:mod:`masque.forensics.train`); 0: the training weights themselves (detectors from before).
    """

    width: int = 16
    size: int = 128
    centering: str = "face"
    threshold: float = 0.5
    step: int = 0
    sources: tuple[str, ...] = ()
    metrics: dict[str, float] = field(default_factory=dict)
    calibration: tuple[float, float] = (1.0, 0.0)
    warp: float = 0.0
    ema: float = 0.0
    version: int = CARD_VERSION

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "sources": list(self.sources), "calibration": list(self.calibration)}

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> DetectorCard:
        try:
            if int(data.get("version", 0)) != CARD_VERSION:
                raise ModelError(f"{source}: detector card version {data.get('version')!r}, this masque reads "
                                 f"version {CARD_VERSION}; retrain with `masque detect train`")
            return cls(width=int(data["width"]), size=int(data["size"]), centering=str(data["centering"]),
                       threshold=float(data["threshold"]), step=int(data["step"]),
                       sources=tuple(str(s) for s in data.get("sources", ())),
                       metrics={str(k): float(v) for k, v in dict(data.get("metrics", {})).items()},
                       calibration=_pair(data.get("calibration", (1.0, 0.0))),
                       warp=float(data.get("warp", 0.0)), ema=float(data.get("ema", 0.0)))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelError):
                raise
            raise ModelError(f"{source}: the detector card is incomplete or malformed ({exc}); "
                             "retrain with `masque detect train`") from None


def _pair(value: Any) -> tuple[float, float]:
    a, b = (float(v) for v in value)
    return a, b


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class DetectorNet(nn.Module):
    """Face crop -> (global logit, logit map).

    Input: ``(N, 3, S, S)`` ``float32`` RGB in [0, 1]. Output: ``(N,)`` logits and
    ``(N, S/8, S/8)`` logit maps. The first stage runs at full resolution, stride 1: blending
    boundaries and resampling traces are a pixel or two wide and a strided stem would alias them away.
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w = width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True))
        self.s1 = _block(w, w, 2)            # S/2
        self.s2 = _block(w, 2 * w, 2)        # S/4
        self.s3 = _block(2 * w, 4 * w, 2)    # S/8: the map
        self.s4 = _block(4 * w, 8 * w, 2)    # S/16: the global head
        self.map_head = nn.Conv2d(4 * w, 1, 1)
        self.head = nn.Linear(8 * w, 1)
        self.register_buffer("mean", torch.tensor([0.5, 0.45, 0.4]).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = (x - self.get_buffer("mean")) / 0.25
        f3 = self.s3(self.s2(self.s1(self.stem(x))))
        f4 = self.s4(f3)
        logit = self.head(f4.mean((2, 3))).squeeze(1)
        return logit, self.map_head(f3).squeeze(1)


def save_detector(path: str | os.PathLike[str], net: DetectorNet, card: DetectorCard) -> Path:
    """Write weights and card to one safetensors file (atomically), and the card beside it as JSON."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    meta = {"masque": "detector", "card": json.dumps(card.to_json())}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    with atomic_path(path.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(card.to_json(), indent=2) + "\n")
    return path


def weights_path(path: str | os.PathLike[str]) -> Path:
    """The weights file of a detector given as a file or as a training folder."""
    p = Path(path)
    return p / WEIGHTS_NAME if p.is_dir() else p


def load_detector(path: str | os.PathLike[str]) -> tuple[DetectorNet, DetectorCard]:
    """Read a detector written by :func:`save_detector` (a ``.safetensors`` file or its folder).

    Raises:
        ModelError: missing, not safetensors, not a masque detector, or of another shape.
    """
    from safetensors import SafetensorError, safe_open

    p = weights_path(path)
    if not p.is_file():
        raise ModelError(f"detector not found: {p}; give a file written by `masque detect train` or its folder")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{p} is not a readable safetensors file ({exc}); give a detector written by "
                         "`masque detect train`") from None
    if meta.get("masque") != "detector" or "card" not in meta:
        raise ModelError(f"{p} is safetensors but not a masque detector (no detector card); "
                         "give one written by `masque detect train`")
    card = DetectorCard.from_json(json.loads(meta["card"]), str(p))
    net = DetectorNet(card.width)
    try:
        net.load_state_dict(tensors)
    except RuntimeError as exc:
        raise ModelError(f"{p}: weights do not fit a width-{card.width} detector ({str(exc)[:200]}); "
                         "the file is damaged or from another version") from None
    return net.eval(), card


def default_detector_path() -> Path:
    """The detector shipped in the package (trained by ``masque detect train`` on the fixtures)."""
    return Path(__file__).resolve().parents[1] / "data" / WEIGHTS_NAME


def to_tensor(crops: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """``(N, S, S, 3)`` ``uint8`` RGB crops -> ``(N, 3, S, S)`` ``float32`` in [0, 1]."""
    arr = np.ascontiguousarray(np.stack(list(crops)) if isinstance(crops, list) else crops)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)

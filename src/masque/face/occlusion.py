"""The occlusion model: which pixels of a face are visible face, and which are something in front
of it (a hand, hair, glasses, a microphone) or not face at all.

A small U-Net (:class:`OcclusionNet`, about 0.1 M parameters) reads the face aligned on its own
crop (:data:`SIZE` px, ``face`` centering: brows to chin with the forehead) and gives, per pixel,
the probability of visible face. It is trained from scratch on the fixture faces with synthetic
occluders pasted over them (:mod:`masque.face.occluders`, :mod:`masque.face.occlusion_train`);
the trained weights ship in ``masque/data/occlusion.safetensors`` with ``occlusion.json`` (its
card, with the command that rebuilds it).

Callers never see the model's own crop: :meth:`OcclusionModel.masks` takes a frame, the faces'
landmarks and the crops (matrices and sizes) the caller works in, and returns the mask warped
into each of those crops (convert's model crop, or a box of the frame for the one-shot swap).

>>> model = OcclusionModel.load()                                # doctest: +SKIP
>>> visible = model.masks(frame, [landmarks], [matrix], 64)[0]   # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from masque.errors import ModelError
from masque.face.align import alignment_matrix

#: side of the model's aligned crop, in pixels
SIZE = 64
DATA = Path(__file__).resolve().parents[1] / "data"
WEIGHTS = DATA / "occlusion.safetensors"
CARD_VERSION = 1


@dataclass(frozen=True)
class OcclusionCard:
    """What an occlusion model is and how it was made (``occlusion.json``)."""

    width: int = 16
    size: int = SIZE
    centering: str = "face"
    threshold: float = 0.5
    steps: int = 0
    seed: int = 0
    train_people: tuple[str, ...] = ()
    held_out: tuple[str, ...] = ()
    command: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    version: int = CARD_VERSION

    def to_json(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["train_people"], d["held_out"] = list(self.train_people), list(self.held_out)
        return d

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> OcclusionCard:
        try:
            if int(data.get("version", 0)) != CARD_VERSION:
                raise ModelError(f"{source}: occlusion card version {data.get('version')!r}, this masque reads "
                                 f"{CARD_VERSION}; rebuild it with benchmarks/train_occlusion.py")
            return cls(width=int(data["width"]), size=int(data["size"]), centering=str(data["centering"]),
                       threshold=float(data["threshold"]), steps=int(data.get("steps", 0)),
                       seed=int(data.get("seed", 0)), train_people=tuple(data.get("train_people", ())),
                       held_out=tuple(data.get("held_out", ())), command=str(data.get("command", "")),
                       metrics={str(k): float(v) for k, v in dict(data.get("metrics", {})).items()})
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ModelError):
                raise
            raise ModelError(f"{source}: the occlusion card is incomplete or malformed ({exc}); "
                             "rebuild it with benchmarks/train_occlusion.py") from exc


def _conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class OcclusionNet(nn.Module):
    """A small U-Net: ``(N, 3, S, S)`` RGB in [0, 1] -> ``(N, 1, S, S)`` logits of visible face.

    ``S`` must be a multiple of 8. One thin layer (``width / 2`` channels) at full resolution, then
    levels of ``width``, ``2 width`` and ``3 width`` channels at 1/2, 1/4 and 1/8, and back up with
    skips: most of the work is at 1/2 resolution, which keeps a 64 px face to a few ms on a CPU.
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        c = [width // 2, width, 2 * width, 3 * width]
        self.enc = nn.ModuleList([
            _conv(3, c[0]),
            nn.Sequential(_conv(c[0], c[1]), _conv(c[1], c[1])),
            nn.Sequential(_conv(c[1], c[2]), _conv(c[2], c[2])),
            nn.Sequential(_conv(c[2], c[3]), _conv(c[3], c[3])),
        ])
        self.dec = nn.ModuleList([
            nn.Sequential(_conv(c[3] + c[2], c[2]), _conv(c[2], c[2])),
            nn.Sequential(_conv(c[2] + c[1], c[1]), _conv(c[1], c[1])),
            _conv(c[1] + c[0], c[0]),
        ])
        self.head = nn.Conv2d(c[0], 1, 1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        for block, skip in zip(self.dec, reversed(skips[:-1])):
            x = nn.functional.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], 1))
        return self.head(x)


def _fuse_batchnorm(net: OcclusionNet) -> OcclusionNet:
    """A copy of ``net`` (eval mode) with each BatchNorm folded into the convolution before it:
    the same function, a third less time on a CPU."""
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fast = copy.deepcopy(net).eval()
    for module in fast.modules():
        if (isinstance(module, nn.Sequential) and len(module) == 3 and isinstance(module[0], nn.Conv2d)
                and isinstance(module[1], nn.BatchNorm2d)):
            module[0] = fuse_conv_bn_eval(module[0], module[1])
            module[1] = nn.Identity()
    return fast


class OcclusionModel:
    """The trained :class:`OcclusionNet` with its card, ready to mask faces (CPU, eval mode)."""

    def __init__(self, net: OcclusionNet, card: OcclusionCard) -> None:
        self.net = net.eval()
        self.card = card
        self._fast = _fuse_batchnorm(net)

    @classmethod
    def load(cls, path: str | Path | None = None) -> OcclusionModel:
        """Read ``path`` (``occlusion.safetensors``, its card ``occlusion.json`` beside it); the
        shipped model when ``None``.

        Raises:
            ModelError: the weights or the card are missing, corrupt, or of another shape.
        """
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        weights = Path(path) if path is not None else WEIGHTS
        card_path = weights.with_suffix(".json")
        try:
            card = OcclusionCard.from_json(json.loads(card_path.read_text()), str(card_path))
            state = load_file(str(weights))
            net = OcclusionNet(card.width)
            net.load_state_dict(state)
        except (OSError, json.JSONDecodeError, SafetensorError, RuntimeError) as exc:
            detail = (str(exc).strip().splitlines() or [""])[0][:160]  # torch lists every key otherwise
            raise ModelError(f"cannot read the occlusion model {weights} ({type(exc).__name__}: {detail}); "
                             "reinstall masque or rebuild it with benchmarks/train_occlusion.py") from exc
        return cls(net, card)

    def save(self, path: str | Path) -> None:
        """Write the weights (safetensors) and the card (``.json`` beside them)."""
        from safetensors.torch import save_file

        from masque.atomic import atomic_path

        path = Path(path)
        with atomic_path(path) as tmp:
            save_file({k: v.contiguous() for k, v in self.net.state_dict().items()}, str(tmp))
        with atomic_path(path.with_suffix(".json")) as tmp:
            Path(tmp).write_text(json.dumps(self.card.to_json(), indent=2) + "\n")

    def matrix(self, landmarks: np.ndarray) -> np.ndarray:
        """The ``(2, 3)`` frame-to-model-crop matrix of a face with ``(68, 2)`` ``landmarks``."""
        return alignment_matrix(landmarks, self.card.size, self.card.centering)  # type: ignore[arg-type]

    @torch.inference_mode()
    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Visible-face probability of aligned crops.

        Args:
            crops: ``(N, S, S, 3)`` ``uint8`` RGB faces aligned by :meth:`matrix` (``S`` = card size).

        Returns:
            ``(N, S, S)`` ``float32`` in [0, 1]: 1 on visible face, 0 on occluders and off the face.
        """
        if crops.ndim != 4 or crops.shape[1:] != (self.card.size, self.card.size, 3):
            from masque.errors import ShapeError

            raise ShapeError(f"crops must be (N, {self.card.size}, {self.card.size}, 3) uint8, got {crops.shape}")
        x = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float().div_(255)
        return torch.sigmoid(self._fast(x))[:, 0].numpy()

    def align(self, frame: np.ndarray, landmarks: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """The model's crops of the faces with these ``(68, 2)`` landmarks in the RGB ``uint8`` ``frame``:
        ``((N, S, S, 3) uint8, N frame-to-crop matrices)``."""
        s = self.card.size
        own = [self.matrix(lm) for lm in landmarks]
        crops = [cv2.warpAffine(frame, m, (s, s), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT101) for m in own]
        return np.stack(crops) if crops else np.zeros((0, s, s, 3), np.uint8), own

    @staticmethod
    def warp(prob: np.ndarray, own: np.ndarray, matrix: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
        """Warp one ``(S, S)`` probability map from the model's crop (frame-to-crop matrix ``own``) into
        the caller's crop (frame-to-crop ``matrix``, side ``size`` or ``(width, height)``); 0 where
        the model's crop does not reach."""
        to_frame = cv2.invertAffineTransform(np.asarray(own, np.float64))
        m = np.asarray(matrix, np.float64)
        chain = m[:, :2] @ to_frame  # model crop -> frame -> caller's crop
        chain[:, 2] += m[:, 2]
        dsize = (size, size) if isinstance(size, int) else size
        return cv2.warpAffine(prob, chain, dsize, flags=cv2.INTER_LINEAR, borderValue=0.0)

    def masks(self, frame: np.ndarray, landmarks: Sequence[np.ndarray], matrices: Sequence[np.ndarray],
              size: int | tuple[int, int]) -> list[np.ndarray]:
        """The visible-face probability of each face, warped into the caller's crop.

        Args:
            frame: ``(H, W, 3)`` ``uint8`` RGB.
            landmarks: per face, ``(68, 2)`` landmarks in ``frame``'s pixels.
            matrices: per face, the ``(2, 3)`` frame-to-crop matrix of the caller's crop.
            size: that crop's side, or its ``(width, height)``.

        Returns:
            Per face, a ``float32`` ``(h, w)`` array in [0, 1] in the caller's crop.
        """
        if not landmarks:
            return []
        crops, own = self.align(frame, landmarks)
        return [self.warp(p, o, m, size) for p, o, m in zip(self.predict(crops), own, matrices)]

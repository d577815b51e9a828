"""Losses on fixed, pretrained networks: VGG19 features (perceptual) and dlib's face descriptor (identity).

Perceptual (faceswap-GAN's recipe, with VGG19 in place of VGGFace): output and target, both
multiplied by the landmark mask, go through VGG19; at each of :data:`LAYERS` the feature maps are
instance-normalised (per image and channel: zero mean, unit variance over the map) and their mean
absolute difference is weighted and summed. Instance normalisation makes every layer count by
the pattern it sees rather than by its activation scale, which differs by orders of magnitude.

Identity: each reconstruction (pasted into its target face with the landmark mask) and its real
target face are resampled to dlib's 150 px chip geometry with one fixed affine map (the alignment
template's landmarks put through ``dlib.get_face_chip``) and described by dlib's ResNet
(:mod:`masque.face.resnet`, differentiable); the loss is the distance of the two descriptors, the
role VGGFace plays in faceswap-GAN (a perceptual loss on the reconstruction). It makes each decoder
draw what tells its person apart, which the swaps then carry. It is not put on the swaps against
the person's mean descriptor: a swap has no real face to hold it, and within 50 steps the decoders
learnt saturated magenta-green patterns that dlib's network reads as the person (distance 0.1).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from masque.face.align import template_points
from masque.face.resnet import CHIP_SIZE, DlibFaceResNet, load_face_net, make_chip
from masque.models.vgg import LAYERS as VGG_LAYERS
from masque.models.vgg import VGG19, load_vgg19

#: VGG19 layers of the perceptual loss and their weights (faceswap-GAN's 0.01 / 0.1 / 0.3 growth)
LAYERS: tuple[tuple[str, float], ...] = (("block1_relu2", 0.01), ("block2_relu2", 0.1), ("block3_relu2", 0.3))


def instance_norm(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``(N, C, H, W)`` -> the same, each map at zero mean and unit standard deviation (float32)."""
    x = x.float()
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = x.var(dim=(2, 3), keepdim=True, unbiased=False).add(eps).sqrt()
    return (x - mean) / std


class PerceptualLoss(nn.Module):
    """Weighted distance of instance-normalised VGG19 features.

    Args:
        vgg: a :class:`~masque.models.vgg.VGG19` reaching the deepest of ``layers``; default: loaded.
        layers: ``(name, weight)`` pairs.
    """

    def __init__(self, vgg: VGG19 | None = None, layers: tuple[tuple[str, float], ...] = LAYERS) -> None:
        super().__init__()
        deepest = max((name for name, _ in layers), key=VGG_LAYERS.index)
        self.vgg = vgg if vgg is not None else load_vgg19(deepest)
        self.layers = layers

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar float32 distance of ``pred`` and ``target``, ``(N, 3, H, W)`` RGB in [0, 1].

        Gradients flow to ``pred``; ``target`` goes through the network without a graph.
        """
        names = [name for name, _ in self.layers]
        fp = self.vgg(pred, names)
        with torch.no_grad():
            ft = self.vgg(target, names)
        total = torch.zeros((), device=pred.device)
        for name, weight in self.layers:
            total = total + weight * (instance_norm(fp[name]) - instance_norm(ft[name])).abs().mean()
        return total


def chip_grid(coverage: float) -> torch.Tensor:
    """The ``(1, 150, 150, 2)`` ``grid_sample`` grid that resamples a model crop to dlib's face chip.

    The grid is in normalised coordinates, so it serves a model crop of any side. A model crop
    (the ``face`` alignment's central ``coverage``) puts the template
    landmarks at fixed places; ``dlib.get_face_chip`` of those landmarks, applied to an image whose
    red and green channels hold x and y, gives each chip pixel's source position, fitted by one
    affine map (least squares) so the grid is smooth.
    """
    res = 256
    pts = template_points(res, "face", coverage)  # landmarks 17..67 in a res x res model crop
    full = np.concatenate([np.repeat(pts[:1], 17, axis=0), pts])  # jaw points: unused by dlib's chip fit
    yy, xx = np.mgrid[0:res, 0:res]
    coords = np.stack([xx, yy, np.zeros_like(xx)], axis=-1).clip(0, 255).astype(np.uint8)
    chip = make_chip(coords, full).astype(np.float64)
    v, u = np.mgrid[0:CHIP_SIZE, 0:CHIP_SIZE]
    inside = ((chip[..., 0] > 1) & (chip[..., 0] < 254) & (chip[..., 1] > 1) & (chip[..., 1] < 254)).ravel()
    design = np.stack([u.ravel(), v.ravel(), np.ones(u.size)], axis=1)[inside]
    fit, *_ = np.linalg.lstsq(design, chip[..., :2].reshape(-1, 2)[inside], rcond=None)
    src = np.stack([u, v, np.ones_like(u)], axis=-1).reshape(-1, 3) @ fit  # (150*150, 2) crop pixels
    norm = (src + 0.5) / res * 2 - 1  # align_corners=False convention
    return torch.from_numpy(norm.reshape(1, CHIP_SIZE, CHIP_SIZE, 2)).float()


class IdentityLoss(nn.Module):
    """Distance of dlib face descriptors to a person's mean descriptor.

    Args:
        coverage: the model crop's ``face`` coverage (any crop side works).
        net: dlib's ResNet; default: loaded from the pinned asset.
    """

    def __init__(self, coverage: float, net: DlibFaceResNet | None = None) -> None:
        super().__init__()
        self.net = net if net is not None else DlibFaceResNet(load_face_net())
        self.net.requires_grad_(False).eval()
        self.register_buffer("grid", chip_grid(coverage), persistent=False)
        self.grid: torch.Tensor

    def chips(self, faces: torch.Tensor) -> torch.Tensor:
        """``(N, 3, S, S)`` RGB [0, 1] model crops -> ``(N, 3, 150, 150)`` chips, RGB 0..255."""
        grid = self.grid.to(faces.device).expand(len(faces), -1, -1, -1)
        return F.grid_sample(faces.float(), grid, mode="bilinear", padding_mode="border", align_corners=False) * 255

    def embed(self, faces: torch.Tensor) -> torch.Tensor:
        """``(N, 128)`` float32 descriptors of ``(N, 3, S, S)`` RGB [0, 1] model crops (differentiable)."""
        return self.net(self.chips(faces)).float()

    @torch.no_grad()
    def mean_embedding(self, faces: torch.Tensor, batch: int = 32) -> torch.Tensor:
        """The mean descriptor ``(128,)`` of many ``(N, 3, S, S)`` faces, computed in batches."""
        parts = [self.embed(faces[i:i + batch]) for i in range(0, len(faces), batch)]
        return torch.cat(parts).mean(0)

    def forward(self, faces: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
        """Mean Euclidean distance of ``faces``' descriptors to ``mean`` (scalar, float32)."""
        return (self.embed(faces) - mean).norm(dim=1).mean()

    def between(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean descriptor distance of ``pred`` to ``target``, face by face (scalar, float32).

        Both ``(N, 3, S, S)`` RGB [0, 1]; gradients flow to ``pred``, ``target`` has none.
        """
        with torch.no_grad():
            want = self.embed(target)
        return (self.embed(pred) - want).norm(dim=1).mean()

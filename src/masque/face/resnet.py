"""dlib's ResNet face descriptor in PyTorch, with the weights read from dlib's own ``.dat``.

masque's identity embedding is dlib's ``dlib_face_recognition_resnet_model_v1`` (128-d,
Euclidean distance, 0.6 = same person). dlib runs it at about 100 ms per face on a CPU without
BLAS; :class:`FaceEmbedder` runs the same network in PyTorch, batched and channels-last, and
matches dlib's descriptors to about 1e-6.

:func:`load_face_net` parses the ``.dat`` file with :mod:`masque.face.dlib_dnn` (the parser is
the source of truth), checks it is exactly the network of dlib's ``dnn_face_recognition_ex.cpp``
and caches the parse as safetensors (never pickle) in ``assets.cache_dir() / "converted"``.
:class:`DlibFaceResNet` is the ``torch.nn.Module``; :func:`make_chip` aligns a face as dlib does.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import dlib
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from masque import assets
from masque.errors import InvalidMediaError, ModelError
from masque.face.dlib_dnn import DlibLayer, DlibNet, load_net, parse_dlib_net, save_net

#: side of the square RGB face chips the network takes
CHIP_SIZE = 150
#: length of a descriptor
EMBEDDING_SIZE = 128
#: name of the cached parse under ``assets.cache_dir() / "converted"``
CACHE_NAME = "dlib_resnet_v1.safetensors"
# bump when the cache layout changes, so stale caches are re-parsed instead of misread
_CACHE_FORMAT = "masque-dlib-net-1"
_FETCH_HINT = ("it must be dlib_face_recognition_resnet_model_v1.dat; delete it and fetch it "
               "again with masque.assets.fetch('face_recognition_resnet')")

# (filters, residual blocks, whether the first block halves the resolution) per level, input
# side first: alevel4 ... alevel0 of dlib's dnn_face_recognition_ex.cpp
_LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


def _con(filters: int, inputs: int, size: int, stride: int) -> list[tuple[Any, ...]]:
    """Signatures of ``affine<con<...>>``; dlib pads ``size // 2`` at stride 1, else 0."""
    pad = size // 2 if stride == 1 else 0
    return [("con", filters, size, size, stride, stride, pad, pad, ("bias", (filters,)),
             ("weight", (filters, inputs, size, size))),
            ("affine", ("beta", (filters,)), ("gamma", (filters,)))]


def _expected_signature() -> list[tuple[Any, ...]]:
    """dlib's face recognition network as layer signatures (:meth:`DlibLayer.signature`),
    input side first."""
    sig = [*_con(32, 3, 7, 2), ("relu",), ("max_pool", 3, 3, 2, 2, 0, 0)]
    channels = 32
    for filters, blocks, first_down in _LEVELS:
        for b in range(blocks):
            down = first_down and b == 0
            # residual: tag1, block (con, affine, relu, con, affine), add_prev1, relu; the down
            # variant halves in the first con and adds tag2, skip1 and a 2x2 avg_pool of the
            # block's input (the shortcut) before add_prev2
            sig += [("tag",), *_con(filters, channels, 3, 2 if down else 1), ("relu",),
                    *_con(filters, filters, 3, 1)]
            sig += [("tag",), ("tag",), ("avg_pool", 2, 2, 2, 2, 0, 0)] if down else []
            sig += [("add_prev",), ("relu",)]
            channels = filters
    fc = ("fc", EMBEDDING_SIZE, 0, ("weight", (channels, EMBEDDING_SIZE)))
    return [*sig, ("avg_pool", 0, 0, 1, 1, 0, 0), fc]


def check_face_net(net: DlibNet, source: str) -> None:
    """Raise :class:`ModelError` unless ``net`` is exactly dlib's face recognition ResNet:
    every layer's kind, settings and parameter shapes, and a 150x150 input."""
    found = [layer.signature() for layer in net.layers]
    expected = _expected_signature()
    if net.input_size != (CHIP_SIZE, CHIP_SIZE) or found != expected:
        diff = next((i for i, (a, b) in enumerate(zip(found, expected)) if a != b),
                    min(len(found), len(expected)))
        got = found[diff] if diff < len(found) else "the end"
        want = expected[diff] if diff < len(expected) else "the end"
        raise ModelError(
            f"{source}: not dlib's face recognition ResNet: input {net.input_size}, "
            f"{len(found)} layers; layer {diff} is {got}, expected {want}; {_FETCH_HINT}"
        )


def _param(array: np.ndarray) -> nn.Parameter:
    return nn.Parameter(torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)),
                        requires_grad=False)


def _folded_conv(con: DlibLayer, affine: DlibLayer) -> nn.Conv2d:
    """dlib's ``affine<con<...>>`` as one conv: scale the filters and shift the bias.

    Folding the frozen batch norm saves a full pass over every activation map; done in float64
    so the only rounding is the final cast to float32.
    """
    weight = con.arrays["weight"].astype(np.float64)
    bias = con.arrays.get("bias", np.zeros(weight.shape[0])).astype(np.float64)
    gamma, beta = (affine.arrays[k].astype(np.float64) for k in ("gamma", "beta"))
    a = con.attrs
    # on the meta device: no memory and no random init for weights replaced at once
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], (int(a["nr"]), int(a["nc"])),
                     stride=(int(a["stride_y"]), int(a["stride_x"])),
                     padding=(int(a["pad_y"]), int(a["pad_x"])), device="meta")
    conv.weight = _param(weight * gamma[:, None, None, None])
    conv.bias = _param(bias * gamma + beta)
    return conv


def _add_zero_extended(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's ``add_prev`` of tensors of different shapes (``tt::add``): the result takes the
    larger size in every dimension and a value missing from one input counts as zero.

    Down blocks need it twice: the block's output has more channels than the pooled shortcut,
    and from 8x8 on, the 3x3/2 unpadded conv gives a smaller map than the 2x2/2 pool (8 -> 3
    vs 4, then 4 -> 1 vs 2); the smaller map sits in the top-left corner.
    """
    shape = [max(x, y) for x, y in zip(a.shape, b.shape)]

    def extend(t: torch.Tensor) -> torch.Tensor:
        c, h, w = (shape[i] - t.shape[i] for i in (1, 2, 3))
        return F.pad(t, (0, w, 0, h, 0, c)) if c or h or w else t

    return extend(a) + extend(b)


class _Residual(nn.Module):
    """``relu(add_prev(block(x), shortcut(x)))``; the shortcut is ``x``, or for a down block a
    2x2/2 average pool of ``x`` (dlib's ``ares`` and ``ares_down``)."""

    def __init__(self, conv1: nn.Conv2d, conv2: nn.Conv2d, down: bool) -> None:
        super().__init__()
        self.conv1, self.conv2, self.down = conv1, conv2, down

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.relu(self.conv1(x), inplace=True))
        if self.down:
            return F.relu(_add_zero_extended(y, F.avg_pool2d(x, 2, 2)), inplace=True)
        return F.relu(y.add_(x), inplace=True)


class DlibFaceResNet(nn.Module):
    mean: torch.Tensor  # a buffer, registered in __init__
    """dlib's face recognition ResNet (``dnn_face_recognition_ex.cpp``) in PyTorch.

    Input: ``(N, 3, 150, 150)`` float RGB in ``[0, 255]`` (any memory format; channels-last is
    fastest on CPU). Output: ``(N, 128)`` float descriptors, not normalized, as dlib returns them.
    """

    def __init__(self, net: DlibNet, source: str = "<net>") -> None:
        super().__init__()
        check_face_net(net, source)
        # layers that carry parameters, in file order; the structure is known from the check
        params = iter([layer for layer in net.layers if layer.kind in ("con", "affine")])
        self.stem = _folded_conv(next(params), next(params))
        blocks: list[nn.Module] = []
        for _filters, count, first_down in _LEVELS:
            for b in range(count):
                conv1 = _folded_conv(next(params), next(params))
                blocks.append(_Residual(conv1, _folded_conv(next(params), next(params)),
                                        down=first_down and b == 0))
        self.blocks = nn.Sequential(*blocks)
        fc = net.layers[-1].arrays["weight"]  # dlib multiplies x @ W with W (inputs, outputs)
        self.fc = nn.Linear(fc.shape[0], fc.shape[1], bias=False, device="meta")
        self.fc.weight = _param(fc.T)
        self.register_buffer("mean", torch.tensor(net.input_mean).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) * (1.0 / 256.0)  # dlib's input_rgb_image: (pixel - mean) / 256
        x = F.max_pool2d(F.relu(self.stem(x), inplace=True), 3, 2)
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))  # avg_pool_everything, then fc_no_bias



def load_face_net(source: Path | None = None, cache: Path | None = None) -> DlibNet:
    """dlib's face recognition network, from the safetensors cache or parsed from ``source``.

    The cache is used only if it was made from a file of the same name, size and mtime and
    passes :func:`check_face_net`; otherwise ``source`` is parsed and the cache rewritten.

    Args:
        source: the ``.dat`` file; default: the pinned ``face_recognition_resnet`` asset.
        cache: the safetensors cache; default: ``assets.cache_dir() / "converted" / CACHE_NAME``.

    Raises:
        ModelError: ``source`` is not dlib's face recognition ResNet.
        AssetError: the default asset cannot be fetched.
    """
    source = Path(source) if source is not None else assets.fetch("face_recognition_resnet")
    cache = Path(cache) if cache is not None else assets.cache_dir() / "converted" / CACHE_NAME
    st = source.stat()
    stamp = {"format": _CACHE_FORMAT, "source": source.name,
             "source_size": str(st.st_size), "source_mtime_ns": str(st.st_mtime_ns)}
    net = load_net(cache, stamp)
    if net is not None:
        try:
            check_face_net(net, str(cache))
            return net
        except ModelError:
            pass  # a damaged or foreign cache: fall back to the source of truth
    net = parse_dlib_net(source.read_bytes(), str(source), hint=_FETCH_HINT)
    check_face_net(net, str(source))
    with contextlib.suppress(OSError):  # a cache that cannot be written (read-only, full disk) only costs a re-parse
        save_net(net, cache, stamp)
    return net


# ----------------------------------------------------------------------------------------------
# public API


def make_chip(image_rgb: np.ndarray, landmarks68: np.ndarray) -> np.ndarray:
    """The aligned face chip dlib's descriptor expects, made by ``dlib.get_face_chip``.

    Args:
        image_rgb: ``(H, W, 3)`` ``uint8`` RGB image.
        landmarks68: ``(68, 2)`` float ``(x, y)`` iBUG landmarks in ``image_rgb``'s pixels.

    Returns:
        ``(150, 150, 3)`` ``uint8`` RGB chip (``size=150``, ``padding=0.25``, dlib's defaults).

    Raises:
        InvalidMediaError: the image or the landmarks are not of those shapes and types.
    """
    image = np.asarray(image_rgb)
    points = np.asarray(landmarks68, dtype=np.float64)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InvalidMediaError(f"make_chip needs an (H, W, 3) uint8 RGB image; received "
                                f"shape {image.shape} dtype {image.dtype}")
    if points.shape != (68, 2) or not np.isfinite(points).all():
        raise InvalidMediaError(f"make_chip needs (68, 2) finite landmarks; received shape "
                                f"{points.shape}")
    # full_object_detection holds integer points; dlib rounds (floor(v + 0.5)) when converting
    xy = np.floor(points + 0.5).astype(np.int64)
    rect = dlib.rectangle(*map(int, xy.min(axis=0)), *map(int, xy.max(axis=0)))
    parts = dlib.points([dlib.point(int(x), int(y)) for x, y in xy])
    det = dlib.full_object_detection(rect, parts)
    return dlib.get_face_chip(np.ascontiguousarray(image), det, size=CHIP_SIZE, padding=0.25)


class FaceEmbedder:
    """dlib's 128-d face descriptor computed by PyTorch (``FaceEmbedder().embed_chips(chips)``).

    Descriptors match dlib's ``face_recognition_model_v1.compute_face_descriptor`` to about
    1e-6 in float32; a Euclidean distance below ``masque.face.types.SAME_PERSON_THRESHOLD``
    (0.6) means the same person.

    Args:
        device: a torch device (``"cpu"``, ``"cuda"``, ...).
        bf16: run under bfloat16 autocast: about 1.4x faster on CPUs with AVX512-BF16, but the
            descriptors then differ from dlib's by up to about 3e-3 per component (0.011
            Euclidean on the test faces, against the 0.6 threshold). Default: float32.
        batch_size: chips per forward pass; bounds memory for long inputs.

    Speed depends on batching (about 2x per face from batch 1 to 16) and on threads: torch
    uses one thread per core, and when other processes keep those cores busy its threads wait
    for each other; a process that shares the CPU should call ``torch.set_num_threads(1)``.
    """

    def __init__(self, device: str = "cpu", *, bf16: bool = False, batch_size: int = 32) -> None:
        self.device = torch.device(device)
        self.bf16 = bf16
        self.batch_size = max(1, int(batch_size))
        model = DlibFaceResNet(load_face_net()).eval().to(self.device)
        # NHWC: oneDNN's fastest conv layout, and chips already arrive as (N, H, W, 3)
        self.model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # stubs lack it

    def embed_chips(self, chips: np.ndarray) -> np.ndarray:
        """Descriptors of aligned face chips.

        Args:
            chips: ``(N, 150, 150, 3)`` ``uint8`` RGB chips from :func:`make_chip` (or
                ``dlib.get_face_chip``); a single ``(150, 150, 3)`` chip is taken as ``N = 1``.

        Returns:
            ``(N, 128)`` ``float32`` descriptors, not normalized (about 1.4 long for faces),
            as dlib returns them.

        Raises:
            InvalidMediaError: ``chips`` is not of that shape and dtype.
        """
        chips = np.asarray(chips)
        if chips.ndim == 3:
            chips = chips[None]
        if chips.dtype != np.uint8 or chips.ndim != 4 or chips.shape[1:] != (150, 150, 3):
            raise InvalidMediaError(f"embed_chips needs (N, 150, 150, 3) uint8 RGB chips from "
                                    f"make_chip; received shape {chips.shape} dtype {chips.dtype}")
        out = np.empty((len(chips), EMBEDDING_SIZE), dtype=np.float32)
        for start in range(0, len(chips), self.batch_size):
            batch = chips[start : start + self.batch_size]
            if not (batch.flags.c_contiguous and batch.flags.writeable):  # torch wants both
                batch = batch.copy()
            out[start : start + len(batch)] = self._forward(batch)
        return out

    @torch.inference_mode()
    def _forward(self, batch: np.ndarray) -> np.ndarray:
        # (N, H, W, 3) viewed as (N, 3, H, W) is already channels-last: no copy before .float()
        x = torch.from_numpy(batch).to(self.device).permute(0, 3, 1, 2).float()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            y = self.model(x)
        return y.float().cpu().numpy()

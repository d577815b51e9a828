"""A reader of dlib's binary DNN serialization, and a safetensors cache of what it reads.

dlib saves a network (``dlib::serialize(net)``) in its own format (``dlib/serialize.h``):
integers are a control byte (bit 7: negative, low 4 bits: byte count) then that many
little-endian bytes; floats are an integer mantissa and exponent; bools are ASCII ``'0'``/``'1'``;
strings are a length then the bytes; tensors (``dlib/dnn/tensor.h``) are version 2, four dims,
then raw little-endian float32. Each layer writes a version string (``con_4``, ``affine_``...)
then its settings and parameters (``dlib/dnn/layers.h``, ``input.h``, ``loss.h``), and the
layer wrappers of ``dlib/dnn/core.h`` nest them (see :func:`parse_dlib_net`).

Only the layers and the loss of metric networks such as dlib's face recognition ResNet are
read; anything else is a :class:`~masque.errors.ModelError`. Nothing is unpickled or executed.
"""

from __future__ import annotations

import builtins  # the reader's ``int()`` method shadows the type inside its class
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import safetensors
import safetensors.numpy

from masque.atomic import atomic_path
from masque.errors import ModelError

# dlib's float_details marks non-finite values with these exponents (dlib/float_details.h)
_EXP_INF, _EXP_NINF, _EXP_NAN = 32000, 32001, 32002
_HINT = "the file is damaged or is not a dlib network; download it again"


# ----------------------------------------------------------------------------------------------
# dlib's serialization primitives


class _Reader:
    """Reads dlib's serialized primitives from a byte buffer, tracking the offset for errors."""

    def __init__(self, data: bytes, source: str, hint: str) -> None:
        self.data = memoryview(data)
        self.pos = 0
        self.source, self.hint = source, hint

    def error(self, what: str) -> ModelError:
        return ModelError(
            f"{self.source}: malformed dlib network file at byte {self.pos} of {len(self.data)}: "
            f"{what}; {self.hint}"
        )

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise self.error(f"needs {n} more bytes but the file ends")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int(self) -> int:
        """A dlib integer: one control byte (bit 7 = negative, low 4 bits = byte count), then
        that many little-endian magnitude bytes."""
        control = self.take(1)[0]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise self.error(f"bad integer control byte 0x{control:02x}")
        value = int.from_bytes(self.take(size), "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        """A dlib float: integer mantissa then integer exponent, value = mantissa * 2**exponent."""
        mantissa, exponent = self.int(), self.int()
        if exponent in (_EXP_INF, _EXP_NINF, _EXP_NAN):
            return {_EXP_INF: float("inf"), _EXP_NINF: float("-inf")}.get(exponent, float("nan"))
        try:
            return math.ldexp(float(mantissa), exponent)
        except OverflowError:
            raise self.error(f"float {mantissa} * 2**{exponent} out of range") from None

    def bool(self) -> bool:
        """dlib writes bools as the ASCII characters '1' and '0'."""
        ch = bytes(self.take(1))
        if ch not in (b"0", b"1"):
            raise self.error(f"expected a bool ('0' or '1'), found {ch!r}")
        return ch == b"1"

    def string(self) -> str:
        n = self.int()
        if not 0 <= n <= 256:  # every name dlib writes here is short; this catches misreads
            raise self.error(f"implausible string length {n}")
        return bytes(self.take(n)).decode("latin-1")

    def peek_string(self) -> str | None:
        """The string at the current position if one plausibly starts there, else ``None``."""
        start = self.pos
        try:
            text = self.string()
        except ModelError:
            return None
        finally:
            self.pos = start
        return text if text.isprintable() else None

    def version(self, expected: set[builtins.int], what: str) -> builtins.int:
        v = self.int()
        if v not in expected:
            raise self.error(f"{what} version {v}, expected one of {sorted(expected)}")
        return v

    def tensor(self) -> np.ndarray:
        """A dlib ``resizable_tensor``: version 2, dims (n, k, nr, nc), little-endian float32."""
        self.version({2}, "tensor")
        shape = self._shape()
        raw = self.take(4 * math.prod(shape))
        # astype copies: the arrays own writable memory instead of viewing the file's bytes
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def alias_tensor(self) -> tuple[builtins.int, builtins.int, builtins.int, builtins.int]:
        """A dlib ``alias_tensor``: only the shape of a view into a layer's params."""
        self.version({1}, "alias_tensor")
        return self._shape()

    def _shape(self) -> tuple[builtins.int, builtins.int, builtins.int, builtins.int]:
        n, k, nr, nc = (self.int() for _ in range(4))
        if min(n, k, nr, nc) < 0:
            raise self.error(f"negative tensor shape {(n, k, nr, nc)}")
        return n, k, nr, nc


# ----------------------------------------------------------------------------------------------
# layers


@dataclass
class DlibLayer:
    """One layer of a parsed dlib network.

    Attributes:
        kind: ``con``, ``affine``, ``relu``, ``max_pool``, ``avg_pool``, ``add_prev``, ``fc`` or
            ``tag`` (dlib's tag and skip layers serialize identically, so both read as ``tag``).
        attrs: integer hyper-parameters (filter sizes, strides, paddings, ...).
        arrays: ``float32`` parameters: ``con``: ``weight`` (out, in, kh, kw) and ``bias`` (out,);
            ``affine``: ``gamma`` and ``beta`` (channels,); ``fc``: ``weight`` (inputs, outputs).
    """

    kind: str
    attrs: dict[str, int] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def signature(self) -> tuple[Any, ...]:
        """The kind, the shape-defining attrs and the array shapes: what must match a network
        definition, e.g. ``("con", 32, 7, 7, 2, 2, 0, 0, ("bias", (32,)), ("weight", (...)))``.
        """
        keys = {"con": ("filters", "nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x"),
                "max_pool": ("nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x"),
                "avg_pool": ("nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x"),
                "fc": ("outputs", "has_bias")}.get(self.kind, ())
        shapes = tuple((name, tuple(a.shape)) for name, a in sorted(self.arrays.items()))
        return (self.kind, *(int(self.attrs[k]) for k in keys), *shapes)


def _skip_floats(r: _Reader, n: int) -> None:
    """Learning-rate and weight-decay multipliers: training-only, read and dropped."""
    for _ in range(n):
        r.float()


def _read_window(r: _Reader) -> dict[str, int]:
    names = ("nr", "nc", "stride_y", "stride_x", "pad_y", "pad_x")
    return {k: r.int() for k in names}


def _params_view(r: _Reader, params: np.ndarray, offset: int,
                 shape: tuple[int, ...]) -> np.ndarray:
    """The slice of a layer's flat ``params`` tensor that an alias_tensor describes."""
    size = math.prod(shape)
    flat = params.reshape(-1)
    if offset + size > flat.size:
        raise r.error(f"parameter view of {size} values at {offset} exceeds {flat.size} params")
    return flat[offset : offset + size].reshape(shape)


def _read_con(r: _Reader, version: str) -> DlibLayer:
    params = r.tensor()
    attrs = {"filters": r.int(), **_read_window(r)}
    filt, _bias = r.alias_tensor(), r.alias_tensor()  # the bias alias is read to move past it
    _skip_floats(r, 4)
    use_bias = r.bool() if version == "con_5" else True
    weight = _params_view(r, params, 0, filt)
    arrays = {"weight": weight}
    if use_bias:
        arrays["bias"] = _params_view(r, params, weight.size, (int(attrs["filters"]),))
    # a filter size of 0 in dlib's settings means "as large as the input"
    if filt[0] != attrs["filters"] or filt[2:] != (attrs["nr"] or filt[2], attrs["nc"] or filt[3]):
        raise r.error(f"con filter shape {filt} disagrees with its settings {attrs}")
    return DlibLayer("con", attrs, arrays)


def _read_affine(r: _Reader, version: str) -> DlibLayer:
    params = r.tensor()
    gamma_shape, beta_shape = r.alias_tensor(), r.alias_tensor()
    mode = r.int()
    disabled = r.bool() if version == "affine_2" else False
    if mode != 0 or disabled:  # dlib's CONV_MODE = 0: one scale and shift per channel
        raise r.error(f"affine layer in mode {mode} (disabled={disabled}); only CONV_MODE is used")
    gamma = _params_view(r, params, 0, gamma_shape).reshape(-1)
    beta = _params_view(r, params, gamma.size, beta_shape).reshape(-1)
    return DlibLayer("affine", {}, {"gamma": gamma, "beta": beta})


def _read_bn_con(r: _Reader, version: str) -> DlibLayer:
    """A batch-norm layer saved from training; dlib loads it into ``affine_`` the same way."""
    params = r.tensor()
    gamma_shape, beta_shape = r.alias_tensor(), r.alias_tensor()
    _means, _invstds, run_mean, run_var = (r.tensor() for _ in range(4))
    for _ in range(2):  # num_updates, running_stats_window_size
        r.int()
    _skip_floats(r, 4)
    eps = r.float()
    gamma = _params_view(r, params, 0, gamma_shape).reshape(-1).astype(np.float64)
    beta = _params_view(r, params, gamma.size, beta_shape).reshape(-1).astype(np.float64)
    scale = gamma / np.sqrt(run_var.reshape(-1).astype(np.float64) + eps)
    shift = beta - scale * run_mean.reshape(-1)
    arrays = {"gamma": scale.astype(np.float32), "beta": shift.astype(np.float32)}
    return DlibLayer("affine", {}, arrays)


_LayerReader = Callable[[_Reader, str], DlibLayer]


def _read_pool(kind: str) -> _LayerReader:
    def read(r: _Reader, version: str) -> DlibLayer:
        return DlibLayer(kind, _read_window(r))
    return read


def _read_fc(r: _Reader, version: str) -> DlibLayer:
    outputs, inputs = r.int(), r.int()
    params = r.tensor()
    w_shape, _b_shape = r.alias_tensor(), r.alias_tensor()
    bias_mode = r.int()  # FC_HAS_BIAS = 0, FC_NO_BIAS = 1
    _skip_floats(r, 4)
    use_bias = (r.bool() if version == "fc_3" else True) and bias_mode == 0
    weight = _params_view(r, params, 0, (inputs, outputs))
    if w_shape[:2] != (inputs, outputs):
        raise r.error(f"fc weight shape {w_shape} disagrees with {inputs} inputs and "
                      f"{outputs} outputs")
    arrays = {"weight": weight}
    if use_bias:
        arrays["bias"] = _params_view(r, params, weight.size, (outputs,))
    return DlibLayer("fc", {"outputs": outputs, "has_bias": int(use_bias)}, arrays)


def _read_plain(kind: str) -> _LayerReader:
    def read(r: _Reader, version: str) -> DlibLayer:
        return DlibLayer(kind)
    return read


# serialized version string -> reader; the versions are those dlib itself accepts
_LAYER_READERS: dict[str, _LayerReader] = {
    "con_4": _read_con, "con_5": _read_con,
    "affine_": _read_affine, "affine_2": _read_affine, "bn_con2": _read_bn_con,
    "relu_": _read_plain("relu"), "add_prev_": _read_plain("add_prev"),
    "max_pool_2": _read_pool("max_pool"), "avg_pool_2": _read_pool("avg_pool"),
    "fc_2": _read_fc, "fc_3": _read_fc,
}


# ----------------------------------------------------------------------------------------------
# the network


@dataclass
class DlibNet:
    """A parsed dlib network: input layer settings, loss settings and layers, input side first.

    Attributes:
        input_mean: ``(red, green, blue)`` the input layer subtracts before dividing by 256.
        input_size: ``(rows, cols)`` of the input image.
        loss: the loss layer's settings (``margin``, ``distance_threshold``).
        layers: every layer from the one above the input to the output one.
    """

    input_mean: tuple[float, float, float]
    input_size: tuple[int, int]
    loss: dict[str, float]
    layers: list[DlibLayer]


def _read_loss(r: _Reader) -> dict[str, float]:
    r.version({1}, "add_loss_layer")
    name = r.string()
    if name != "loss_metric_2":
        raise r.error(f"loss layer {name!r}, expected 'loss_metric_2' (dlib's metric loss)")
    return {"margin": r.float(), "distance_threshold": r.float()}


def _read_input(r: _Reader) -> tuple[tuple[float, float, float], tuple[int, int]]:
    name = r.string()
    if name != "input_rgb_image_sized":
        raise r.error(f"input layer {name!r}, expected 'input_rgb_image_sized'")
    mean = (r.float(), r.float(), r.float())
    return mean, (r.int(), r.int())


def _read_details(r: _Reader) -> DlibLayer:
    version = r.string()
    reader = _LAYER_READERS.get(version)
    if reader is None:
        raise r.error(f"unknown layer {version!r}; known: {', '.join(_LAYER_READERS)}")
    return reader(r, version)


def _read_layer_tail(r: _Reader, input_version: int | None) -> None:
    """What ``add_layer`` writes after its details: training state, all dropped."""
    for _ in range(3):  # this_layer_setup_called, gradient_input_is_stale, output disabled
        r.bool()
    for _ in range(3):  # x_grad, cached_output, then params_grad or (input layer) grad_final
        r.tensor()
    if input_version == 3:
        r.int()  # _sample_expansion_factor


def parse_dlib_net(data: bytes, source: str = "<bytes>", hint: str = _HINT) -> DlibNet:
    """Parse dlib's serialization of a ``loss_metric`` network with an ``input_rgb_image_sized``.

    dlib writes a network recursively: each wrapper writes its version, then the network below
    it, then its own details. So the file holds the outermost layer's version first, the input
    layer in the middle, and the layer details from the input side up.

    Args:
        data: the whole ``.dat`` file.
        source: a name for error messages (the path).
        hint: what the user should do, appended to error messages.

    Raises:
        ModelError: the bytes are not such a network (truncated, another model, damaged).
    """
    r = _Reader(data, source, hint)
    loss = _read_loss(r)
    wrappers: list[int] = []  # versions, outermost first: 2 = add_layer, 1 = tag or skip
    while True:
        version = r.int()
        if (r.peek_string() or "").startswith("input"):
            break  # the add_layer right above the input layer writes the input next
        if version not in (1, 2):
            raise r.error(f"layer version {version}, expected 1 (tag/skip) or 2 (add_layer)")
        wrappers.append(version)
    if version not in (2, 3):
        raise r.error(f"input add_layer version {version}, expected 2 or 3")
    mean, size = _read_input(r)
    layers = [_read_details(r)]
    _read_layer_tail(r, version)
    for wrapper in reversed(wrappers):
        if wrapper == 1:
            layers.append(DlibLayer("tag"))
        else:
            layers.append(_read_details(r))
            _read_layer_tail(r, None)
    if r.pos != len(r.data):
        raise r.error(f"{len(r.data) - r.pos} unexpected bytes after the network")
    return DlibNet(mean, size, loss, layers)


# ----------------------------------------------------------------------------------------------
# safetensors cache


def save_net(net: DlibNet, path: Path, metadata: dict[str, str]) -> None:
    """Write ``net`` to ``path`` as safetensors, atomically (:func:`masque.atomic.atomic_path`).

    Tensors are named ``"{layer index:03d}.{array name}"``; the layer list and settings go as
    JSON in the ``net`` metadata entry, next to ``metadata`` (which :func:`load_net` checks).

    Raises:
        OSError: the file cannot be written; nothing is left behind.
    """
    tensors = {f"{i:03d}.{name}": np.ascontiguousarray(a)
               for i, layer in enumerate(net.layers) for name, a in layer.arrays.items()}
    meta = {"input_mean": net.input_mean, "input_size": net.input_size, "loss": net.loss,
            "layers": [[layer.kind, layer.attrs] for layer in net.layers]}
    with atomic_path(path) as tmp:
        safetensors.numpy.save_file(tensors, str(tmp), metadata={**metadata, "net": json.dumps(meta)})


def load_net(path: Path, metadata: dict[str, str]) -> DlibNet | None:
    """The network :func:`save_net` wrote to ``path``, or ``None`` if the file is absent,
    unreadable, or its metadata differs from ``metadata`` (a stale cache)."""
    if not path.is_file():
        return None
    try:
        with safetensors.safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            if any(meta.get(k) != v for k, v in metadata.items()):
                return None
            arrays = {key: f.get_tensor(key) for key in f.keys()}  # safe_open is not iterable
        net = json.loads(meta["net"])
        layers = [DlibLayer(kind, attrs) for kind, attrs in net["layers"]]
        for key, array in arrays.items():
            index, name = key.split(".", 1)
            layers[int(index)].arrays[name] = array
        return DlibNet(tuple(net["input_mean"]), tuple(net["input_size"]), net["loss"], layers)
    except (OSError, ValueError, KeyError, IndexError, TypeError, safetensors.SafetensorError):
        return None

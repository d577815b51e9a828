"""The model card: what a model folder's ``state.json`` says, as a typed, versioned record.

A card is written by ``masque train`` beside the weights and read back by everything that uses a
trained model (convert, evaluate, ``masque model info``, resuming training). Reading validates
every field, so a damaged or hand-edited card fails with a message naming the field, not later
with a ``KeyError`` deep inside conversion.

Versioning: ``card_version`` is an integer, :data:`CARD_VERSION` for cards this masque writes.
A card without the key was written before the card had a version and is version 1 (its layout is
exactly version 1's). A card whose version is newer than :data:`CARD_VERSION` was made by a newer
masque and is refused (upgrade masque), since its fields may mean something this masque does not
know. Keys a card holds beyond the known fields are kept in :attr:`ModelCard.extra` and written
back unchanged.

Version 2 adds ``recipe`` (the loss recipe the model trains with, ``masque.train.recipes``); a
version-1 card has none and was trained with the ``classic`` loss (:attr:`ModelCard.training_recipe`).
Every version-1 card is a valid version-2 card, so old folders load and resume unchanged; a
version-2 card is refused by a masque that reads only version 1, which would otherwise resume a
``gan`` model as ``classic`` without its discriminators.

>>> card = ModelCard.from_json({"format": FORMAT, "model": "original", "step": 10, "input_size": 64,
...                              "align": {"centering": "face", "coverage": 0.875, "size": 64}})
>>> card.step, card.align.coverage, card.card_version
(10, 0.875, 1)
>>> ModelCard.from_json(card.to_json()) == card
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from masque import __version__
from masque.errors import ModelError

#: the ``format`` every card carries, so another tool's ``state.json`` is not mistaken for one
FORMAT = "masque-swap-model"
#: the card layout this masque writes and the newest it reads
CARD_VERSION = 2
#: keys of the file that are not fields of the card
_HEADER = ("format", "version", "card_version")

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class CropSpec:
    """How faces were aligned for the model (the card's ``align``).

    Attributes:
        centering: alignment template centre (``face``).
        coverage: central fraction of the aligned face-set crop the model sees, in (0, 1].
        size: side in pixels of the crop the model sees (its input size).
    """

    centering: str = "face"
    coverage: float = 1.0
    size: int = 0


@dataclass(frozen=True)
class ModelCard:
    """A trained model's card (``state.json``).

    Attributes:
        model: registered model type (``masque.models.MODELS``), e.g. ``original``.
        step: training steps done.
        input_size: side in pixels of the model's square RGB input and output.
        align: crop geometry of the faces the model was trained on.
        facesets: paths of face set A and face set B (empty if not recorded).
        color_shift: per side (``a``, ``b``), the RGB offset in [0, 1] units added to that side's
            faces before they enter the model.
        mask: landmark mask the decoders learned (``extended``, ``components``).
        faces: faces per side used for training.
        holdout_every: every n-th face of each set was held out of training (0: none).
        examples: faces seen by training so far.
        loss: the last logged losses by name.
        arch: the architecture's hyper-parameters (:meth:`masque.models.Arch.to_json`).
        config: the training options (``masque.train.TrainConfig`` as JSON).
        device, precision: where and in which precision it was trained.
        params, flops_per_example: model size and forward cost.
        masque_version: the masque that wrote the card.
        updated: ISO 8601 time of the last save.
        recipe: the loss recipe (``classic``, ``perceptual``, ``gan``; ``None`` in a version-1 card).
        enhancer: the per-person enhancer in ``enhancer.safetensors``, if one was trained
            (:mod:`masque.models.enhancer`): ``arch``, ``step``, ``base_step``, ``loss``, ``updated``.
            An optional field: cards without it (older folders) load unchanged.
        card_version: layout version of the card (see the module docstring).
        extra: keys of the file this masque does not know, kept as they were.
    """

    model: str
    step: int
    input_size: int
    align: CropSpec
    facesets: tuple[str, ...] = ()
    color_shift: Mapping[str, RGB] = field(default_factory=dict)
    mask: str | None = None
    faces: Mapping[str, int] = field(default_factory=dict)
    holdout_every: int | None = None
    examples: int | None = None
    loss: Mapping[str, float] = field(default_factory=dict)
    arch: Mapping[str, Any] | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    device: str | None = None
    precision: str | None = None
    params: int | None = None
    flops_per_example: int | None = None
    masque_version: str | None = None
    updated: str | None = None
    recipe: str | None = None
    enhancer: Mapping[str, Any] = field(default_factory=dict)
    card_version: int = CARD_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def training_recipe(self) -> str:
        """The recipe the model was trained with: :attr:`recipe`, or ``classic`` for cards without one."""
        return self.recipe or "classic"

    def shift(self, side: str) -> RGB:
        """The RGB offset added to ``side``'s faces (``a`` or ``b``); zeros when none is recorded."""
        return self.color_shift.get(side, (0.0, 0.0, 0.0))

    @classmethod
    def from_json(cls, data: object, source: str = "state.json") -> ModelCard:
        """Validate a parsed ``state.json`` and build the card.

        Args:
            data: the parsed JSON (a dict) with ``"format": FORMAT``; a missing ``card_version`` is 1.
            source: where it came from, for messages.

        Raises:
            ModelError: not a masque model card, a card of a newer masque, or a field is missing or
                of the wrong type; the message names the field and what to do.
        """
        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise ModelError(f"{source} is not a masque model card (no format {FORMAT!r}); "
                             "use a folder written by `masque train`, or train into an empty one")
        version = _card_version(data, source)
        missing = [name for name in _REQUIRED if name not in data]
        if missing:
            raise ModelError(f"{source} lacks {', '.join(repr(m) for m in missing)}; the model card is incomplete: "
                             "restore it from a backup or retrain")
        values = {name: read(data, name, source) for name, read in _FIELDS.items()
                  if name in data or name in _REQUIRED}
        extra = {k: v for k, v in data.items() if k not in _FIELDS and k not in _HEADER}
        return cls(**values, card_version=version, extra=extra)

    def to_json(self) -> dict[str, Any]:
        """The card as the JSON object written to ``state.json`` (header first, unset fields left out)."""
        out: dict[str, Any] = {"format": FORMAT, "card_version": self.card_version}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("card_version", "extra") or _unset(value):
                continue
            if isinstance(value, CropSpec):
                value = dataclasses.asdict(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif f.name == "color_shift":
                value = {k: list(v) for k, v in value.items()}
            elif isinstance(value, Mapping):
                value = dict(value)
            out[f.name] = value
        return {**out, **self.extra}


def _unset(value: object) -> bool:
    """True for a field the card does not hold: it stays out of the file, as it was out of the one read."""
    return value is None or (isinstance(value, (tuple, Mapping)) and not value)


def _card_version(data: Mapping[str, Any], source: str) -> int:
    # cards written before the card had a version carry no key (their "version" was the format's, 1)
    version = data.get("card_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelError(f"{source}: 'card_version' must be a whole number >= 1, got {version!r}; "
                         "the card is damaged, restore it from a backup or retrain")
    if version > CARD_VERSION:
        raise ModelError(f"{source} was made by a newer masque (model card version {version}; masque "
                         f"{__version__} reads up to version {CARD_VERSION}); upgrade masque to use this model")
    return version


# ---- field readers: each returns the typed value or raises a ModelError naming the field --------

def _bad(source: str, name: str, want: str, value: object) -> ModelError:
    return ModelError(f"{source}: '{name}' must be {want}, got {value!r}; the model card is damaged or was "
                      "edited by hand: restore it from a backup or retrain")


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_int(data: Mapping[str, Any], name: str, source: str) -> int:
    value = data.get(name)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or int(value) != value:
        raise _bad(source, name, "a whole number", value)
    return int(value)


def _as_str(data: Mapping[str, Any], name: str, source: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise _bad(source, name, "a string", value)
    return value


def _as_dict(data: Mapping[str, Any], name: str, source: str) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise _bad(source, name, "a JSON object", value)
    return dict(value)


def _as_align(data: Mapping[str, Any], name: str, source: str) -> CropSpec:
    value = _as_dict(data, name, source)
    if not isinstance(value.get("centering", "face"), str) or not _number(value.get("coverage", 1.0)) \
            or not 0 < value.get("coverage", 1.0) <= 1 or not isinstance(value.get("size", 0), int):
        raise _bad(source, name, '{"centering": str, "coverage": number in (0, 1], "size": int}', value)
    return CropSpec(str(value.get("centering", "face")), float(value.get("coverage", 1.0)),
                    int(value.get("size", data.get("input_size", 0))))


def _as_facesets(data: Mapping[str, Any], name: str, source: str) -> tuple[str, ...]:
    value = data.get(name)
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise _bad(source, name, "a list of face set paths", value)
    return tuple(value)


def _as_shift(data: Mapping[str, Any], name: str, source: str) -> dict[str, RGB]:
    value = _as_dict(data, name, source)
    out: dict[str, RGB] = {}
    for side, rgb in value.items():
        if not isinstance(rgb, list) or len(rgb) != 3 or not all(_number(v) for v in rgb):
            raise _bad(source, f"{name}.{side}", "three numbers (R, G, B)", rgb)
        out[side] = (float(rgb[0]), float(rgb[1]), float(rgb[2]))
    return out


def _as_counts(data: Mapping[str, Any], name: str, source: str) -> dict[str, int]:
    value = _as_dict(data, name, source)
    if not all(_number(v) and int(v) == v for v in value.values()):
        raise _bad(source, name, "whole numbers by side", value)
    return {k: int(v) for k, v in value.items()}


def _as_floats(data: Mapping[str, Any], name: str, source: str) -> dict[str, float]:
    value = _as_dict(data, name, source)
    if not all(_number(v) for v in value.values()):
        raise _bad(source, name, "numbers by name", value)
    return {k: float(v) for k, v in value.items()}


_Reader = Callable[[Mapping[str, Any], str, str], Any]
_FIELDS: dict[str, _Reader] = {
    "model": _as_str, "step": _as_int, "input_size": _as_int, "align": _as_align, "facesets": _as_facesets,
    "color_shift": _as_shift, "mask": _as_str, "faces": _as_counts, "holdout_every": _as_int,
    "examples": _as_int, "loss": _as_floats, "arch": _as_dict, "config": _as_dict, "device": _as_str,
    "precision": _as_str, "params": _as_int, "flops_per_example": _as_int, "masque_version": _as_str,
    "updated": _as_str, "recipe": _as_str, "enhancer": _as_dict,
}
_REQUIRED = ("model", "step", "input_size", "align")

"""The labeller every writer uses: ``mark`` each frame, then ``finalize`` the finished file."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from masque import __version__
from masque.errors import ConfigError, InputNotFoundError, InvalidMediaError
from masque.provenance.keys import Credentials, load_credentials
from masque.provenance.manifest import SOURCE_TYPES, manifest_definition, sign_in_place
from masque.provenance.payload import Payload, parse_version
from masque.provenance.visible import Overlay, apply_overlay, make_overlay
from masque.provenance.watermark import WatermarkCodec

Kind = Literal["composite", "generated"]


@dataclass(frozen=True)
class LabelConfig:
    """How outputs are labelled.

    Attributes:
        enabled: embed the invisible watermark and the signed C2PA manifest (default on).
        visible_label: also draw a small "AI-generated" tag in the bottom-right corner; applied
            even when ``enabled`` is false, since it was asked for explicitly.
        kind: ``"composite"`` for a swap on real footage, ``"generated"`` for fully generated media.
        sign_cert: PEM certificate chain (leaf first) to sign with instead of masque's local key.
        sign_key: PEM private key matching ``sign_cert``.
        description: what the manifest's action says was made (None: the kind's default, "face
            swap made with masque" for a composite).
    """

    enabled: bool = True
    visible_label: bool = False
    kind: Kind = "composite"
    sign_cert: Path | None = None
    sign_key: Path | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in SOURCE_TYPES:
            raise ConfigError(f"LabelConfig.kind must be one of {sorted(SOURCE_TYPES)}, got {self.kind!r}")


class Labeler:
    """Labels one run's outputs as synthetic; one instance per run (it draws the run id).

    Args:
        config: what to embed.
        run_id: the 32-bit id carried by the watermark and the manifest; random when ``None``.

    Raises:
        InputNotFoundError, ProvenanceError: the signing certificate or key cannot be used (checked
            here, before any work, rather than after a long conversion).
    """

    def __init__(self, config: LabelConfig, *, run_id: int | None = None) -> None:
        self.config = config
        self.run_id = secrets.randbits(32) if run_id is None else run_id & 0xFFFFFFFF
        self.payload = Payload(parse_version(__version__), self.run_id)
        self._codec = WatermarkCodec() if config.enabled else None
        self._credentials: Credentials | None = (
            load_credentials(config.sign_cert, config.sign_key) if config.enabled else None)
        self._patterns: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        self._overlays: dict[tuple[int, int], Overlay] = {}

    @property
    def active(self) -> bool:
        """True when :meth:`mark` changes frames."""
        return self.config.enabled or self.config.visible_label

    def mark(self, frame: np.ndarray) -> np.ndarray:
        """Label one frame.

        Args:
            frame: RGB ``(H, W, 3)`` ``uint8``.

        Returns:
            A new RGB ``(H, W, 3)`` ``uint8`` frame with the watermark (and the visible tag when
            asked); ``frame`` itself, unchanged, when labelling is off.
        """
        if not self.active:
            return frame
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise InvalidMediaError(f"a frame to label must be RGB uint8 (H, W, 3); got {frame.dtype} {frame.shape}")
        size = (frame.shape[0], frame.shape[1])
        if self.config.visible_label:
            if size not in self._overlays:
                self._overlays[size] = make_overlay(*size)
            frame = apply_overlay(frame, self._overlays[size])
        if self._codec is None:
            return frame
        if size not in self._patterns:
            self._patterns[size] = _split_pattern(self._codec.pattern(self.payload, *size))
        up, down = self._patterns[size]
        # Two saturating uint8 ops equal clip(frame + round(pattern)) exactly, at a third of the
        # cost of one float add.
        return cv2.subtract(cv2.add(frame, up), down)

    def finalize(self, path: str | os.PathLike[str]) -> None:
        """Embed a signed C2PA manifest into the finished PNG, JPEG or MP4 at ``path``, atomically.

        Does nothing when labelling is off.

        Raises:
            InputNotFoundError: ``path`` does not exist.
            ProvenanceError: the format cannot carry a manifest or signing failed; the file is
                left as it was (watermarked, without a manifest).
        """
        if not self.config.enabled or self._credentials is None:
            return
        p = Path(path)
        if not p.is_file():
            raise InputNotFoundError(f"cannot label {p}: file not found")
        definition = manifest_definition(self.config.kind, __version__, self.payload.run_id_hex, p.name,
                                         self.config.description)
        sign_in_place(p, definition, self._credentials)


def _split_pattern(pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A ``float32`` luma pattern as its rounded positive and negative parts, ``uint8`` ``(H, W, 3)``.

    The same offset goes on R, G and B, so only luma changes.
    """
    rounded = np.rint(pattern)
    up = np.clip(rounded, 0, 255).astype(np.uint8)
    down = np.clip(-rounded, 0, 255).astype(np.uint8)
    return cv2.merge([up, up, up]), cv2.merge([down, down, down])

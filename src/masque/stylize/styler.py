"""The Gatys stylist for files: style targets cached, face masks found, video frames chained by flow."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from masque.face import FaceAnalyzer, landmark_mask
from masque.models.vgg import VGG19
from masque.stylize.files import FrameFn, even_size
from masque.stylize.flow import warp_previous
from masque.stylize.gatys import (
    GatysConfig,
    Progress,
    StyleResult,
    StyleTarget,
    Temporal,
    fit_size,
    luminance_style,
    stylise,
)


def face_mask(analyzer: FaceAnalyzer, image: np.ndarray) -> np.ndarray | None:
    """``(H, W)`` float32 in [0, 1]: the landmark hulls (forehead included) of every face, or None."""
    faces = analyzer.detect(image)
    if not faces:
        return None
    mask = np.zeros(image.shape[:2], np.float32)
    for face in faces:
        mask = np.maximum(mask, landmark_mask(face.landmarks, image.shape[:2], "extended").astype(np.float32) / 255)
    return mask


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


class GatysStyler:
    """Gatys stylisation of stills and videos (a :class:`~masque.stylize.files.FrameStyler`).

    Args:
        vgg: the feature extractor.
        styles: RGB ``uint8`` style images; blended by ``weights`` (default equal).
        config: the optimisation (:class:`GatysConfig`).
        analyzer: finds faces for ``config.face_weight > 1``; None: no face-awareness.
        flow: ``dis`` or ``farneback`` for video.
        temporal_weight: weight of the temporal loss on video frames after the first.
        progress: ``callback(done, total)`` of the loss evaluations of each still image.
    """

    def __init__(self, vgg: VGG19, styles: Sequence[np.ndarray], config: GatysConfig,
                 weights: Sequence[float] | None = None, analyzer: FaceAnalyzer | None = None,
                 flow: str = "dis", temporal_weight: float = 200.0, progress: Progress | None = None) -> None:
        self.vgg, self.styles, self.config, self.weights = vgg, list(styles), config, weights
        self.analyzer = analyzer if config.face_weight > 1 else None
        self.flow, self.temporal_weight, self.progress = flow, temporal_weight, progress
        self._targets: dict[tuple[int, ...], StyleTarget] = {}
        self.last: StyleResult | None = None

    def target(self, content: np.ndarray) -> StyleTarget:
        """The style Grams for this content (in keep-colours mode they depend on its luminance)."""
        key = (id(content),) if self.config.keep_colors else ()
        if key not in self._targets:
            styles = [luminance_style(s, content) for s in self.styles] if self.config.keep_colors else self.styles
            if self.config.keep_colors:
                self._targets.clear()  # one content at a time: keep one entry
            self._targets[key] = StyleTarget(self.vgg, styles, self.config.style_layers, self.weights, self.config.size)
        return self._targets[key]

    def run(self, content: np.ndarray, init: np.ndarray | None = None, temporal: Temporal | None = None,
            config: GatysConfig | None = None) -> StyleResult:
        mask = face_mask(self.analyzer, content) if self.analyzer is not None else None
        self.last = stylise(self.vgg, content, self.target(content), config or self.config, face_mask=mask,
                            init=init, temporal=temporal, progress=self.progress)
        return self.last

    def image(self, rgb: np.ndarray) -> np.ndarray:
        return to_uint8(self.run(rgb).image)

    def video(self) -> FrameFn:
        """Frame 1 coarse to fine; every later frame starts from the previous result warped by optical
        flow and is held near it (where the flow is reliable) by the temporal loss."""
        state: dict[str, np.ndarray] = {}
        keep = self.config.keep_colors
        # luminance targets are made once per video from its first frame, so the style holds still
        later = dataclasses.replace(self.config, steps=max(1, self.config.steps // 2))

        def frame_fn(rgb: np.ndarray) -> np.ndarray:
            import cv2

            small = cv2.resize(rgb, fit_size(rgb.shape, self.config.size)[::-1], interpolation=cv2.INTER_AREA)
            small = even_size(small)
            if "target" not in state:
                state["first"] = small
            content = state["first"] if keep else small
            target = self.target(content)
            if "out" not in state:
                result = stylise(self.vgg, small, target, self.config, progress=None,
                                 face_mask=self._mask(small))
            else:
                warped, reliable = warp_previous(state["out"], state["frame"], small, self.flow)
                result = stylise(self.vgg, small, target, later, init=warped, face_mask=self._mask(small),
                                 temporal=Temporal(warped, reliable, self.temporal_weight))
            state["target"] = np.empty(0)
            out = result.image[: small.shape[0], : small.shape[1]]
            state["out"], state["frame"] = out, small
            return to_uint8(out)

        return frame_fn

    def _mask(self, image: np.ndarray) -> np.ndarray | None:
        return face_mask(self.analyzer, image) if self.analyzer is not None else None

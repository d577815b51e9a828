"""Applying a translation model to files: whole pictures, or aligned faces pasted back into frames.

A model trained on face sets (aligned faces) is applied face by face, a third way to swap: each
face of a frame is aligned as the face set was (size, centering), translated, and pasted back
inside its landmark hull with colour matching and a feathered edge (:func:`masque.compose.paste
.paste_face`); frames without a face pass through. A model trained on whole pictures translates
the whole frame.
"""

from __future__ import annotations

import numpy as np

from masque.compose.paste import paste_face
from masque.face import FaceAnalyzer, FaceTracker, TargetSelector, align_face, landmark_mask
from masque.stylize.cyclegan import Translator
from masque.stylize.files import FrameFn


class FaceTranslator:
    """Translate every face of a frame and paste it back (a :class:`~masque.stylize.files.FrameStyler`).

    Args:
        translator: one direction of a trained model.
        analyzer: finds faces and landmarks.
        size, centering: the alignment the model's face sets used.
    """

    def __init__(self, translator: Translator, analyzer: FaceAnalyzer, size: int, centering: str) -> None:
        self.translator, self.analyzer, self.size, self.centering = translator, analyzer, size, centering
        self.faces = 0

    def paste(self, rgb: np.ndarray, landmarks: list[np.ndarray]) -> np.ndarray:
        out = rgb
        for lm in landmarks:
            aligned = align_face(rgb, lm, self.size, self.centering)  # type: ignore[arg-type]
            face = self.translator.translate(aligned.image)
            mask = landmark_mask(aligned.landmarks, (self.size, self.size), "extended").astype(np.float32) / 255
            out = paste_face(out, face, mask, aligned.matrix, color="rct", blender="gaussian")
            self.faces += 1
        return out

    def image(self, rgb: np.ndarray) -> np.ndarray:
        return self.paste(rgb, [f.landmarks for f in self.analyzer.detect(rgb)])

    def video(self) -> FrameFn:
        tracker = FaceTracker(self.analyzer, TargetSelector("all"))
        return lambda frame: self.paste(frame, tracker.update(frame))


class WholeTranslator:
    """Translate whole frames (a model trained on whole pictures)."""

    def __init__(self, translator: Translator) -> None:
        self.translator = translator

    def image(self, rgb: np.ndarray) -> np.ndarray:
        return self.translator.translate(rgb)

    def video(self) -> FrameFn:
        return self.image

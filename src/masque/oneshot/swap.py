"""The classic one-shot face swap: one photo of the source person, no training.

For each target face: warp the source face onto the target's 68 landmarks (piecewise affine over
a Delaunay mesh, :mod:`masque.compose.warp`), correct its colour toward the target, and blend it
into the hull of the target's landmarks with a feathered edge. Geometry comes from the target, so
its pose, expression and eye shape are kept; an open mouth keeps the target's own teeth and
tongue. Texture (skin, eyes, brows, nose, lips) comes from the source, but for two cases: a source
without natural skin colour (greyscale, a strong cast) takes the target's chroma
(:mod:`masque.oneshot.chroma`), and where one face's eyes are shut and the other's open the
target's own eyes are kept (:mod:`masque.oneshot.eyes`).

>>> analyzer = FaceAnalyzer()                                    # doctest: +SKIP
>>> swapper = OneShotSwapper.from_image(read_image("a.jpg"), analyzer)  # doctest: +SKIP
>>> out = swap_image(swapper, read_image("b.jpg"), analyzer)      # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from masque.compose.blend import BLENDERS
from masque.compose.color import COLOR_MATCHERS, SHADE_SIGMA, ColorMatcher, reinhard, shade
from masque.compose.masks import MOUTH_OPEN_RATIO, swap_masks
from masque.compose.warp import mesh_points, triangulate, warp_mesh
from masque.errors import ConfigError, NoFaceFoundError, ShapeError
from masque.face import Face, FaceAnalyzer, TargetSelector
from masque.face.landmarks import face_width
from masque.face.mask import MaskKind, mask_points
from masque.oneshot.chroma import SkinChroma, skin_chroma, take_chroma
from masque.oneshot.eyes import EYE_OPEN_RATIO, eye_box, eye_strength, keep_target_eyes
from masque.oneshot.shape import identity_landmarks
from masque.oneshot.symmetry import far_side, mirror_face, mirror_weights

_ROI_PAD = 4
#: caps of Reinhard's spread ratio (L, a, b) here: the target's skin spread (freckles, a flush, a
#: smile's shading) has no counterpart in the source's pixels, and scaling the source's spread up
#: to it turned the source's own non-skin hues (blue-grey eyes, shadowed sockets) into dark blue
#: patches over the eyes (multi_face.jpg's smiling faces with biden.jpg as the source)
RCT_MAX_GAIN = (1.25, 1.0, 1.0)
#: what is in front of the target's face is grown by this share of the face width before it is
#: composited back: the model works at 64 px, so its edges are a few frame pixels off
_OCCLUDER_GROW = 0.015


def _color_matcher(name: str) -> ColorMatcher:
    """The colour matcher ``name``, with Reinhard's gains capped by :data:`RCT_MAX_GAIN`."""
    if name == "rct":
        return lambda face, target, mask: reinhard(face, target, mask, RCT_MAX_GAIN)
    if name == "rct-ratio":
        return lambda face, target, mask: shade(reinhard(face, target, mask, RCT_MAX_GAIN), target, mask,
                                                SHADE_SIGMA, edge=0.0)
    return COLOR_MATCHERS.create(name)


@dataclass(frozen=True)
class SwapConfig:
    """How a face is pasted.

    Attributes:
        color: colour matcher (``masque.compose.color.COLOR_MATCHERS``): rct, avg, hist, ratio, none.
        blend: blender (``masque.compose.blend.BLENDERS``): gaussian, poisson, seamless, none.
            Gaussian (a feathered alpha after the colour match) by default: Poisson's membrane
            takes the frame's values all along the mask's edge, and where that edge runs over hair,
            a beard or background it spreads their colour across the cheeks (a blue-grey half
            face from a fringe and a blue wall); it also carried the target's shading back in
            (``benchmarks/oneshot_pairs.py``: 59 -> 63 of 72 pairs closer to the source, none
            the other way; median seam score 0.070 -> 0.060).
        mask: ``extended`` (jaw, brows and forehead) or ``components`` (hull of jaw and brows).
            The forehead carries identity: on the fixture photos it moves the swapped face's
            identity distance to the source from about 0.56 to 0.48.
        feather: width of the soft edge inside the mask, as a fraction of the face's width.
        keep_mouth: keep the target's mouth interior (teeth, tongue) when its mouth is open.
        mirror: when the source face is turned to one side, take its far (foreshortened) half
            from the mirrored near half.
        mouth_open_ratio: inner-lip gap over mouth width above which a mouth counts as open.
        chroma_from_target: a source without natural skin chroma (greyscale, a blue or green
            cast: :mod:`masque.oneshot.chroma`) takes the target's a/b field under its own lightness.
        occluders: composite what the occlusion model (:mod:`masque.face.occlusion`) sees in front of
            the target's face (glasses, a hand, hair, a microphone) back over the new face, so
            glasses stay whole; ``False`` pastes over them.
        occlusion_model: path of an ``occlusion.safetensors`` (``None``: the one masque ships).
        eye_ratio: the target's own eyes are kept where the smaller eye aspect ratio of source and
            target is under this times the larger (:mod:`masque.oneshot.eyes`; faded in over
            +-0.1 around it, so a blinking video target does not pop); 0 turns that off.
        shape: how far the target's eyes, brows, nose and mouth move to the source's placement
            and size, each keeping the target's own shape (expression): :mod:`masque.oneshot.shape`.
            Where the target's own eyes are kept (``eye_ratio``), they are moved and sized too:
            the target's pixels are warped onto the moved landmarks before they are composited.
    """

    color: str = "rct-ratio"
    blend: str = "gaussian"
    mask: MaskKind = "extended"
    feather: float = 0.06
    keep_mouth: bool = True
    mirror: bool = True
    mouth_open_ratio: float = MOUTH_OPEN_RATIO
    chroma_from_target: bool = True
    eye_ratio: float = EYE_OPEN_RATIO
    shape: float = 1.0
    occluders: bool = True
    occlusion_model: str | None = None

    def __post_init__(self) -> None:
        COLOR_MATCHERS.get(self.color)  # unknown names fail here, with the known ones listed
        BLENDERS.get(self.blend)
        if self.mask not in ("components", "extended"):
            raise ConfigError(f"mask must be components or extended, got {self.mask!r}")
        if not 0 <= self.feather < 0.5:
            raise ConfigError(f"feather is a fraction of the face width in [0, 0.5), got {self.feather}")
        if not 0 <= self.eye_ratio < 1:
            raise ConfigError(f"eye_ratio must be in [0, 1) (0 = off), got {self.eye_ratio}")
        if not 0 <= self.shape <= 1:
            raise ConfigError(f"shape must be in [0, 1] (0 = the target's proportions), got {self.shape}")


@dataclass(frozen=True)
class _SourceMesh:
    """A source face ready to warp: its triangulation and an image pyramid with mesh points."""

    triangles: np.ndarray
    levels: list[tuple[np.ndarray, np.ndarray]]
    width: float

    @classmethod
    def build(cls, image: np.ndarray, landmarks: np.ndarray) -> _SourceMesh:
        """Crop the face's surroundings, then halve them per octave down to a 48 px face, so a
        big source photo is never aliased onto a small target face."""
        width = face_width(landmarks)
        pts = mesh_points(landmarks)
        pad = 0.1 * width
        x0, y0 = np.maximum(np.floor(pts.min(0) - pad), 0).astype(int)
        x1, y1 = np.minimum(np.ceil(pts.max(0) + pad), image.shape[1::-1]).astype(int)
        img = np.ascontiguousarray(image[y0:y1, x0:x1])
        pts = pts - np.array([x0, y0], np.float32)
        levels = [(img, pts)]
        while width / 2 ** len(levels) >= 48 and min(img.shape[:2]) >= 32:
            img = cv2.pyrDown(img)
            pts = (pts - 0.5) / 2  # pyrDown pixel i covers source pixels 2i and 2i + 1
            levels.append((img, pts))
        return cls(triangulate(landmarks), levels, width)

    def warp(self, dst: np.ndarray, target_width: float,
             roi: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        """:func:`warp_mesh` from the pyramid level whose face is the smallest at least as wide."""
        level = int(np.clip(np.floor(np.log2(self.width / max(target_width, 1.0))), 0, len(self.levels) - 1))
        img, pts = self.levels[level]
        return warp_mesh(img, pts, dst, self.triangles, roi)


class OneShotSwapper:
    """Pastes one source face onto any number of target faces.

    Everything that depends on the source alone (triangulation, mesh, an image pyramid so a big
    source photo is not aliased onto a small target face) is computed once, here. A source
    turned clearly to one side is also prepared mirrored (:mod:`masque.oneshot.symmetry`).

    Args:
        source_image: ``(H, W, 3)`` ``uint8`` RGB photo of the source person.
        source_landmarks: ``(68, 2)`` landmarks of the source face in that photo.
        config: how faces are pasted.
    """

    def __init__(self, source_image: np.ndarray, source_landmarks: np.ndarray,
                 config: SwapConfig | None = None) -> None:
        if source_image.ndim != 3 or source_image.shape[2] != 3 or source_image.dtype != np.uint8:
            raise ShapeError(f"source image must be (H, W, 3) uint8 RGB, got {source_image.shape} {source_image.dtype}")
        self.config = config or SwapConfig()
        self.landmarks = np.asarray(source_landmarks, np.float32)
        self._source = _SourceMesh.build(source_image, self.landmarks)
        self.triangles = self._source.triangles
        self._side, self._mirror_strength = far_side(self.landmarks)
        self._mirror = None
        if self.config.mirror and self._mirror_strength > 0:
            self._mirror = _SourceMesh.build(*mirror_face(source_image, self.landmarks))
        self._blend = BLENDERS.create(self.config.blend)
        self._match = _color_matcher(self.config.color)
        self.chroma = _source_chroma(source_image, self.landmarks)
        self._take_chroma = self.config.chroma_from_target and not self.chroma.natural
        self._occlusion = None
        if self.config.occluders:
            from masque.face.occlusion import OcclusionModel

            self._occlusion = OcclusionModel.load(self.config.occlusion_model)

    @classmethod
    def from_image(cls, image: np.ndarray, analyzer: FaceAnalyzer, face_index: int = 0,
                   config: SwapConfig | None = None, name: str = "the source image") -> OneShotSwapper:
        """Detect the faces of ``image`` and use the ``face_index``-th largest as the source.

        Raises:
            NoFaceFoundError: no face (or fewer than ``face_index + 1``) in the image; the
                message names ``name`` (pass the file's path).
        """
        faces = analyzer.detect(image)
        if not faces:
            raise NoFaceFoundError(f"no face found in the source image {name}; use a photo with one clear, "
                                   "roughly frontal face at least 80 px wide")
        if not 0 <= face_index < len(faces):
            raise NoFaceFoundError(f"source face {face_index} asked for, but {name} has {len(faces)} "
                                   f"face(s) (numbered 0 to {len(faces) - 1}, largest first)")
        return cls(image, faces[face_index].landmarks, config)

    def swap(self, frame: np.ndarray, targets: Sequence[Face | np.ndarray]) -> np.ndarray:
        """Paste the source onto each target face.

        Args:
            frame: ``(H, W, 3)`` ``uint8`` RGB image (not modified).
            targets: faces, or their ``(68, 2)`` landmarks, in ``frame``'s pixels.

        Returns:
            A new ``(H, W, 3)`` ``uint8`` RGB image. Pixels outside the target faces' hulls are
            exactly those of ``frame``.
        """
        out = frame.copy()
        for target in targets:
            lm = target.landmarks if isinstance(target, Face) else np.asarray(target, np.float32)
            self.swap_into(out, lm)
        return out

    def swap_into(self, frame: np.ndarray, landmarks: np.ndarray) -> None:
        """Paste the source onto the face with ``landmarks`` (68, 2), in place in ``frame``."""
        eyes = eye_strength(self.landmarks, landmarks, self.config.eye_ratio) if self.config.eye_ratio else 0
        if self.config.shape > 0:
            shaped = identity_landmarks(self.landmarks, landmarks, self.config.shape, eyes=1.0,
                                        mouth=0.0 if self.config.keep_mouth else 1.0)
        else:
            shaped = landmarks
        dst = _mesh(landmarks, shaped)
        h, w = frame.shape[:2]
        # render only the mask's box (+ a margin for the blend): the mesh's outer ring is there
        # so that the warp covers that box, not to be drawn
        outline = mask_points(landmarks, self.config.mask)
        x0, y0 = np.maximum(np.floor(outline.min(0)) - _ROI_PAD, 0).astype(int)
        x1, y1 = np.minimum(np.ceil(outline.max(0)) + _ROI_PAD + 1, (w, h)).astype(int)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return  # the face is (almost) entirely outside the frame
        roi = (int(x0), int(y0), int(x1), int(y1))
        target_width = face_width(landmarks)
        warped, covered = self._source.warp(dst, target_width, roi)
        if self._mirror is not None:
            # the source's far side is foreshortened: take that half from the mirrored source
            mirrored, covered_m = self._mirror.warp(dst, target_width, roi)
            weight = mirror_weights(landmarks, roi, self._side, self._mirror_strength, target_width)
            warped = cv2.blendLinear(mirrored, warped, weight, 1.0 - weight)
            covered &= covered_m
        crop = frame[y0:y1, x0:x1]
        paste, stats = swap_masks(landmarks, roi, crop, self.config.mask, self.config.keep_mouth,
                                  self.config.mouth_open_ratio, warped)
        paste[~covered] = 0
        front = self._in_front(frame, landmarks, roi, paste)
        if self._take_chroma:
            warped = take_chroma(warped, crop, target_width)
        corrected = self._match(warped, crop, stats)
        out = self._blend(corrected, crop, paste, self.config.feather * target_width)
        if eyes > 0:
            own = crop if shaped is landmarks else self._moved_eyes(frame, crop, landmarks, shaped, dst, roi,
                                                                            target_width)
            keep_target_eyes(out, own, paste, shaped, roi, target_width, eyes)
        if front is not None:
            out = cv2.blendLinear(crop, out, front, 1.0 - front)
        frame[y0:y1, x0:x1] = out

    def _moved_eyes(self, frame: np.ndarray, crop: np.ndarray, landmarks: np.ndarray, shaped: np.ndarray,
                    dst: np.ndarray, roi: tuple[int, int, int, int], target_width: float) -> np.ndarray:
        """``crop`` (the target's pixels in ``roi``) with the target's own eyes moved and sized with
        the rest of the features onto ``shaped``; only the box the eyes' composite can reach is
        warped (``crop`` itself when that box is empty). ``target_width``: ``face_width(landmarks)``."""
        bx0, by0, bx1, by1 = eye_box(shaped, target_width, roi)
        if bx1 <= bx0 or by1 <= by0:
            return crop
        own = crop.copy()
        # over the source's triangles: the main warp already lands them on this face
        own[by0:by1, bx0:bx1], _ = warp_mesh(frame, mesh_points(landmarks), dst, self.triangles,
                                             (roi[0] + bx0, roi[1] + by0, roi[0] + bx1, roi[1] + by1))
        return own

    def _in_front(self, frame: np.ndarray, landmarks: np.ndarray, roi: tuple[int, int, int, int],
                  paste: np.ndarray) -> np.ndarray | None:
        """``(h, w)`` ``float32`` weight in [0, 1] of the target's own pixels in ``roi``: what the
        occlusion model sees in front of the face, 3 % of the face width or more inside the paste mask
        ``paste`` (grown by 1.5 % of the face width and feathered so
        a glasses rim comes back whole, with no halo of the new face around it); ``None`` when off."""
        if self._occlusion is None:
            return None
        x0, y0, x1, y1 = roi
        shift = np.array([[1.0, 0.0, -x0], [0.0, 1.0, -y0]])
        visible = self._occlusion.masks(frame, [landmarks], [shift], (x1 - x0, y1 - y0))[0]
        grow = max(1, int(round(_OCCLUDER_GROW * face_width(landmarks))))
        # only what lies well inside the paste mask: along its edge the model's "not face" is
        # mostly the face's own outline (hair line, jaw), and bringing the target back there
        # would draw a second edge inside the blend's
        inner = cv2.erode(paste, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (4 * grow + 1,) * 2))
        front = ((visible < self._occlusion.card.threshold) & (inner > 0)).astype(np.uint8)
        grown = cv2.dilate(front, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
        weight = cv2.GaussianBlur(grown.astype(np.float32), (0, 0), max(grow / 2, 0.5))
        return weight if weight.max() > 0 else None


def _mesh(target: np.ndarray, shaped: np.ndarray) -> np.ndarray:
    """The mesh points the source lands on: ``shaped`` (the target's landmarks with the source's
    proportions, :mod:`masque.oneshot.shape`), the ring around the face from the ``target``'s
    outline, and each forehead point from whichever of the two lies higher above the eyes.

    The paste mask's forehead is the target's; a forehead point moved down with lower brows
    would leave the strip above it to the source's hair (a dark blot above the brows, measured
    on ``expression_anc.jpg`` onto ``clip_short``), so it never comes lower than the target's.
    """
    dst = mesh_points(target)
    dst[:68] = shaped
    moved = mesh_points(shaped)[68:78]
    up = target[17:27].mean(0) - target[36:48].mean(0)
    up = up / max(float(np.linalg.norm(up)), 1e-6)
    higher = (moved - dst[68:78]) @ up > 0
    dst[68:78][higher] = moved[higher]
    return dst


def _source_chroma(image: np.ndarray, landmarks: np.ndarray) -> SkinChroma:
    """Mean skin chroma of the source face: its cheeks and nose (the colour-statistics mask)."""
    h, w = image.shape[:2]
    x0, y0 = np.maximum(np.floor(landmarks.min(0)), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(landmarks.max(0)) + 1, (w, h)).astype(int)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return SkinChroma(0.0, 0.0)
    roi = (int(x0), int(y0), int(x1), int(y1))
    crop = image[y0:y1, x0:x1]
    _, stats = swap_masks(landmarks, roi, crop, "components", keep_mouth=False)
    return skin_chroma(crop, stats)


def swap_image(swapper: OneShotSwapper, image: np.ndarray, analyzer: FaceAnalyzer,
               selector: TargetSelector | None = None) -> tuple[np.ndarray, list[Face]]:
    """Swap the selected faces of one RGB ``(H, W, 3)`` ``uint8`` image.

    Returns:
        ``(swapped image, the target faces that were swapped)``; with no face found the image is
        returned unchanged (a copy) with an empty list.
    """
    selector = selector or TargetSelector()
    faces = selector.select(image, analyzer.detect(image), analyzer)
    return swapper.swap(image, faces), faces

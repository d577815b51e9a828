"""Colour matching: shift a new face's colours toward the frame it is pasted into.

Every matcher (a :class:`ColorMatcher`) has the signature ``match(face, target, mask) -> face'``:

- ``face``: ``(H, W, 3)`` ``uint8`` RGB, the new face already placed in the frame's pixels
  (a crop of the frame's size, or the whole frame).
- ``target``: ``(H, W, 3)`` ``uint8`` RGB, the frame pixels at the same place.
- ``mask``: ``(H, W)`` ``uint8``, non-zero where the statistics are measured (the skin both
  images share; leave out the mouth interior and eyes where they differ).

They return a ``(H, W, 3)`` ``uint8`` RGB copy of ``face`` with the correction applied to every
pixel (the blender decides which pixels are used). When the mask holds fewer than
``MIN_PIXELS`` pixels the face is returned unchanged.

>>> import numpy as np
>>> face = np.full((8, 8, 3), 100, np.uint8); frame = np.full((8, 8, 3), 140, np.uint8)
>>> mask = np.full((8, 8), 255, np.uint8)
>>> int(match_color("avg", face, frame, mask)[0, 0, 0])
140
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from masque.compose.blend import expand, harmonic_fill, shrink
from masque.errors import ShapeError
from masque.registry import Registry


class ColorMatcher(Protocol):
    """What a colour matcher is: a callable ``(face, target, mask) -> face'``.

    Args:
        face: ``(H, W, 3)`` ``uint8`` RGB, the new face already placed in the frame's pixels.
        target: ``(H, W, 3)`` ``uint8`` RGB, the frame pixels at the same place.
        mask: ``(H, W)`` ``uint8``, non-zero where the statistics are measured.

    Returns:
        A new ``(H, W, 3)`` ``uint8`` RGB face with the correction applied to every pixel.
    """

    def __call__(self, face: np.ndarray, target: np.ndarray, mask: np.ndarray, /) -> np.ndarray:
        ...


#: the registered colour matchers, as factories: ``COLOR_MATCHERS.create(name)(face, target, mask)``
COLOR_MATCHERS: Registry[ColorMatcher] = Registry("colour matcher")


def register_color_matcher(name: str) -> Callable[[ColorMatcher], ColorMatcher]:
    """Decorator: register a matcher function as ``name`` (mypy checks it against :class:`ColorMatcher`).

    A matcher with options registers a factory instead: ``COLOR_MATCHERS.register(name)(make_matcher)``,
    then ``COLOR_MATCHERS.create(name, **options)``.

    Raises:
        RegistryError: ``name`` is already registered.
    """

    return COLOR_MATCHERS.register_plugin(name)

#: fewer masked pixels than this give statistics too noisy to trust
MIN_PIXELS = 16
# Reinhard's transfer divides by the face's spread; a flat face (one colour) would explode it
_MAX_STD_RATIO = 3.0
_RATIO_SIGMA = 0.04
#: ``shade``'s Gaussian, as a fraction of the mask's longer side: the light falling across the face.
#: At :data:`_RATIO_SIGMA` (4 %) it also carried the target's own relief (nose, cheekbones, eye
#: sockets), and with it much of the target's identity (demo A as B: dlib distance to B 0.56 at
#: 4 %, 0.50-0.51 at 8-25 %)
SHADE_SIGMA = 0.12
#: the band along the mask's border, as a fraction of its longer side, where ``shade`` fades to the
#: 4 % gain: the seam is matched there, and the nose, eyes and cheekbones lie further in
SHADE_EDGE = 0.25
_MAX_GAIN = 2.0


def _check(face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Validate the shapes; return the boolean mask."""
    if face.shape != target.shape or face.ndim != 3 or face.shape[2] != 3:
        raise ShapeError(f"face and target must be (H, W, 3) images of one size, got {face.shape} and {target.shape}")
    if mask.shape[:2] != face.shape[:2]:
        raise ShapeError(f"mask must be (H, W) = {face.shape[:2]}, got {mask.shape}")
    if face.dtype != np.uint8 or target.dtype != np.uint8:
        raise ShapeError(f"face and target must be uint8, got {face.dtype} and {target.dtype}")
    return (mask[..., 0] if mask.ndim == 3 else mask) > 0


def _stats(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation over the mask, ``(3,)`` ``float64`` each."""
    mean, std = cv2.meanStdDev(image, mask=mask)
    return mean.ravel(), std.ravel()


@register_color_matcher("rct")
def rct(face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Reinhard colour transfer: match the per-channel mean and spread in CIE Lab (:func:`reinhard`)."""
    return reinhard(face, target, mask)


def reinhard(face: np.ndarray, target: np.ndarray, mask: np.ndarray,
             max_gain: tuple[float, float, float] | None = None) -> np.ndarray:
    """Reinhard colour transfer: match the per-channel mean and spread in CIE Lab.

    ``max_gain`` caps the spread ratio per channel (L, a, b; default :data:`_MAX_STD_RATIO` on
    each). The one-shot swap caps a and b at 1: a target with more colourful skin (freckles, a
    flush) than the source would otherwise multiply the source's own non-skin hues (blue-grey
    eyes and their shadowed sockets) into blue patches. Arguments otherwise as a :class:`ColorMatcher`'s.

    Reinhard et al., "Color transfer between images", IEEE CG&A 2001 (DeepFaceLab's ``rct``).
    Works in OpenCV's 8-bit Lab (a per-channel affine rescaling of CIE Lab, so the transfer is
    the same); that is ~10x faster than float Lab, and its rounding (under one level) is not
    visible.
    """
    m = _check(face, target, mask).astype(np.uint8)
    if cv2.countNonZero(m) < MIN_PIXELS:
        return face.copy()
    f_lab = cv2.cvtColor(face, cv2.COLOR_RGB2LAB)
    # statistics on a half-size copy of both (4x fewer pixels, same means; spreads shrink alike)
    m2 = (shrink(m * np.uint8(255), 2) == 255).astype(np.uint8)
    if cv2.countNonZero(m2) < MIN_PIXELS:
        m2 = (shrink(m * np.uint8(255), 2) > 0).astype(np.uint8)
    f_mu, f_sd = _stats(cv2.cvtColor(shrink(face, 2), cv2.COLOR_RGB2LAB), m2)
    t_mu, t_sd = _stats(cv2.cvtColor(shrink(target, 2), cv2.COLOR_RGB2LAB), m2)
    gain = np.clip(t_sd / np.maximum(f_sd, 1e-3), 1 / _MAX_STD_RATIO, _MAX_STD_RATIO)
    if max_gain is not None:
        gain = np.minimum(gain, max_gain)
    affine = np.concatenate([np.diag(gain), (t_mu - f_mu * gain)[:, None]], axis=1)
    return cv2.cvtColor(cv2.transform(f_lab, affine), cv2.COLOR_LAB2RGB)


@register_color_matcher("avg")
def avg(face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Shift each RGB channel so its masked mean equals the target's (faceswap's ``avg-color``)."""
    m = _check(face, target, mask).astype(np.uint8)
    if cv2.countNonZero(m) < MIN_PIXELS:
        return face.copy()
    shift = _stats(target, m)[0] - _stats(face, m)[0]
    return cv2.transform(face, np.concatenate([np.eye(3), shift[:, None]], axis=1))


def _channel_lut(src: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """A 256-entry table mapping ``src`` values so their histogram becomes ``ref``'s."""
    src_cdf = np.cumsum(np.bincount(src, minlength=256)).astype(np.float64)
    ref_cdf = np.cumsum(np.bincount(ref, minlength=256)).astype(np.float64)
    src_cdf /= src_cdf[-1]
    ref_cdf /= ref_cdf[-1]
    return np.clip(np.interp(src_cdf, ref_cdf, np.arange(256)) + 0.5, 0, 255).astype(np.uint8)


@register_color_matcher("hist")
def hist(face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Histogram matching per RGB channel over the masked pixels."""
    m = _check(face, target, mask)
    if m.sum() < MIN_PIXELS:
        return face.copy()
    out = np.empty_like(face)
    for c in range(3):
        lut = _channel_lut(face[..., c][m], target[..., c][m])
        out[..., c] = cv2.LUT(np.ascontiguousarray(face[..., c]), lut)
    return out


def _local_gain(face: np.ndarray, target: np.ndarray, m: np.ndarray, luma: bool,
                sigma_ratio: float = _RATIO_SIGMA) -> np.ndarray:
    """``(H, W, C)`` ``float32`` ratio of the Gaussian-blurred masked target and face (C = 1 for luma).

    The blurs are normalised by the blurred mask, so pixels outside it (and holes in it, such as
    eyes and mouth) do not leak in: there the gain is interpolated from the skin around.
    """
    gain, factor = _filled_grid(face, target, m, luma, sigma_ratio)
    return _full_size(gain, factor, m.shape)


def _filled_grid(face: np.ndarray, target: np.ndarray, m: np.ndarray, luma: bool,
                 sigma_ratio: float) -> tuple[np.ndarray, int]:
    """:func:`_gain_grid`'s gain filled where it is not measured, and its grid's ``factor``."""
    gain, known, factor = _gain_grid(face, target, m, luma, sigma_ratio)
    if known.any():
        # Where the mask is sparse or absent (eyes, mouth, forehead, outside) the ratio is noise or
        # undefined: carry the gain there smoothly from where it is measured (a membrane fill)
        gain = harmonic_fill(gain, known)
    return gain, factor


def _gain_grid(face: np.ndarray, target: np.ndarray, m: np.ndarray, luma: bool,
               sigma_ratio: float) -> tuple[np.ndarray, np.ndarray, int]:
    """The unfilled gain on a grid ``factor`` px apart: ``(h, w, C)`` ``float32``, where it is
    measured ``(h, w)`` ``bool``, and ``factor``."""
    _, _, bw, bh = cv2.boundingRect(m)
    sigma = max(1.0, sigma_ratio * max(bw, bh))
    # Everything here is smooth at the scale of sigma: work on a grid ~sigma/3 px apart
    factor = max(1, round(sigma / 3.0))
    small_sigma = sigma / factor

    def low_pass(image: np.ndarray) -> np.ndarray:
        small = shrink(image, factor)
        if luma and small.ndim == 3:
            small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)  # grey is linear: shrink first
        small = cv2.GaussianBlur(small.astype(np.float32), (0, 0), small_sigma)
        return small.reshape(small.shape[0], small.shape[1], -1)

    weight = low_pass(m * np.uint8(255)) / 255.0
    blur_f = low_pass(cv2.bitwise_and(face, face, mask=m))
    blur_t = low_pass(cv2.bitwise_and(target, target, mask=m))
    # (t + 1) / (f + 1) of the masked means; the +1 keeps dark pixels from giving wild ratios
    gain = ((blur_t + weight) / (blur_f + weight + 1e-6)).astype(np.float32)
    return gain, weight[..., 0] > 0.3, factor


def _full_size(gain: np.ndarray, factor: int, shape: tuple[int, ...]) -> np.ndarray:
    """A grid gain clipped to [1/2, 2] and brought to ``shape`` ``(H, W)``: ``(H, W, C)`` ``float32``."""
    h, w = shape[:2]
    gain = np.clip(gain, 1 / _MAX_GAIN, _MAX_GAIN).astype(np.float32)
    return expand(gain, factor, (w, h)).reshape(h, w, -1)


def _apply_gain(face: np.ndarray, gain: np.ndarray) -> np.ndarray:
    if gain.shape[2] == 1:
        gain = cv2.merge([gain, gain, gain])
    return cv2.multiply(face, gain, dtype=cv2.CV_8U)  # saturating, rounded


@register_color_matcher("ratio")
def ratio(face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Local correction: multiply each RGB channel by the ratio of Gaussian-blurred target and face.

    The "Gaussian ratio" of the classic landmark swap (Mallick, "Face swap using OpenCV",
    LearnOpenCV 2016): low frequencies (shading, light colour) come from the target, detail from
    the face. The Gaussian's sigma is 4 % of the mask's longer side: wider keeps more of the
    face's own shading (and so its pose cues), narrower gives more of the target's. Gains are
    clipped to [1/2, 2]: beyond that the ratio only amplifies noise in dark areas.
    """
    return _gain_matched(face, target, mask, luma=False)


@register_color_matcher("rct-ratio")
def rct_ratio(face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Global colour by Reinhard's transfer, then the target's local shading by a *luminance* ratio.

    A per-channel local ratio tints the face wherever the two people's skin colours differ in
    different ways across the face (beard shadow, make-up); matching colour globally first and
    shading with one gain for R, G and B keeps the face's own, consistent colour. The global
    stage is :func:`rct_chroma_capped`.
    """
    return shade(rct_chroma_capped(face, target, mask), target, mask)  # each stage keeps a tiny mask's face


def rct_chroma_capped(face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """:func:`reinhard` with the a and b spreads never scaled up (the global stage of :func:`rct_ratio`).

    A target with more colourful skin than the new face would otherwise multiply the face's own
    non-skin hues: B as A in the demo drew her dark brows magenta-red on his pinker skin. Its
    lightness contrast is still matched. Arguments and result as a :class:`ColorMatcher`'s.
    """
    return reinhard(face, target, mask, (_MAX_STD_RATIO, 1.0, 1.0))


def shade(face: np.ndarray, target: np.ndarray, mask: np.ndarray, sigma: float = SHADE_SIGMA,
          edge: float = SHADE_EDGE) -> np.ndarray:
    """The target's local shading on ``face`` by one Gaussian *luminance* ratio for R, G and B
    (the second stage of :func:`rct_ratio`); arguments and result as a :class:`ColorMatcher`'s.

    ``sigma`` is the Gaussian's, as a fraction of the mask's longer side: at the default
    :data:`SHADE_SIGMA` (12 %) the light falling across the face; at 4 % the ratio also carries
    the target's nose, cheekbone and eye-socket shading (its face's relief, and its identity).
    Within ``edge`` (a fraction of the mask's longer side) of the mask's border the gain fades to
    the 4 % one, which matches the target's skin closely where the paste meets it (no seam);
    0 turns that off."""
    m = _check(face, target, mask).astype(np.uint8)
    if cv2.countNonZero(m) < MIN_PIXELS:
        return face.copy()
    if edge <= 0 or sigma <= _RATIO_SIGMA:
        return _apply_gain(face, _local_gain(face, target, m, luma=True, sigma_ratio=sigma))
    return _apply_gain(face, _edge_blended_gain(face, target, m, sigma, edge))


def _edge_blended_gain(face: np.ndarray, target: np.ndarray, m: np.ndarray, sigma: float,
                       edge: float) -> np.ndarray:
    """The ``sigma`` luminance gain, faded to the 4 % one within ``edge`` of the mask's border.

    Worked out on the 4 % gain's grid; that gain is used only where it is measured (it needs no
    membrane fill), the wide one everywhere else."""
    coarse, _ = _filled_grid(face, target, m, True, sigma)
    fine, known, step = _gain_grid(face, target, m, True, _RATIO_SIGMA)
    coarse = cv2.resize(coarse, fine.shape[1::-1], interpolation=cv2.INTER_LINEAR).reshape(fine.shape)
    _, _, bw, bh = cv2.boundingRect(m)
    inside = cv2.distanceTransform((shrink(m * np.uint8(255), step) > 127).astype(np.uint8), cv2.DIST_L2, 3)
    w = np.clip(1.0 - inside * step / (edge * max(bw, bh)), 0.0, 1.0)
    w = np.where(known, w, 0.0).astype(np.float32)[..., None]
    return _full_size(w * fine + (1.0 - w) * coarse, step, m.shape)


def _gain_matched(face: np.ndarray, target: np.ndarray, mask: np.ndarray, luma: bool,
                  sigma: float = _RATIO_SIGMA) -> np.ndarray:
    """``face`` times the local Gaussian ratio of ``target`` over it (one gain for R, G and B when
    ``luma``); a copy of ``face`` when the mask is too small to measure."""
    m = _check(face, target, mask).astype(np.uint8)
    if cv2.countNonZero(m) < MIN_PIXELS:
        return face.copy()
    return _apply_gain(face, _local_gain(face, target, m, luma=luma, sigma_ratio=sigma))


@register_color_matcher("none")
def none(face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """No correction: a copy of ``face``."""
    _check(face, target, mask)
    return face.copy()


def match_color(name: str, face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Run the colour matcher registered as ``name``: ``rct``, ``avg``, ``hist``, ``ratio``,
    ``rct-ratio`` or ``none``.

    Raises:
        RegistryError: no matcher is registered as ``name``.
    """
    return COLOR_MATCHERS.create(name)(face, target, mask)

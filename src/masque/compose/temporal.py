"""A colour correction that holds still over time: the matcher's global parameters smoothed per face.

A colour matcher measures its statistics on each frame anew. The mask it measures under moves
with the face, the mouth opens and shuts inside it, the generated face differs a little from
frame to frame: the statistics jitter, and a correction recomputed from them makes the pasted
face's colour flicker although the light in the scene did not change.

:class:`SmoothedColor` runs a matcher whose correction is one map for the whole face (``rct``,
``avg``; for ``rct-ratio``, its ``rct`` stage), reads the correction it made as a per-channel gain
and offset in (OpenCV 8-bit) CIE Lab (what it did to the masked pixels' mean and spread: for
``rct`` exactly its own parameters), and keeps an exponential moving average of them per tracked
face; the frame's correction is replaced by the averaged one. ``rct-ratio``'s second stage, the
target's local shading, then runs on each frame as it is: it is normalised by the mask locally,
so it barely flickers, and averaging its output as one map would make it flicker (measured).
``ratio``, ``hist`` and plugin matchers run on each frame alone. A new track (a new face, or
every face after a scene cut) starts from its first frame's own correction.

>>> import numpy as np
>>> smoother = SmoothedColor("avg", keep=0.5)
>>> mask = np.full((8, 8), 255, np.uint8); face = np.full((8, 8, 3), 100, np.uint8)
>>> [int(smoother(1, face, np.full((8, 8, 3), v, np.uint8), mask)[0, 0, 1]) for v in (140, 140, 100)]
[140, 140, 120]
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from masque.compose.blend import shrink
from masque.compose.color import COLOR_MATCHERS, MIN_PIXELS, ColorMatcher, rct_chroma_capped, shade
from masque.errors import ConfigError

#: matchers whose correction is one map for the whole face, smoothed as they are (``rct-ratio``:
#: its ``rct`` stage); the others (``ratio``, ``hist``, plugins) are measured on each frame alone
GLOBAL_MATCHERS = frozenset({"rct", "avg"})

def lab_stats(image: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """Per-channel mean and spread of ``image`` in 8-bit Lab over ``mask``, ``(2, 3)`` ``float64``.

    Measured on half-size copies, as :func:`masque.compose.color.rct` measures.

    Args:
        image: ``(H, W, 3)`` ``uint8`` RGB.
        mask: ``(H, W)`` ``uint8``, non-zero where measured.

    Returns:
        ``[mean, std]`` rows, or ``None`` when the mask has fewer than ``MIN_PIXELS`` pixels.
    """
    m2 = (shrink((mask > 0).astype(np.uint8) * np.uint8(255), 2) > 127).astype(np.uint8)
    if cv2.countNonZero(m2) < MIN_PIXELS:
        return None
    mean, std = cv2.meanStdDev(cv2.cvtColor(shrink(image, 2), cv2.COLOR_RGB2LAB), mask=m2)
    return np.stack([mean.ravel(), std.ravel()])


class SmoothedColor:
    """A colour matcher whose global correction is an exponential moving average per track.

    Args:
        matcher: a registered colour matcher's name (``rct``, ``rct-ratio``, ``avg``...).
        keep: share of the previous frame's parameters kept each frame, in [0, 1): 0 is the
            plain matcher, 0.8 a time constant of about 5 frames.

    Call it as ``smoother(track, face, target, mask)``; ``face``, ``target``, ``mask`` as a
    :class:`~masque.compose.color.ColorMatcher` takes them, ``track`` the face's track number
    (:class:`masque.face.TrackedFace`). :meth:`bind` gives a plain matcher for one track.
    """

    def __init__(self, matcher: str, keep: float = 0.8) -> None:
        if not 0.0 <= keep < 1.0:
            raise ConfigError(f"colour smoothing must be in [0, 1), got {keep}")
        self.matcher: ColorMatcher = COLOR_MATCHERS.create(matcher)
        self.name = matcher
        # rct-ratio is rct, then a local shading: the global stage is smoothed, the shading follows each frame
        self._global: ColorMatcher | None = (rct_chroma_capped if matcher == "rct-ratio" else
                                             self.matcher if matcher in GLOBAL_MATCHERS else None)
        self.keep = keep
        self._state: dict[int, np.ndarray] = {}

    def reset(self) -> None:
        """Forget every track (between unrelated files)."""
        self._state.clear()

    def retain(self, tracks: Iterable[int]) -> None:
        """Forget the tracks not in ``tracks`` (faces no longer followed)."""
        live = set(tracks)
        self._state = {k: v for k, v in self._state.items() if k in live}

    def __call__(self, track: int, face: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The matcher's ``(H, W, 3)`` ``uint8`` RGB output with this track's smoothed global correction."""
        if self.keep == 0.0 or self._global is None:
            return self.matcher(face, target, mask)
        smoothed = self._smoothed(track, self._global(face, target, mask), face, mask)
        return shade(smoothed, target, mask) if self.name == "rct-ratio" else smoothed

    def _smoothed(self, track: int, matched: np.ndarray, face: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``matched`` (a global matcher's output for ``face``) with the track's averaged correction."""
        face_stats, after = lab_stats(face, mask), lab_stats(matched, mask)
        if face_stats is None or after is None:
            return matched
        (f_mu, f_sd), (m_mu, m_sd) = face_stats, after
        gain = np.where(f_sd < 0.5, 1.0, m_sd / np.maximum(f_sd, 0.5))  # a flat channel says nothing of a gain
        now = np.stack([gain, m_mu - gain * f_mu])  # the correction: Lab ~ gain * face + offset
        previous = self._state.get(track)
        if previous is None:
            self._state[track] = now
            return matched
        smooth = self.keep * previous + (1.0 - self.keep) * now
        self._state[track] = smooth
        d_gain, d_off = (smooth - now).astype(np.float32)  # matched + (smooth - now) applied to the face
        lab = cv2.cvtColor(matched, cv2.COLOR_RGB2LAB).astype(np.float32)
        lab += cv2.cvtColor(face, cv2.COLOR_RGB2LAB).astype(np.float32) * d_gain + d_off
        return cv2.cvtColor(np.clip(lab + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)

    def bind(self, track: int) -> ColorMatcher:
        """A :class:`~masque.compose.color.ColorMatcher` for the face of ``track``."""
        def match(face: np.ndarray, target: np.ndarray, mask: np.ndarray, /) -> np.ndarray:
            return self(track, face, target, mask)
        return match

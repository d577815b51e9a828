"""``masque liveness``: a live person in front of the camera, or a photo or screen held up to it?

Four signals from the face's 68 landmarks and skin over time, each a score in [0, 1] (1 = live):

- **motion**: a photo or a screen moves as one plane, so a homography maps one frame's landmarks
  onto another's up to landmark jitter; a live face turns in depth, talks and changes expression,
  which no homography explains (:func:`motion_signal`).
- **blink**: dips of the eye aspect ratio (Soukupova and Cech 2016) that recover within 0.5 s.
  Their absence says little in a clip of a few seconds (people blink every 2-10 s), so it is neutral there.
- **pulse** (rPPG): the POS projection (Wang et al. 2017) of the mean skin colour of cheeks and
  forehead, and how much of its 40-180 bpm spectrum one peak holds. Compressed video often hides
  it, so it weighs little.
- **texture**: a screen or a print re-filmed shows moire and a pixel grid, isolated peaks in the
  high frequencies of the face's spectrum, and often glare that clips the skin to white.

The verdict: live when the weighted mean is at least 0.5 and neither motion nor texture alone
says spoof (rigid planar motion, or a screen's spectrum, overrides the rest).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from masque.errors import NoFaceFoundError
from masque.face import FaceAnalyzer, align_face
from masque.face.expression import eye_aspect_ratio, mouth_openness
from masque.face.types import Face
from masque.media import VideoReader

#: weight of each signal in the combined score
WEIGHTS = {"motion": 0.45, "texture": 0.25, "blink": 0.15, "pulse": 0.15}


@dataclass(frozen=True)
class LivenessConfig:
    """How a clip is judged.

    Attributes:
        max_frames: frames read from the start of the clip.
        redetect_every: run the detector every N frames; landmarks follow the face in between.
        motion_lag_s: seconds between the frames whose landmarks a homography relates.
        veto: a motion or texture score below this says spoof whatever the others say.
    """

    max_frames: int = 600
    redetect_every: int = 10
    motion_lag_s: float = 0.5
    veto: float = 0.25


@dataclass(frozen=True)
class Signal:
    """One signal: its score in [0, 1] (1 = live), what it measured, and its series for the plot."""

    name: str
    score: float
    detail: str
    series: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 3), "detail": self.detail}


@dataclass(frozen=True)
class LivenessReport:
    """The signals of a clip, their weighted score and the verdict."""

    path: str
    frames: int
    fps: float
    signals: dict[str, Signal]
    score: float
    live: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "frames": self.frames, "fps": round(self.fps, 3), "score": round(self.score, 3),
                "live": self.live, "reason": self.reason, "signals": {k: s.to_dict() for k, s in self.signals.items()}}

    def summary(self) -> str:
        lines = [f"{self.path}: {'LIVE' if self.live else 'SPOOF (photo or screen?)'} (score {self.score:.2f}; "
                 f"{self.reason})"]
        lines += [f"  {s.name:8s} {s.score:.2f}  {s.detail}" for s in self.signals.values()]
        return "\n".join(lines)


@dataclass
class _Track:
    landmarks: list[np.ndarray] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    skin: list[np.ndarray] = field(default_factory=list)
    crops: list[np.ndarray] = field(default_factory=list)


def track_face(path: Path, analyzer: FaceAnalyzer, config: LivenessConfig) -> tuple[_Track, int, float]:
    """Landmarks, mean skin colour and a few aligned crops of the largest face, frame by frame."""
    reader = VideoReader(path)
    fps = float(reader.info.fps)
    track, prev, n = _Track(), None, 0
    for i, frame in enumerate(reader):
        if i >= config.max_frames:
            break
        n += 1
        face: Face | None
        if prev is None or i % config.redetect_every == 0:
            faces = analyzer.detect(frame)
            face = faces[0] if faces else None
        else:
            face = analyzer.relocate(frame, prev)
        prev = face
        if face is None:
            continue
        track.landmarks.append(face.landmarks.astype(np.float64))
        track.frames.append(i)
        track.skin.append(skin_colour(frame, face.landmarks))
        if len(track.crops) < 12 and i % 5 == 0:
            track.crops.append(align_face(frame, face.landmarks, 128, "face").image)
    return track, n, fps


def skin_colour(frame: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """Mean RGB of both cheeks and the forehead, ``(3,)`` ``float64``."""
    eye_l, eye_r, nose = lm[36:42].mean(0), lm[42:48].mean(0), lm[30]
    iod = float(np.linalg.norm(eye_r - eye_l))
    r = max(2, int(0.22 * iod))
    brow = lm[17:27].mean(0)
    centres = [(eye_l + nose) / 2 + [0, 0.25 * iod], (eye_r + nose) / 2 + [0, 0.25 * iod], brow - [0, 0.35 * iod]]
    vals = []
    h, w = frame.shape[:2]
    for cx, cy in centres:
        x0, y0, x1, y1 = int(cx) - r, int(cy) - r, int(cx) + r, int(cy) + r
        patch = frame[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
        if patch.size:
            vals.append(patch.reshape(-1, 3).mean(0))
    return np.mean(vals, 0) if vals else np.zeros(3)


def _iod(lm: np.ndarray) -> float:
    return float(np.linalg.norm(lm[42:48].mean(0) - lm[36:42].mean(0)))


def homography_residuals(landmarks: list[np.ndarray], lag: int) -> np.ndarray:
    """Per frame pair ``lag`` apart: RMS residual of the best homography, in inter-ocular distances."""
    res = []
    for a, b in zip(landmarks[:-lag], landmarks[lag:]):
        h, _ = cv2.findHomography(a, b, 0)
        if h is None:
            continue
        proj = cv2.perspectiveTransform(a.reshape(-1, 1, 2), h).reshape(-1, 2)
        res.append(float(np.sqrt(((proj - b) ** 2).sum(1).mean())) / _iod(b))
    return np.asarray(res)


def motion_signal(landmarks: list[np.ndarray], fps: float, lag_s: float) -> Signal:
    """Non-rigid motion: what no homography explains, and how much the mouth's shape changes.

    Landmark jitter alone leaves a residual too, the same between neighbouring frames as between
    frames ``lag_s`` apart; a live face's expression and depth rotation add to it over time. So
    the measure is the ratio of the two residuals (live fixture clips 2.9-3.0, a photo panned,
    zoomed and tilted 1.07-1.17), with the spread of the mouth's openness beside it (5-95th
    percentile: talking clips 0.22-0.29, photos 0.03-0.07). Either one showing life suffices.
    """
    lag = max(2, int(round(lag_s * fps)))
    if len(landmarks) < lag + 3:
        return Signal("motion", 0.5, "too few tracked frames to judge motion")
    near, far = homography_residuals(landmarks, 1), homography_residuals(landmarks, lag)
    ratio = float(np.percentile(far, 75) / max(float(np.median(near)), 1e-6))
    mouth = np.array([mouth_openness(lm) for lm in landmarks])
    spread = float(np.percentile(mouth, 95) - np.percentile(mouth, 5))
    score = max(float(np.clip((ratio - 1.4) / 0.8, 0, 1)), float(np.clip((spread - 0.08) / 0.07, 0, 1)))
    return Signal("motion", score, f"non-planar residual grows {ratio:.2f}x over {lag_s:g} s (a plane: about 1, "
                  f"live above 2.2); mouth openness spread {spread:.3f} (still above 0.08)",
                  {"residual": far, "jitter": near})


def blink_signal(landmarks: list[np.ndarray], fps: float) -> Signal:
    """Blinks: eye aspect ratio below 75% of its median, back within 0.5 s."""
    ear = np.array([eye_aspect_ratio(lm) for lm in landmarks])
    if len(ear) < 5:
        return Signal("blink", 0.5, "too few frames")
    base = float(np.median(ear))
    low = ear < 0.75 * base
    blinks, run = 0, 0
    for v in [*list(low), False]:
        if v:
            run += 1
        else:
            blinks += int(0 < run <= max(2, int(0.5 * fps)))
            run = 0
    seconds = len(ear) / fps
    if blinks:
        score, detail = 1.0, f"{blinks} blink(s) in {seconds:.1f} s"
    else:  # none in 10 s or more is odd; in a short clip it says nothing
        score = float(np.clip(0.5 - 0.4 * (seconds - 5) / 10, 0.1, 0.5))
        detail = f"no blink in {seconds:.1f} s"
    return Signal("blink", score, detail, {"ear": ear, "threshold": np.full_like(ear, 0.75 * base)})


def pulse_signal(skin: list[np.ndarray], fps: float) -> Signal:
    """rPPG by POS: share of the 40-180 bpm spectrum in its strongest peak."""
    rgb = np.asarray(skin, np.float64)
    if len(rgb) < 4 * fps or fps <= 0:
        return Signal("pulse", 0.5, f"clip too short for a pulse ({len(rgb) / max(fps, 1):.1f} s < 4 s)")
    win = int(1.6 * fps)
    h = np.zeros(len(rgb))
    proj = np.array([[0, 1, -1], [-2, 1, 1]], np.float64)
    for t in range(len(rgb) - win + 1):  # POS, overlap-added over 1.6 s windows
        c = rgb[t:t + win] / np.maximum(rgb[t:t + win].mean(0), 1e-6)
        s = c @ proj.T
        p = s[:, 0] + (s[:, 0].std() / max(s[:, 1].std(), 1e-9)) * s[:, 1]
        h[t:t + win] += p - p.mean()
    spec = np.abs(np.fft.rfft(h * np.hanning(len(h)))) ** 2
    freqs = np.fft.rfftfreq(len(h), 1 / fps)
    band = (freqs >= 40 / 60) & (freqs <= 180 / 60)
    if band.sum() < 3 or spec[band].sum() <= 0:
        return Signal("pulse", 0.5, "no usable spectrum")
    k = int(np.argmax(np.where(band, spec, 0)))
    near = band & (np.abs(freqs - freqs[k]) <= 0.1)
    share = float(spec[near].sum() / spec[band].sum())
    score = float(np.clip(0.3 + (share - 0.15) / 0.3 * 0.7, 0, 1))
    return Signal("pulse", score, f"peak at {60 * freqs[k]:.0f} bpm holds {share:.0%} of the 40-180 bpm band",
                  {"signal": h, "freqs": freqs[band] * 60, "spectrum": spec[band]})


def texture_signal(crops: list[np.ndarray]) -> Signal:
    """Screen/print texture: isolated high-frequency spectral peaks (moire) and clipped glare."""
    if not crops:
        return Signal("texture", 0.5, "no face crop")
    peaks, glare = [], []
    size = crops[0].shape[0]
    yy, xx = np.mgrid[:size, :size] - size // 2
    rad = np.sqrt(xx**2 + yy**2) / (size / 2)
    ring = (rad > 0.3) & (rad < 0.95)
    win = np.outer(np.hanning(size), np.hanning(size))
    for c in crops:
        g = cv2.cvtColor(c, cv2.COLOR_RGB2GRAY).astype(np.float64)
        g = g - cv2.GaussianBlur(g, (0, 0), 2.0)  # the high frequencies only
        mag = np.abs(np.fft.fftshift(np.fft.fft2(g * win)))
        vals = mag[ring]
        peaks.append(float(np.percentile(vals, 99.9) / max(np.median(vals), 1e-9)))
        glare.append(float((c.max(2) >= 250).mean()))
    peak, clipped = float(np.median(peaks)), float(np.median(glare))
    # measured: fixture faces 6-9 (peak / median of the ring); a screen's moire 15 and up
    score = float(np.clip(1 - (peak - 10) / 8, 0, 1)) * float(np.clip(1 - (clipped - 0.03) / 0.1, 0, 1))
    return Signal("texture", score, f"spectral peak ratio {peak:.1f} (screen above 12), glare {clipped:.1%} "
                  "of the face", {"peaks": np.asarray(peaks)})


def check_liveness(path: str | os.PathLike[str], analyzer: FaceAnalyzer | None = None,
                   config: LivenessConfig | None = None) -> LivenessReport:
    """Judge a clip (see the module docstring).

    Raises:
        InputNotFoundError, InvalidMediaError: the video cannot be read.
        NoFaceFoundError: no face in enough of its frames.
    """
    config = config or LivenessConfig()
    path = Path(path)
    track, n, fps = track_face(path, analyzer or FaceAnalyzer(), config)
    if len(track.landmarks) < max(5, n // 4):
        raise NoFaceFoundError(f"{path}: a face was found in {len(track.landmarks)} of {n} frames; liveness needs "
                               "one face in most frames, facing the camera")
    signals = {s.name: s for s in (motion_signal(track.landmarks, fps, config.motion_lag_s),
                                   blink_signal(track.landmarks, fps), pulse_signal(track.skin, fps),
                                   texture_signal(track.crops))}
    score = sum(WEIGHTS[k] * s.score for k, s in signals.items())
    vetoes = [k for k in ("motion", "texture") if signals[k].score < config.veto]
    live = score >= 0.5 and not vetoes
    reason = (f"{' and '.join(vetoes)} says spoof" if vetoes else "weighted score below 0.5" if not live
              else "non-planar motion and natural texture")
    return LivenessReport(str(path), n, fps, signals, float(score), live, reason)

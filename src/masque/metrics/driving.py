"""Measuring an animation against its driving video (``masque evaluate --driving``).

The output of ``masque animate`` (or any tool that makes a photo follow a driving video) is
compared frame by frame with the driving video, on faces measured by **mediapipe's face mesh**,
a different landmark model from the dlib one that drives masque's warp (so a warp that moved
dlib's points exactly where asked would not score itself):

- **identity**: dlib ResNet distance of the output's face to the photo's (every ``every``-th
  frame); the same person is below 0.6, the goal is 0.45 or less on 95 % of frames;
- **expression**: mouth opening (inner-lip gap) and eye opening (lid gap), each in
  inter-ocular distances; each face's own shape is removed by subtracting its median over the
  clip (a photo with a wider mouth is not an error), then the Pearson correlation of output
  and driving, and the mean absolute difference in inter-ocular distances;
- **pose**: yaw, pitch and roll (solvePnP on the mesh), each minus its own median (motion is
  relative: the photo need not face the way the driving face does), mean absolute error over
  the frames whose driving rotation is within 25 degrees of its median, and the share of those
  frames with yaw and pitch both within 4 degrees;
- **jitter**: median frame-to-frame acceleration of the mesh points (second difference) in
  inter-ocular distances, output and driving, and their ratio (1: as steady as the driving face).

Nothing here imports the animation code: it reads two video files and a photo.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from masque.errors import InvalidMediaError, NoFaceFoundError
from masque.face import FaceAnalyzer
from masque.face.mesh_mediapipe import FaceMesh, mesh_eye_opening, mesh_inter_ocular, mesh_mouth_opening, mesh_pose
from masque.face.types import identity_distance
from masque.media import VideoReader, probe_video, read_image

#: identity goal: distance to the photo at most this on 95 % of frames
IDENTITY_GOAL = 0.45
#: driving rotations (from their median) within which pose is scored, and the error goal
POSE_RANGE, POSE_GOAL = 25.0, 4.0


@dataclass
class DrivingSeries:
    """Per-frame measures of one video (NaN where no face was found)."""

    mouth: list[float] = field(default_factory=list)
    eyes: list[float] = field(default_factory=list)
    pose: list[tuple[float, float, float]] = field(default_factory=list)
    jitter: list[float] = field(default_factory=list)
    _prev: list[np.ndarray | None] = field(default_factory=list)

    def add(self, points: np.ndarray | None, size: tuple[int, int]) -> None:
        nan = float("nan")
        if points is None:
            self.mouth.append(nan)
            self.eyes.append(nan)
            self.pose.append((nan, nan, nan))
            self.jitter.append(nan)
            self._prev = []
            return
        self.mouth.append(mesh_mouth_opening(points))
        self.eyes.append(mesh_eye_opening(points))
        self.pose.append(mesh_pose(points, size))
        xy = points[:, :2]
        if len(self._prev) == 2 and self._prev[0] is not None and self._prev[1] is not None:
            accel = xy - 2 * self._prev[1] + self._prev[0]
            self.jitter.append(float(np.median(np.linalg.norm(accel, axis=1))) / max(mesh_inter_ocular(points), 1e-6))
        else:
            self.jitter.append(nan)
        self._prev = [*self._prev, xy][-2:]


def _centred(values: list[float]) -> np.ndarray:
    a = np.asarray(values, np.float64)
    return a - np.nanmedian(a) if np.isfinite(a).any() else a


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) < 1e-9 or np.std(b[ok]) < 1e-9:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def _mae(a: np.ndarray, b: np.ndarray) -> float:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.abs(a[ok] - b[ok]).mean()) if ok.any() else float("nan")


@dataclass(frozen=True)
class DrivingReport:
    """Per-frame measures of an animation and its driving video, and the photo distances."""

    output: DrivingSeries
    driving: DrivingSeries
    identity: tuple[float, ...]

    def summary(self) -> dict[str, Any]:
        """Identity, expression, pose and jitter figures (see the module's description)."""
        ident = np.asarray(self.identity, np.float64)
        found = ident[np.isfinite(ident)]
        out_pose = np.asarray(self.output.pose, np.float64).reshape(-1, 3)
        drv_pose = np.asarray(self.driving.pose, np.float64).reshape(-1, 3)
        out_c = out_pose - np.nanmedian(out_pose, axis=0)
        drv_c = drv_pose - np.nanmedian(drv_pose, axis=0)
        scored = np.all(np.abs(drv_c) <= POSE_RANGE, axis=1) & np.all(np.isfinite(out_c), axis=1)
        err = np.abs(out_c - drv_c)[scored]
        within = np.all(err[:, :2] <= POSE_GOAL, axis=1) if len(err) else np.zeros(0, bool)
        mouth_o, mouth_d = _centred(self.output.mouth), _centred(self.driving.mouth)
        eyes_o, eyes_d = _centred(self.output.eyes), _centred(self.driving.eyes)
        jit_o, jit_d = np.nanmedian(self.output.jitter), np.nanmedian(self.driving.jitter)
        return _finite({
            "frames": len(self.output.mouth),
            "faces_found": {"output": int(np.isfinite(self.output.mouth).sum()),
                            "driving": int(np.isfinite(self.driving.mouth).sum())},
            "identity": {"frames": int(len(found)), "mean": float(found.mean()) if len(found) else None,
                         "within_goal": float((found <= IDENTITY_GOAL).mean()) if len(found) else None,
                         "same_person": float((found < 0.6).mean()) if len(found) else None,
                         "missing": int(len(ident) - len(found))},
            "expression": {"mouth_corr": _corr(mouth_o, mouth_d), "eyes_corr": _corr(eyes_o, eyes_d),
                           "mouth_mae_iod": _mae(mouth_o, mouth_d), "eyes_mae_iod": _mae(eyes_o, eyes_d)},
            "pose": {"frames": int(scored.sum()),
                     "yaw_err": float(err[:, 0].mean()) if len(err) else None,
                     "pitch_err": float(err[:, 1].mean()) if len(err) else None,
                     "roll_err": float(err[:, 2].mean()) if len(err) else None,
                     "within_goal": float(within.mean()) if len(err) else None},
            "jitter": {"output": float(jit_o), "driving": float(jit_d),
                       "ratio": float(jit_o / jit_d) if jit_d > 0 else None},
        })


def _finite(obj: Any) -> Any:
    """The summary with NaN (nothing measured) as None, so that it is valid JSON."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def evaluate_driving(output: str | os.PathLike[str], driving: str | os.PathLike[str],
                     photo: str | os.PathLike[str], every: int = 10, analyzer: FaceAnalyzer | None = None,
                     progress: Callable[[int, int | None], None] | None = None) -> DrivingReport:
    """Measure the animation ``output`` against its ``driving`` video and the ``photo`` it animates.

    Raises:
        InvalidMediaError: the two videos have different frame counts.
        NoFaceFoundError: the photo has no face.
        MissingDependencyError: mediapipe is not installed.
    """
    out_info, drv_info = probe_video(output), probe_video(driving)
    if out_info.frames and drv_info.frames and out_info.frames != drv_info.frames:
        raise InvalidMediaError(f"{output} has {out_info.frames} frames and the driving video {driving} "
                                f"{drv_info.frames}: an animation has one frame per driving frame")
    analyzer = analyzer or FaceAnalyzer()
    faces = analyzer.analyze(read_image(photo))
    if not faces:
        raise NoFaceFoundError(f"no face found in the photo {photo}")
    reference = faces[0].embedding
    meshes = (FaceMesh(), FaceMesh())
    series = (DrivingSeries(), DrivingSeries())
    identity: list[float] = []
    try:
        for i, (out, drv) in enumerate(zip(VideoReader(Path(output)), VideoReader(Path(driving)))):
            for mesh, s, frame in zip(meshes, series, (out, drv)):
                s.add(mesh.landmarks(frame), frame.shape[:2])
            if i % every == 0:
                found = analyzer.analyze(out)
                identity.append(identity_distance(found[0].embedding, reference)  # type: ignore[arg-type]
                                if found else float("nan"))
            if progress is not None:
                progress(i + 1, drv_info.frames or None)
    finally:
        for mesh in meshes:
            mesh.close()
    return DrivingReport(series[0], series[1], tuple(identity))


def format_driving(summary: dict[str, Any]) -> str:
    """The summary as lines of text, each goal marked met or not."""

    def f(v: Any, spec: str = ".3f") -> str:
        return "n/a" if v is None or (isinstance(v, float) and not np.isfinite(v)) else format(v, spec)

    ident, expr, pose, jit = summary["identity"], summary["expression"], summary["pose"], summary["jitter"]
    lines = [
        f"frames: {summary['frames']} (faces found: output {summary['faces_found']['output']}, "
        f"driving {summary['faces_found']['driving']})",
        f"identity to photo: mean {f(ident['mean'])}, <= {IDENTITY_GOAL} on {f(ident['within_goal'], '.1%')} "
        f"of {ident['frames']} frames (goal 95 %), same person (< 0.6) on {f(ident['same_person'], '.1%')}",
        f"expression: mouth opening corr {f(expr['mouth_corr'])}, eye opening corr {f(expr['eyes_corr'])} "
        f"(goal >= 0.8); mean abs diff mouth {f(expr['mouth_mae_iod'])} / eyes {f(expr['eyes_mae_iod'])} "
        "inter-ocular",
        f"pose (driving within +-{POSE_RANGE:g} deg, {pose['frames']} frames): yaw err {f(pose['yaw_err'], '.2f')}, "
        f"pitch err {f(pose['pitch_err'], '.2f')}, roll err {f(pose['roll_err'], '.2f')} deg; yaw and pitch "
        f"within {POSE_GOAL:g} deg on {f(pose['within_goal'], '.1%')}",
        f"jitter (median point acceleration, inter-ocular): output {f(jit['output'], '.4f')}, driving "
        f"{f(jit['driving'], '.4f')}, ratio {f(jit['ratio'], '.2f')}",
    ]
    return "\n".join(lines)

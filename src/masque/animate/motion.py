"""Relative facial motion, as First Order Motion transfers it: what changed on the driving face
since a reference frame, applied to another face's own landmarks.

Every face is put in a **canonical frame**: the similarity (rotation, uniform scale, translation)
that lays its rigid points (nose and eye corners, which expressions barely move) onto a template
with the eyes' centres at ``(-0.5, 0)`` and ``(0.5, 0)``, so one unit is the inter-ocular
distance. In that frame a driving frame differs from the reference by

- a **rigid motion** (:class:`Rigid`: the change of the similarity, i.e. roll, scale and
  translation in inter-ocular units), and
- a **turn in depth** (yaw and pitch since the reference, from :func:`masque.face.pose.head_rotation`),
  applied to the photo's landmarks lifted onto a generic depth profile (:data:`DEPTH`), so a
  nod or a turn foreshortens the photo's own face as a head would, and
- an **expression delta** ``(68, 2)``: how each landmark moved beyond what the rigid motion and
  the turn explain (mouth, lids, brows).

:func:`drive` adds the delta to the photo's canonical landmarks and applies the rigid motion in
the photo's own frame, so the photo keeps its face shape and only the *change* is transferred
(a wide driving face does not widen the photo's). When the photo is the reference frame itself,
the driving landmarks are reproduced exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from masque.face.expression import eye_aspect_ratio, mouth_openness
from masque.face.pose import head_rotation

#: nose bridge and base and the four eye corners: the points a canonical frame is fitted on
RIGID = np.array([27, 28, 29, 30, 31, 33, 35, 36, 39, 42, 45])
#: what expression moves: the jaw below the ears (a dropping chin), brows, lids, lips
EXPRESSION = np.r_[3:14, 17:27, 36:48, 48:68]


#: generic depth of the 68 landmarks behind the nose tip, in mm (after the 14 points of
#: :mod:`masque.face.pose`'s model, the others filled in along the face's curve)
_DEPTH_MM = np.array([
    95, 88, 78, 66, 60, 48, 35, 22, 12.5, 22, 35, 48, 60, 66, 78, 88, 95,  # jaw
    45, 33, 26, 22, 20, 20, 22, 26, 33, 45,  # brows
    17, 12, 7, 0, 12, 9, 8, 9, 12,  # nose
    26, 23, 22, 22, 22, 23, 22, 22, 23, 26, 23, 22,  # eyes
    24, 18, 14, 12, 14, 18, 24, 19, 15, 14, 15, 19,  # outer lips
    22, 16, 14, 16, 22, 16, 15, 16,  # inner lips
], np.float64)
#: the model's inter-ocular distance (mm): depth in canonical units
_IOD_MM = 58.0
DEPTH = _DEPTH_MM / _IOD_MM
#: where a head turns about, in canonical units (x, y, depth): between the ears, a little below the eyes
PIVOT = np.array([0.0, 0.3, 1.6])


def turn(points: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
    """Upright canonical landmarks ``(68, 2)`` turned in depth (generic :data:`DEPTH`) by ``yaw``
    and ``pitch`` (radians, camera axes: x right, y down, z away), projected back orthographically."""
    if yaw == 0.0 and pitch == 0.0:
        return np.asarray(points, np.float64)
    cy, sy, cp, sp = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch)
    rot = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]]) @ np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    lifted = np.column_stack([points, DEPTH]) - PIVOT
    return (lifted @ rot.T + PIVOT)[:, :2]


def relative_turn(now: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """``(yaw, pitch)`` radians of the rotation ``now @ reference.T`` between two ``(3, 3)``
    head rotations (roll, an in-plane turn, is left to the 2-D similarity)."""
    r = now @ reference.T
    pitch = float(np.arctan2(r[2, 1], r[2, 2]))
    yaw = float(np.arctan2(-r[2, 0], np.hypot(r[0, 0], r[1, 0])))
    return yaw, pitch


def fit_similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (Umeyama, no reflection) taking ``src`` ``(N, 2)`` onto ``dst``.

    Returns:
        ``(2, 3)`` ``float64`` matrix ``M`` with ``dst ~ src @ M[:, :2].T + M[:, 2]``.
    """
    a, b = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    ma, mb = a.mean(0), b.mean(0)
    ac, bc = a - ma, b - mb
    # complex-number form of the 2-D similarity: b = z * a, z = s * e^{i theta}
    za, zb = ac[:, 0] + 1j * ac[:, 1], bc[:, 0] + 1j * bc[:, 1]
    z = complex(np.vdot(za, zb) / max(float(np.vdot(za, za).real), 1e-12))
    lin = np.array([[z.real, -z.imag], [z.imag, z.real]])
    return np.hstack([lin, (mb - lin @ ma)[:, None]])


def apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``points`` ``(N, 2)`` through a ``(2, 3)`` affine ``matrix``."""
    p = np.asarray(points, np.float64)
    return p @ matrix[:, :2].T + matrix[:, 2]


def invert(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a ``(2, 3)`` affine matrix."""
    lin = np.linalg.inv(matrix[:, :2])
    return np.hstack([lin, (-lin @ matrix[:, 2])[:, None]])


def compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """``outer`` after ``inner`` for ``(2, 3)`` affine matrices."""
    return np.hstack([outer[:, :2] @ inner[:, :2], (outer[:, :2] @ inner[:, 2] + outer[:, 2])[:, None]])


def eye_frame(landmarks: np.ndarray) -> np.ndarray:
    """``(2, 3)`` similarity putting the eyes' centres of ``(68, 2)`` landmarks at ``(+-0.5, 0)``."""
    lm = np.asarray(landmarks, np.float64)
    left, right = lm[36:42].mean(0), lm[42:48].mean(0)
    return fit_similarity(np.stack([left, right]), np.array([[-0.5, 0.0], [0.5, 0.0]]))


@dataclass(frozen=True)
class Canonical:
    """One face in the canonical frame.

    Attributes:
        points: ``(68, 2)`` landmarks in canonical units (inter-ocular distance 1).
        to_image: ``(2, 3)`` similarity from canonical units back to the image's pixels.
    """

    points: np.ndarray
    to_image: np.ndarray


def canonical(landmarks: np.ndarray, template: np.ndarray) -> Canonical:
    """``landmarks`` ``(68, 2)`` laid onto ``template`` ``(68, 2)`` (canonical units) by :data:`RIGID`."""
    m = fit_similarity(np.asarray(landmarks)[RIGID], template[RIGID])
    return Canonical(apply(m, landmarks), invert(m))


def template_of(landmarks: np.ndarray) -> np.ndarray:
    """A face's own template: its ``(68, 2)`` landmarks in the frame of :func:`eye_frame`."""
    return apply(eye_frame(landmarks), landmarks)


@dataclass(frozen=True)
class Rigid:
    """A similarity in canonical units, kept as parameters so it can be smoothed and eased.

    Attributes:
        angle: rotation in radians (image y down: positive turns clockwise on screen).
        scale: size ratio.
        shift: ``(2,)`` translation in inter-ocular units.
    """

    angle: float = 0.0
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)

    @classmethod
    def from_matrix(cls, m: np.ndarray) -> Rigid:
        return cls(float(np.arctan2(m[1, 0], m[0, 0])), float(np.hypot(m[0, 0], m[1, 0])),
                   (float(m[0, 2]), float(m[1, 2])))

    def matrix(self) -> np.ndarray:
        c, s = self.scale * np.cos(self.angle), self.scale * np.sin(self.angle)
        return np.array([[c, -s, self.shift[0]], [s, c, self.shift[1]]])

    def toward(self, other: Rigid, weight: float) -> Rigid:
        """The motion ``weight`` of the way from this one to ``other`` (0 = this, 1 = ``other``)."""
        w = float(weight)
        return Rigid(self.angle + w * (other.angle - self.angle),
                     float(self.scale * (other.scale / self.scale) ** w),
                     (self.shift[0] + w * (other.shift[0] - self.shift[0]),
                      self.shift[1] + w * (other.shift[1] - self.shift[1])))


@dataclass(frozen=True)
class Motion:
    """What changed on the driving face since its reference frame.

    Attributes:
        rigid: the head's similarity motion, in the reference's canonical units.
        delta: ``(68, 2)`` ``float64`` expression: landmark motion in canonical units beyond
            the rigid motion and what the turn in depth explains.
        yaw, pitch: the head's turn in depth since the reference, radians (camera axes).
    """

    rigid: Rigid
    delta: np.ndarray
    yaw: float = 0.0
    pitch: float = 0.0

    @classmethod
    def still(cls) -> Motion:
        """No motion: the photo as it is."""
        return cls(Rigid(), np.zeros((68, 2)))

    def toward(self, other: Motion, weight: float) -> Motion:
        """Interpolation between two motions (``weight`` 0 = this, 1 = ``other``)."""
        w = float(weight)
        return Motion(self.rigid.toward(other.rigid, w), self.delta + w * (other.delta - self.delta),
                      self.yaw + w * (other.yaw - self.yaw), self.pitch + w * (other.pitch - self.pitch))


class MotionSource:
    """Measures driving frames against a reference frame.

    Args:
        reference: ``(68, 2)`` driving landmarks of the reference frame (pixels).
        image_size: ``(H, W)`` of the driving frames (the pose fit's camera).
    """

    def __init__(self, reference: np.ndarray, image_size: tuple[int, int]) -> None:
        self.size = image_size
        self.template = template_of(reference)
        self.reference = canonical(reference, self.template)
        self.rotation = head_rotation(reference, image_size)

    def motion(self, landmarks: np.ndarray) -> Motion:
        """The :class:`Motion` of driving landmarks ``(68, 2)`` (pixels) since the reference."""
        now = canonical(landmarks, self.template)
        # canonical -> reference pixels -> ... the head's motion seen in reference canonical units
        rigid = compose(invert(self.reference.to_image), now.to_image)
        rotation = head_rotation(landmarks, self.size)
        yaw, pitch = (0.0, 0.0) if rotation is None or self.rotation is None else relative_turn(rotation, self.rotation)
        # what the turn alone would have done to the reference face, laid on the template the same
        # way: the rest of the landmarks' motion is expression
        turned = turn(self.reference.points, yaw, pitch)
        posed = apply(fit_similarity(turned[RIGID], self.template[RIGID]), turned)
        delta = np.zeros((68, 2))
        # the nose and the upper jaw hold no expression: their residue is the generic depth
        # profile's mismatch with this face, which must not be handed to another face
        delta[EXPRESSION] = (now.points - posed)[EXPRESSION]
        return Motion(Rigid.from_matrix(rigid), delta, yaw, pitch)


def drive(photo: np.ndarray, motion: Motion, gain: float = 1.0) -> np.ndarray:
    """The photo's ``(68, 2)`` landmarks (pixels) moved by ``motion``: its canonical shape plus the
    driving delta (times ``gain``), then the driving head's rigid motion, in the photo's frame.

    Returns:
        ``(68, 2)`` ``float32`` landmarks in the photo's pixels.
    """
    to_image = invert(eye_frame(photo))
    own = apply(eye_frame(photo), photo)
    turned = turn(no_overlap(own + gain * motion.delta, own), motion.yaw, motion.pitch)
    # laid back on the photo's own rigid points, as the driving face was on its template
    posed = apply(fit_similarity(turned[RIGID], own[RIGID]), turned)
    moved = apply(motion.rigid.matrix(), posed)
    return apply(to_image, moved).astype(np.float32)


def rigid_map(photo: np.ndarray, rigid: Rigid) -> np.ndarray:
    """``(2, 3)`` matrix: the head's rigid motion in the photo's pixels (for hair, neck, ears)."""
    frame = eye_frame(photo)
    return compose(invert(frame), compose(rigid.matrix(), frame))


def reenact_points(target: np.ndarray, target_motion: Motion, source_motion: Motion,
                   points: np.ndarray = EXPRESSION) -> np.ndarray:
    """A target frame's landmarks with its own expression replaced by the source's.

    Args:
        target: ``(68, 2)`` target landmarks (pixels) of this frame.
        target_motion: the target's motion since its own reference frame.
        source_motion: the source actor's motion since theirs.
        points: which landmarks take the expression (default :data:`EXPRESSION`); the rest
            (nose, upper jaw, ears) keep the target's pose.

    Returns:
        ``(68, 2)`` ``float32`` landmarks: the target's head, the source's expression.
    """
    frame = eye_frame(target)
    own = apply(frame, target)
    change = np.zeros((68, 2))
    # both deltas are in canonical units, already turned back to each reference's upright frame
    change[points] = source_motion.delta[points] - target_motion.delta[points]
    return apply(invert(frame), no_overlap(own + change, own)).astype(np.float32)


#: (upper, lower) landmark pairs that meet when the lids or lips close
_CLOSING = (np.array([37, 38, 43, 44, 61, 62, 63]), np.array([41, 40, 47, 46, 67, 66, 65]))


def no_overlap(points: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Upright canonical landmarks ``(68, 2)`` with no lid or lip pushed past its partner further
    than in the face's own landmarks ``own`` (dlib puts closed lips a hair across each other).

    A delta measured from a reference whose eyes or mouth were more open than the photo's
    closes them "beyond closed": an upper lip below the lower one folds the mesh. Such pairs
    meet instead.
    """
    pts = np.array(points, np.float64)
    up, low = _CLOSING
    floor = np.minimum(own[low, 1] - own[up, 1], 0.0)  # the most the face itself crosses
    gap = pts[low, 1] - pts[up, 1]
    crossed = gap < floor
    mid = (pts[up, 1] + pts[low, 1]) / 2
    pts[up[crossed], 1] = (mid - floor / 2)[crossed]
    pts[low[crossed], 1] = (mid + floor / 2)[crossed]
    return pts


def match_score(candidate: np.ndarray, photo: np.ndarray, candidate_pose: tuple[float, float, float] | None,
                photo_pose: tuple[float, float, float] | None) -> float:
    """How unlike the photo a driving frame is, for choosing the reference frame (lower is better):
    yaw, pitch and roll differences in degrees, plus mouth openness difference (0.01 of lip gap
    over width counts as 3 degrees) and eye openness difference (0.01 counts as 1 degree)."""
    # the mouth above all: from a reference more open than the photo, the photo's mouth could
    # only open by what the driving mouth opens beyond that frame
    score = 300.0 * abs(mouth_openness(candidate) - mouth_openness(photo))
    score += 100.0 * abs(eye_aspect_ratio(candidate) - eye_aspect_ratio(photo))
    if candidate_pose is not None and photo_pose is not None:
        score += sum(abs(c - p) for c, p in zip(candidate_pose, photo_pose))
    return float(score)

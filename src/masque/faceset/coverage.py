"""What poses and expressions a face set covers, and what one set shows that another lacks.

A swap draws A's pose and expression with B's decoder, which can only draw what B's faces
showed it: A's wide-open mouth comes out half closed when B never opens its mouth, A's closed
eyes come out open. :func:`coverage` measures every face of a set from its index alone (pose
and landmarks, no image is decoded); :func:`coverage_against` names the bins A occupies and B
lacks.

Measures, per face (landmarks in the aligned crop, so scale and roll are taken out):

- **yaw, pitch**: degrees, as stored by extract (yaw > 0: turned toward the image's right;
  pitch > 0: tilted up).
- **eyes**: the eye aspect ratio (Soukupova and Cech 2016), the two lid gaps over the eye's
  width, averaged over both eyes. Closed below 0.14, half open below 0.22, open above.
  Calibrated on the fixture clips: shut eyes (crying, laughing) measure 0.02-0.13, squinting
  ones 0.15-0.21, open ones 0.23-0.39.
- **mouth**: the mean inner-lip gap (points 61-67, 62-66, 63-65) over the inner mouth's width
  (60-64). Closed below 0.08, open below 0.35, wide open above. Lips parted over the teeth
  in a smile measure 0.2-0.3 (dlib's inner-lip points follow the lips, not the teeth); closed
  lips 0-0.05; a yawn or a shout, whose gap nears the mouth's width, 0.5 and up.

Bins: yaw at -45, -30, -15, 15, 30, 45 degrees; pitch at -25, -10, 10, 25; eyes and mouth as
above; and the joint cells of the yaw band (image's left, below -15; facing, -15 to 15; image's
right, above 15) with the eye state and with the mouth state, for expressions that B shows
facing the camera but never turned.

A **gap** is a bin where A has at least ``min_share`` of its faces (1 %) and B has fewer than
``max(min_faces, min_share * len(B))`` faces (5, or 1 % of a big set): a bin that rare is seen
too seldom in training for the decoder to learn it. A joint cell is reported only when its
expression bin is not a gap already and some of A's faces in it lie in a yaw bin that is not one
either (otherwise the single bins have said it).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from masque.face.expression import eye_aspect_ratio, mouth_openness
from masque.faceset.store import FaceRecord, FaceSet

#: eye aspect ratio below which the eyes are closed / half open
EYES_CLOSED, EYES_HALF = 0.14, 0.22
#: inner-lip gap over mouth width below which the mouth is closed / open (above: wide open)
MOUTH_CLOSED, MOUTH_OPEN = 0.08, 0.35
#: B needs at least this many faces in a bin (or ``min_share`` of its faces, whichever is more)
MIN_FACES = 5
#: the share of a set that counts: A's bins below it are ignored, B needs at least it
MIN_SHARE = 0.01


@dataclass(frozen=True)
class FaceMeasure:
    """One face's pose and expression. ``eyes`` and ``mouth`` are ratios (see the module doc)."""

    id: int
    image: str
    yaw: float
    pitch: float
    eyes: float
    mouth: float


def measure(record: FaceRecord) -> FaceMeasure:
    """Pose, eye aspect ratio (mean of both eyes) and mouth opening of one indexed face."""
    lm = record.aligned_landmarks
    eyes, mouth = eye_aspect_ratio(lm), mouth_openness(lm)
    nan = float("nan")
    return FaceMeasure(record.id, record.image, nan if record.yaw is None else float(record.yaw),
                       nan if record.pitch is None else float(record.pitch), eyes, mouth)


@dataclass(frozen=True)
class Axis:
    """Fixed bins over one measure: ``edges`` split it into ``len(edges) + 1`` bins.

    ``labels`` are short (tables, JSON); ``phrases`` finish "faces ..." in a sentence.
    """

    name: str
    edges: tuple[float, ...]
    labels: tuple[str, ...]
    phrases: tuple[str, ...]
    value: Callable[[FaceMeasure], float] = field(repr=False)

    def index(self, face: FaceMeasure) -> int | None:
        """The bin of ``face``; None when its measure is unknown (NaN)."""
        v = self.value(face)
        return None if math.isnan(v) else int(np.searchsorted(self.edges, v, side="right"))

    def counts(self, faces: tuple[FaceMeasure, ...]) -> list[int]:
        out = [0] * (len(self.edges) + 1)
        for f in faces:
            k = self.index(f)
            if k is not None:
                out[k] += 1
        return out


_L, _R = "to the image's left", "to the image's right"
YAW = Axis("yaw", (-45, -30, -15, 15, 30, 45),
           ("< -45", "-45..-30", "-30..-15", "-15..15", "15..30", "30..45", "> 45"),
           (f"turned more than 45 degrees {_L}", f"turned 30-45 degrees {_L}", f"turned 15-30 degrees {_L}",
            "facing the camera (yaw within 15 degrees)", f"turned 15-30 degrees {_R}", f"turned 30-45 degrees {_R}",
            f"turned more than 45 degrees {_R}"), lambda f: f.yaw)
PITCH = Axis("pitch", (-25, -10, 10, 25), ("< -25", "-25..-10", "-10..10", "10..25", "> 25"),
             ("tilted down more than 25 degrees", "tilted down 10-25 degrees", "level (pitch within 10 degrees)",
              "tilted up 10-25 degrees", "tilted up more than 25 degrees"), lambda f: f.pitch)
EYES = Axis("eyes", (EYES_CLOSED, EYES_HALF), ("closed", "half", "open"),
            ("with the eyes closed", "with the eyes half open", "with the eyes open"), lambda f: f.eyes)
MOUTH = Axis("mouth", (MOUTH_CLOSED, MOUTH_OPEN), ("closed", "open", "wide"),
             ("with the mouth closed", "with the mouth open", "with the mouth wide open"), lambda f: f.mouth)
#: the yaw band of the joint cells
TURN = Axis("turn", (-15, 15), ("left", "facing", "right"),
            (f"turned {_L}", "facing the camera", f"turned {_R}"), lambda f: f.yaw)
AXES = (YAW, PITCH, EYES, MOUTH)
#: joint cells: (turn band, expression axis)
JOINT = ((TURN, EYES), (TURN, MOUTH))


@dataclass(frozen=True)
class Coverage:
    """The measured faces of one face set. ``path`` is the set's folder."""

    path: str
    faces: tuple[FaceMeasure, ...]

    def histogram(self, axis: Axis) -> dict[str, int]:
        """Faces per bin of ``axis``, by label, in bin order."""
        return dict(zip(axis.labels, axis.counts(self.faces), strict=True))

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "faces": len(self.faces),
                "histograms": {axis.name: self.histogram(axis) for axis in AXES}}


def coverage(faceset: FaceSet | str | os.PathLike[str]) -> Coverage:
    """Measure every face of ``faceset`` (an open set or its folder) from its index.

    Raises:
        FaceSetError, InputNotFoundError: the folder is not a readable face set.
    """
    if isinstance(faceset, FaceSet):
        return Coverage(str(faceset.root), tuple(measure(r) for r in faceset.faces()))
    with FaceSet(os.fspath(faceset)) as fs:
        return coverage(fs)


@dataclass(frozen=True)
class Gap:
    """A bin (or joint cell) that A's faces occupy and B has (almost) none of.

    Attributes:
        axis: ``yaw``, ``pitch``, ``eyes``, ``mouth``, or a joint cell's ``turn x eyes`` / ``turn x mouth``.
        bin: the bin's label (``"wide"``, ``"-30..-15"``, ``"left x closed"``).
        phrase: finishes "faces ..." (``"with the mouth wide open"``).
        a_faces, a_share: A's faces in the bin, and their share of A (0-1).
        b_faces, b_needed: B's faces in the bin, and how many would have been enough.
        examples: image paths (relative to A's folder) of a few of A's faces in the bin.
        example_ids: their face ids in A's index.
    """

    axis: str
    bin: str
    phrase: str
    a_faces: int
    a_share: float
    b_faces: int
    b_needed: int
    examples: tuple[str, ...]
    example_ids: tuple[int, ...]

    @property
    def text(self) -> str:
        """The gap in plain words, the sets called A and B."""
        return self.words()

    def words(self, a: str = "A", b: str = "B", examples: bool = True) -> str:
        """The gap in plain words, the sets called ``a`` and ``b``; the example paths unless ``examples`` is false.

        >>> Gap("mouth", "wide", "with the mouth wide open", 12, 0.12, 0, 5, ("a/faces/1.png",), (1,)).words()
        "B has no faces with the mouth wide open; 12 % of A's faces (12) are like that, e.g. a/faces/1.png"
        """
        has = "no faces" if self.b_faces == 0 else f"only {self.b_faces} face{'s' * (self.b_faces > 1)}"
        eg = f", e.g. {', '.join(self.examples)}" if examples and self.examples else ""
        share = f"{self.a_share * 100:.0f} % of {a}'s faces ({self.a_faces})"
        return f"{b} has {has} {self.phrase}; {share} are like that{eg}"

    def to_json(self) -> dict[str, object]:
        return {"axis": self.axis, "bin": self.bin, "a_faces": self.a_faces, "a_share": round(self.a_share, 4),
                "b_faces": self.b_faces, "b_needed": self.b_needed, "examples": list(self.examples),
                "example_ids": list(self.example_ids), "text": self.text}


def coverage_against(a: Coverage, b: Coverage, *, min_faces: int = MIN_FACES, min_share: float = MIN_SHARE,
                     examples: int = 3) -> list[Gap]:
    """What A's faces show that B's set cannot teach its decoder, most common in A first.

    Args:
        a, b: the two sets' coverage.
        min_faces, min_share: B needs ``max(min_faces, ceil(min_share * len(b)))`` faces in a bin;
            A's bins holding less than ``min_share`` of its faces are not reported.
        examples: how many of A's faces to name per gap (spread over the bin, in index order).
    """
    needed = max(min_faces, math.ceil(min_share * len(b.faces)))
    gaps: list[Gap] = []
    for axis in AXES:
        gaps += _gaps(a, b, [axis], needed, min_share, examples)
    flagged = {(g.axis, g.bin) for g in gaps}

    def said(face: FaceMeasure) -> bool:  # its pose bin is a gap already
        k = YAW.index(face)
        return k is not None and ("yaw", YAW.labels[k]) in flagged

    for turn, expr in JOINT:
        cells = _gaps(a, b, [turn, expr], needed, min_share, examples, skip=said)
        gaps += [g for g in cells if (expr.name, g.bin.split(" x ")[1]) not in flagged]
    return sorted(gaps, key=lambda g: -g.a_share)


def _gaps(a: Coverage, b: Coverage, axes: list[Axis], needed: int, min_share: float, examples: int,
          skip: Callable[[FaceMeasure], bool] | None = None) -> list[Gap]:
    """The gaps over the cells of ``axes`` (one axis: its bins; two: their joint cells).

    A cell is left out when ``skip`` is true of every one of A's faces in it.
    """
    def cell(face: FaceMeasure) -> tuple[int, ...] | None:
        idx = tuple(axis.index(face) for axis in axes)
        return None if None in idx else idx  # type: ignore[return-value]

    in_b: dict[tuple[int, ...], int] = {}
    for f in b.faces:
        if (c := cell(f)) is not None:
            in_b[c] = in_b.get(c, 0) + 1
    in_a: dict[tuple[int, ...], list[FaceMeasure]] = {}
    for f in a.faces:
        if (c := cell(f)) is not None:
            in_a.setdefault(c, []).append(f)
    out = []
    for c, faces in sorted(in_a.items()):
        share = len(faces) / len(a.faces)
        if share < min_share or in_b.get(c, 0) >= needed or (skip is not None and all(map(skip, faces))):
            continue
        picks = [faces[int(i)] for i in np.unique(np.linspace(0, len(faces) - 1, examples).round())]
        named = list(zip(axes, c, strict=True))
        out.append(Gap(" x ".join(ax.name for ax in axes), " x ".join(ax.labels[k] for ax, k in named),
                       " ".join(ax.phrases[k] for ax, k in named), len(faces), share,
                       in_b.get(c, 0), needed, tuple(os.path.join(a.path, f.image) for f in picks),
                       tuple(f.id for f in picks)))
    return out


class Supply:
    """What one face set can supply: per bin and joint cell, whether it has enough faces.

    Built once from the target person's :class:`Coverage`; :meth:`lacks` then names, for one
    face to be drawn (a frame's face in ``convert``), the bins that set is too thin in, by the
    same rule as :func:`coverage_against` (fewer than ``max(min_faces, min_share * len(set))``).

    >>> sup = Supply(Coverage("b", (FaceMeasure(0, "", 0.0, 0.0, 0.3, 0.02),) * 9))
    >>> sup.lacks(FaceMeasure(1, "", 0.0, 0.0, 0.3, 0.6))
    ('with the mouth wide open',)
    """

    def __init__(self, cov: Coverage, *, min_faces: int = MIN_FACES, min_share: float = MIN_SHARE) -> None:
        self.needed = max(min_faces, math.ceil(min_share * len(cov.faces)))
        self.counts = {axis.name: axis.counts(cov.faces) for axis in AXES}
        self.joint: dict[tuple[str, str], dict[tuple[int, int], int]] = {}
        for turn, expr in JOINT:
            cells: dict[tuple[int, int], int] = {}
            for f in cov.faces:
                i, j = turn.index(f), expr.index(f)
                if i is not None and j is not None:
                    cells[(i, j)] = cells.get((i, j), 0) + 1
            self.joint[(turn.name, expr.name)] = cells

    def lacks(self, face: FaceMeasure) -> tuple[str, ...]:
        """Phrases ("with the mouth wide open") of the bins of ``face`` the set is too thin in.

        A joint cell (turned and with the eyes closed) is named only when neither of its single
        bins is, as :func:`coverage_against` reports them.
        """
        out: list[str] = []
        thin: set[str] = set()
        for axis in AXES:
            k = axis.index(face)
            if k is not None and self.counts[axis.name][k] < self.needed:
                out.append(axis.phrases[k])
                thin.add(axis.name)
        for turn, expr in JOINT:
            i, j = turn.index(face), expr.index(face)
            if i is None or j is None or {"yaw", expr.name} & thin:
                continue
            if self.joint[(turn.name, expr.name)].get((i, j), 0) < self.needed:
                out.append(f"{turn.phrases[i]} {expr.phrases[j]}")
        return tuple(out)

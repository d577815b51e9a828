"""Which converted frames show a pose or expression the target's face set cannot supply.

The decoder of person B can only draw what B's face set showed it in training: where A opens
the mouth wide and B never did, the swap comes out with the mouth half closed, and nothing in
the output says so. ``masque faceset info A --against B`` and ``masque train`` warn of such gaps
before training; :class:`CoverageWatch` marks the frames where they bite, during ``convert``,
by measuring each swapped face (pose from the tracker, eye and mouth opening from its
landmarks) against the target set's bins (:class:`masque.faceset.coverage.Supply`).

The target set is the one recorded in the model card (``facesets``). When it is no longer
where training found it, nothing is marked and :attr:`CoverageWatch.note` says why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from masque.face import Face
from masque.face.expression import eye_aspect_ratio, mouth_openness
from masque.faceset.coverage import FaceMeasure, Supply, coverage
from masque.models import ModelCard


@dataclass(frozen=True)
class Uncovered:
    """Frames of one output file showing a face the target's set cannot supply.

    Attributes:
        phrase: what the faces show, finishing "faces ..." (``"with the mouth wide open"``).
        frames: 0-based frame (or image) indices, ascending, each once.
    """

    phrase: str
    frames: tuple[int, ...]

    def spans(self, bridge: int = 2) -> list[tuple[int, int]]:
        """``(first, last)`` runs of frames, runs at most ``bridge`` frames apart joined.

        >>> Uncovered("x", (3, 4, 5, 7, 20)).spans()
        [(3, 7), (20, 20)]
        """
        runs: list[tuple[int, int]] = []
        for f in self.frames:
            if runs and f - runs[-1][1] <= bridge:
                runs[-1] = (runs[-1][0], f)
            else:
                runs.append((f, f))
        return runs

    def words(self, person: str = "B") -> str:
        """One line: ``"mouth wide open ...: frames 3-7, 20 (5 frames)"``."""
        spans = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in self.spans())
        n = len(self.frames)
        return f"{person}'s face set has (almost) no faces {self.phrase}: frames {spans} ({n} frame{'s' * (n > 1)})"

    def to_json(self) -> dict[str, object]:
        return {"phrase": self.phrase, "frames": len(self.frames), "spans": [list(s) for s in self.spans()]}


class CoverageWatch:
    """Collects, per output file, the frames whose faces the target set cannot supply.

    Args:
        supply: the target set's :class:`Supply`, or ``None`` to mark nothing.
        note: why nothing is marked (``None`` when ``supply`` is given).
    """

    def __init__(self, supply: Supply | None, note: str | None = None) -> None:
        self.supply = supply
        self.note = note
        self._file = ""
        self._seen: dict[str, dict[str, list[int]]] = {}

    @classmethod
    def for_card(cls, card: ModelCard, to: Literal["a", "b"]) -> CoverageWatch:
        """The watch for faces drawn by side ``to``'s decoder, from the set the card names."""
        if len(card.facesets) != 2:
            return cls(None, "the model card does not name its face sets")
        path = Path(card.facesets[0 if to == "a" else 1])
        if not (path / "faceset.sqlite").is_file():
            return cls(None, f"face set {path} (recorded when the model was trained) not found")
        return cls(Supply(coverage(path)))

    def start(self, name: str) -> None:
        """Faces seen from now on belong to output ``name``."""
        self._file = name
        self._seen.setdefault(name, {})

    def see(self, frame: int, face: Face) -> None:
        """Measure ``face`` (landmarks in frame pixels, pose from the tracker) at ``frame``."""
        if self.supply is None:
            return
        nan = float("nan")
        yaw, pitch = (face.pose[0], face.pose[1]) if face.pose is not None else (nan, nan)
        m = FaceMeasure(frame, "", yaw, pitch, eye_aspect_ratio(face.landmarks), mouth_openness(face.landmarks))
        if math.isnan(m.eyes) and math.isnan(m.mouth) and math.isnan(yaw):
            return
        per = self._seen.setdefault(self._file, {})
        for phrase in self.supply.lacks(m):
            frames = per.setdefault(phrase, [])
            if not frames or frames[-1] != frame:
                frames.append(frame)

    def report(self) -> dict[str, tuple[Uncovered, ...]]:
        """Per output file (as named to :meth:`start`), its uncovered faces, most frames first."""
        return {name: tuple(sorted((Uncovered(p, tuple(f)) for p, f in per.items()), key=lambda u: -len(u.frames)))
                for name, per in self._seen.items() if per}

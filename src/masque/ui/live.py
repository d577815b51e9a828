"""The Live page's engine: webcam frames through the one-shot swap, one session at a time.

No Gradio here: :class:`LiveSwap` takes RGB frames and returns swapped, labelled frames, and
measures the rate at which frames arrive (the browser sends the next frame when it can, so this is
the round-trip rate the user sees). The same :class:`~masque.face.FaceTracker` as ``masque swap``
on a video: detect every ``redetect_every`` frames, follow the face in between.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from masque.face import FaceAnalyzer, FaceTracker, TargetSelector, TrackerConfig
from masque.oneshot import OneShotSwapper
from masque.provenance import Labeler

#: frames over which the rate is averaged
_WINDOW = 30


class LiveSwap:
    """Swap the source face into each frame of a stream.

    Args:
        swapper: the source face, read once.
        analyzer: detector and landmarks for the stream.
        labeler: labels every frame sent back (the watermark; the visible tag when asked).
        tracking: how often to detect, how much to smooth.
        target: which faces of the stream to replace (default the largest).
    """

    def __init__(self, swapper: OneShotSwapper, analyzer: FaceAnalyzer, labeler: Labeler,
                 tracking: TrackerConfig | None = None, target: TargetSelector | None = None) -> None:
        self.swapper, self.labeler = swapper, labeler
        self.tracker = FaceTracker(analyzer, target or TargetSelector(), tracking or TrackerConfig())
        self.arrivals: deque[float] = deque(maxlen=_WINDOW)
        self.work: deque[float] = deque(maxlen=_WINDOW)
        self.frames = self.swapped = 0
        self.size = (0, 0)

    def step(self, frame: np.ndarray) -> np.ndarray:
        """One frame: RGB ``(H, W, 3)`` ``uint8`` in, the swapped and labelled frame (same shape) out.

        A frame without a face comes back unchanged but labelled.
        """
        start = time.perf_counter()
        self.arrivals.append(start)
        self.size = (frame.shape[1], frame.shape[0])
        faces = self.tracker.update(frame)
        out = self.swapper.swap(frame, faces) if faces else frame
        self.frames += 1
        self.swapped += bool(faces)
        out = self.labeler.mark(out)
        self.work.append(time.perf_counter() - start)
        return out

    @property
    def fps(self) -> float:
        """Frames per second arriving over the last frames (the round trip), 0 until two have come."""
        if len(self.arrivals) < 2 or self.arrivals[-1] <= self.arrivals[0]:
            return 0.0
        return (len(self.arrivals) - 1) / (self.arrivals[-1] - self.arrivals[0])

    @property
    def ms_per_frame(self) -> float:
        """Mean server time per frame (swap + label), in milliseconds."""
        return 1000 * sum(self.work) / len(self.work) if self.work else 0.0

    def status(self) -> str:
        """One line for the page: the rates and how many frames had a face."""
        return (f"{self.fps:.1f} frames/s round trip at {self.size[0]}x{self.size[1]}, {self.ms_per_frame:.0f} ms "
                "per frame on the server; "
                f"{self.swapped}/{self.frames} frames with a face swapped")

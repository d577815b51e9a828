"""The Live page's engines: webcam frames through the one-shot swap or the photo animator.

No Gradio here: :class:`LiveSwap` takes RGB frames and returns swapped, labelled frames;
:class:`LiveAnimate` returns the photo moved as the webcam face moves (``Animator.step``). Both
measure the rate at which frames arrive (the browser sends the next frame when it can, so this is
the round-trip rate the user sees). The same :class:`~masque.face.FaceTracker` as ``masque swap``
on a video: detect every ``redetect_every`` frames, follow the face in between.
"""

from __future__ import annotations

import base64
import html
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

import cv2
import numpy as np

from masque.face import FaceAnalyzer, FaceTracker, TargetSelector, TrackerConfig
from masque.oneshot import OneShotSwapper
from masque.provenance import Labeler

if TYPE_CHECKING:  # the animate feature is optional for the Live page's swap mode
    from masque.animate import Animator

#: frames over which the rate is averaged
_WINDOW = 30
#: a Live session not sent a frame for this long is dropped (its swapper or animator freed)
SESSION_IDLE_S = 600.0

T = TypeVar("T")


class Sessions(Generic[T]):
    """Per browser session engines, dropped when idle for ``idle_s`` or past ``limit`` sessions.

    A closed tab sends no goodbye the page can count on, so without this every session that ever
    pressed Start would keep its models in memory for the life of the server.
    """

    def __init__(self, idle_s: float = SESSION_IDLE_S, limit: int = 16,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s, self.limit, self.clock = idle_s, limit, clock
        self._items: dict[str, tuple[T, float]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: str, value: T) -> None:
        """Keep ``value`` for session ``key``, dropping idle sessions (and the least recent past ``limit``)."""
        now = self.clock()
        self._items = {k: v for k, v in self._items.items() if now - v[1] <= self.idle_s and k != key}
        while len(self._items) >= self.limit:
            del self._items[min(self._items, key=lambda k: self._items[k][1])]
        self._items[key] = (value, now)

    def keys(self) -> set[str]:
        return set(self._items)

    def get(self, key: str) -> T | None:
        """The session's engine (and mark it used now), or ``None`` if it never started or was dropped."""
        item = self._items.get(key)
        if item is None:
            return None
        self._items[key] = (item[0], self.clock())
        return item[0]


#: JPEG quality of the frames sent back (the watermark survives it; 90+ doubles the bytes for no visible gain)
JPEG_QUALITY = 80


def jpeg_img(frame: np.ndarray, quality: int = JPEG_QUALITY, alt: str = "live output") -> str:
    """An ``<img>`` tag holding RGB ``(H, W, 3)`` ``uint8`` ``frame`` as an inline JPEG (a ``data:`` URL).

    The page shows frames this way rather than as files: one encode, no file written per frame
    (Gradio's image output keeps each in its cache for the session), no second request to fetch it.
    """
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # cannot happen for a uint8 RGB frame; keep the stream alive if it does
        return ""
    src = "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")
    return (f'<img src="{src}" alt="{html.escape(alt)}" width="{frame.shape[1]}" height="{frame.shape[0]}" '
            'style="max-width:100%;height:auto">')


class _Rates:
    """The frame rate and server time of a stream, and how many frames had a face."""

    #: what the status line says the frames with a face had done to them
    verb = "swapped"

    def __init__(self, labeler: Labeler) -> None:
        self.labeler = labeler
        self.arrivals: deque[float] = deque(maxlen=_WINDOW)
        self.work: deque[float] = deque(maxlen=_WINDOW)
        self.frames = self.swapped = 0
        self.size = (0, 0)

    def step(self, frame: np.ndarray) -> np.ndarray:
        """One frame: RGB ``(H, W, 3)`` ``uint8`` in, the labelled output frame (RGB ``uint8``) out."""
        start = time.perf_counter()
        self.arrivals.append(start)
        self.size = (frame.shape[1], frame.shape[0])
        out, found = self._process(frame)
        self.frames += 1
        self.swapped += found
        out = self.labeler.mark(out)
        self.work.append(time.perf_counter() - start)
        return out

    def _process(self, frame: np.ndarray) -> tuple[np.ndarray, bool]:
        raise NotImplementedError

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
                f"{self.swapped}/{self.frames} frames with a face {self.verb}")


class LiveSwap(_Rates):
    """Swap the source face into each frame of a stream; a frame without a face comes back unchanged
    but labelled.

    Args:
        swapper: the source face, read once.
        analyzer: detector and landmarks for the stream.
        labeler: labels every frame sent back (the watermark; the visible tag when asked).
        tracking: how often to detect, how much to smooth.
        target: which faces of the stream to replace (default the largest).
    """

    def __init__(self, swapper: OneShotSwapper, analyzer: FaceAnalyzer, labeler: Labeler,
                 tracking: TrackerConfig | None = None, target: TargetSelector | None = None) -> None:
        super().__init__(labeler)
        self.swapper = swapper
        self.tracker = FaceTracker(analyzer, target or TargetSelector(), tracking or TrackerConfig())

    def _process(self, frame: np.ndarray) -> tuple[np.ndarray, bool]:
        faces = self.tracker.update(frame)
        return (self.swapper.swap(frame, faces) if faces else frame), bool(faces)


class LiveAnimate(_Rates):
    """The photo of an :class:`~masque.animate.Animator` moved by the face of each frame of a stream.

    The frames returned have the animator's size (not the camera's). Motion is measured from the
    first frame with a face until :meth:`calibrate`: then from the next frame with a face (the
    user takes the photo's pose and expression and presses the button).
    """

    verb = "driving the photo"

    def __init__(self, animator: Animator, labeler: Labeler) -> None:
        super().__init__(labeler)
        self.animator = animator
        self._calibrate = False
        self.calibrated = 0

    def calibrate(self) -> None:
        """Take the next frame with a face as the reference motion is measured from."""
        self._calibrate = True

    def _process(self, frame: np.ndarray) -> tuple[np.ndarray, bool]:
        faces = self.animator.tracker.update(frame)
        landmarks = faces[0] if faces else None
        if landmarks is not None and self._calibrate:
            self.animator.set_reference(landmarks, frame.shape[:2])
            self._calibrate = False
            self.calibrated += 1
        return self.animator.step_landmarks(frame, landmarks), landmarks is not None

    def status(self) -> str:
        """The rates, the frames with a face, and how many times Calibrate set the reference."""
        return f"{super().status()}; reference set by Calibrate {self.calibrated} time(s)"

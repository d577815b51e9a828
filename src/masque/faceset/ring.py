"""Frames to extract's worker processes through shared memory instead of a pipe.

Pickling a decoded 640x360 frame through a pipe costs the parent about 1.5 ms and the worker
0.5 ms, more than decoding it; copying it into shared memory costs about 0.05 ms. The parent
decodes each frame into a slot of a ring (one slot a chunk of consecutive frames), sends the
worker only the slot's number, and reuses the slot when the chunk's results are back. The number
of slots also bounds how many chunks are in flight, so memory stays flat on long videos.

The segment is made with :class:`multiprocessing.shared_memory.SharedMemory`, whose resource
tracker removes it if the parent is killed. A ``kill -9`` of the whole process group kills the
tracker too, so segments are named after their creator's pid and the next run removes those of
dead processes. Where ``/dev/shm`` is small (Docker's default is 64 MB) the ring gets fewer
slots, and where not even the fewest fit, frames go through the pipe.
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import threading
from dataclasses import dataclass, field
from multiprocessing import shared_memory

import numpy as np

_SHM_DIR = "/dev/shm"
_PREFIX = "masque-"


@dataclass(frozen=True)
class Segment:
    """A shared segment ``name`` of slots of ``per_slot`` RGB ``uint8`` frames of ``shape`` (H, W, 3)."""

    name: str
    per_slot: int
    shape: tuple[int, int, int]


@dataclass
class Chunk:
    """Consecutive frames of one source, in order.

    ``frames`` pairs each frame index with an RGB ``uint8`` ``(H, W, 3)`` array, or with the
    frame's position (an ``int``) in ring slot ``slot`` of ``segment`` when it was put there.
    """

    source_id: int
    frames: list[tuple[int, np.ndarray | int]] = field(default_factory=list)
    slot: int | None = None
    segment: Segment | None = None

    def __len__(self) -> int:
        return len(self.frames)


class RingClosed(Exception):
    """The ring was closed (the job ended or failed): the producer stops."""


class FrameRing:
    """``slots`` chunk slots of ``per_slot`` frames of ``shape`` in one shared segment (as many
    as fit in ``/dev/shm``, down to ``min_slots``).

    A producer thread calls :meth:`chunk` (waits for a free slot) and :meth:`add`; the consumer
    calls :meth:`release` when a chunk's results are back, and :meth:`close` at the end, also
    on error: the producer's next call then raises :class:`RingClosed`, and a copy in progress
    finishes before the memory is unmapped. Without shared memory (``shape`` is None or
    ``/dev/shm`` too small) the ring only counts slots and chunks carry their frames inline.
    """

    def __init__(self, slots: int, per_slot: int, shape: tuple[int, int, int] | None,
                 min_slots: int | None = None) -> None:
        self.per_slot = per_slot
        self.shape = shape
        self._shm: shared_memory.SharedMemory | None = None
        self._array: np.ndarray | None = None
        self._segment: Segment | None = None  # what a chunk tells its worker, when shared
        self._lock = threading.Lock()  # held while copying into the segment and while unmapping it
        self._closed = False
        min_slots = min(slots, min_slots or slots)
        slot_bytes = per_slot * int(np.prod(shape)) if shape else 0
        if shape and slot_bytes:
            _remove_orphans()
            while slots > min_slots and not _room_for(slots * slot_bytes):  # a small /dev/shm: fewer slots
                slots -= 1
        if shape and slot_bytes and _room_for(slots * slot_bytes):
            name = f"{_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
            self._shm = shared_memory.SharedMemory(name=name, create=True, size=slots * slot_bytes)
            self._array = np.ndarray((slots, per_slot, *shape), np.uint8, self._shm.buf)
            self._segment = Segment(name, per_slot, shape)
        else:
            slots = min_slots  # frames through the pipe: keep fewer in flight
        self.slots = slots
        self._free: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        for i in range(slots):
            self._free.put(i)

    @property
    def shared(self) -> bool:
        return self._shm is not None

    def chunk(self, source_id: int) -> Chunk:
        """An empty chunk holding a free slot (waits for one).

        Raises:
            RingClosed: the ring was closed, before or while waiting.
        """
        slot = self._free.get()
        if slot is None or self._closed:
            self._free.put(None)  # wake any other waiter too
            raise RingClosed
        return Chunk(source_id, slot=slot, segment=self._segment)

    def add(self, chunk: Chunk, index: int, frame: np.ndarray) -> None:
        """Append a frame to ``chunk``: copied into its slot when it has one and the frame fits,
        else kept inline (a stream that changes resolution mid-way).

        Raises:
            RingClosed: the ring was closed.
        """
        with self._lock:
            if self._closed:
                raise RingClosed
            if self._array is not None and chunk.segment is not None and frame.shape == chunk.segment.shape:
                pos = sum(isinstance(f, int) for _, f in chunk.frames)
                self._array[chunk.slot, pos] = frame
                chunk.frames.append((index, pos))
            else:
                chunk.frames.append((index, frame))

    def release(self, chunk: Chunk) -> None:
        """Give the chunk's slot back (its frames may be overwritten from now on)."""
        if chunk.slot is not None:
            self._free.put(chunk.slot)

    def close(self) -> None:
        """Stop the producer and free the segment. Idempotent."""
        with self._lock:
            self._closed = True
            self._free.put(None)
            if self._shm is not None:
                self._array = None
                self._shm.close()
                self._shm.unlink()
                self._shm = None


def _room_for(nbytes: int) -> bool:
    """True where shared memory can hold ``nbytes`` with room to spare (else writes would SIGBUS)."""
    if not os.path.isdir(_SHM_DIR):
        return os.name != "posix"  # macOS has no /dev/shm but no such limit either
    st = os.statvfs(_SHM_DIR)
    return nbytes * 2 < st.f_bavail * st.f_frsize


def _remove_orphans() -> None:
    """Unlink segments left by masque processes that no longer exist (killed with their tracker)."""
    if not os.path.isdir(_SHM_DIR):
        return
    for entry in os.listdir(_SHM_DIR):
        if not entry.startswith(_PREFIX):
            continue
        pid = entry[len(_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            with contextlib.suppress(OSError):  # another run removed it first, or it is not ours to remove
                os.unlink(os.path.join(_SHM_DIR, entry))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class Attached:
    """A worker's mapping of the parent's current segment (one at a time: jobs run one by one)."""

    def __init__(self) -> None:
        self._shm: shared_memory.SharedMemory | None = None

    def frames(self, chunk: Chunk) -> list[tuple[int, np.ndarray]]:
        """The chunk's ``(index, RGB uint8 (H, W, 3))`` frames.

        Shared frames are copied out (50 us for 640x360): NumPy views into the segment do not keep
        it mapped, so a view that outlived the mapping would read freed memory.
        """
        seg = chunk.segment
        if seg is None or chunk.slot is None:
            return [(i, f) for i, f in chunk.frames if isinstance(f, np.ndarray)]
        if self._shm is None or self._shm.name != seg.name:
            self.close()
            self._shm = _attach(seg.name)
        slot_bytes = seg.per_slot * int(np.prod(seg.shape))
        view = np.ndarray((seg.per_slot, *seg.shape), np.uint8, self._shm.buf, offset=chunk.slot * slot_bytes)
        return [(i, view[f].copy() if isinstance(f, int) else f) for i, f in chunk.frames]

    def close(self) -> None:
        if self._shm is not None:
            self._shm.close()
            self._shm = None


def _attach(name: str) -> shared_memory.SharedMemory:
    # Python 3.11 registers an attached segment with the resource tracker again. Extract's
    # workers share the parent's tracker (fork server), which keeps names in a set, so the
    # second registration is harmless and the parent's unlink() still unregisters it.
    return shared_memory.SharedMemory(name=name)

"""Frames to extract's workers through shared memory: what goes in comes out, nothing leaks."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest

from masque.faceset import ring
from masque.faceset.ring import Attached, FrameRing

SHAPE = (36, 64, 3)


def _frames(n: int, shape: tuple[int, int, int] = SHAPE) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]


def test_frames_cross_as_a_slot_number_and_come_back_equal() -> None:
    r = FrameRing(slots=2, per_slot=4, shape=SHAPE)
    try:
        assert r.shared
        frames = _frames(4)
        chunk = r.chunk(source_id=7)
        for i, f in enumerate(frames):
            r.add(chunk, 10 + i, f)
        wire = pickle.dumps(chunk)
        assert len(wire) < 2_000  # the frames themselves (27 KB) stay out of the pipe
        got = Attached().frames(pickle.loads(wire))
        assert [i for i, _ in got] == [10, 11, 12, 13]
        assert all(np.array_equal(a, b) for (_, a), b in zip(got, frames))
    finally:
        r.close()


def test_a_frame_of_another_size_travels_inline() -> None:
    r = FrameRing(slots=1, per_slot=3, shape=SHAPE)
    try:
        small, big = _frames(1)[0], _frames(1, (40, 70, 3))[0]
        chunk = r.chunk(0)
        r.add(chunk, 0, small)
        r.add(chunk, 1, big)
        r.add(chunk, 2, small)
        got = Attached().frames(pickle.loads(pickle.dumps(chunk)))
        assert [f.shape for _, f in got] == [SHAPE, big.shape, SHAPE]
        assert np.array_equal(got[1][1], big) and np.array_equal(got[2][1], small)
    finally:
        r.close()


def test_slots_bound_the_chunks_in_flight() -> None:
    r = FrameRing(slots=2, per_slot=1, shape=SHAPE)
    try:
        first, _ = r.chunk(0), r.chunk(0)
        third: list[object] = []
        waiter = threading.Thread(target=lambda: third.append(r.chunk(0)), daemon=True)
        waiter.start()
        waiter.join(0.3)
        assert not third, "a third chunk must wait for a free slot"
        r.release(first)
        waiter.join(5)
        assert third
    finally:
        r.close()


def test_without_room_in_shared_memory_frames_go_inline(monkeypatch) -> None:
    monkeypatch.setattr(ring, "_room_for", lambda nbytes: False)
    r = FrameRing(slots=1, per_slot=2, shape=SHAPE)
    assert not r.shared
    chunk = r.chunk(0)
    frame = _frames(1)[0]
    r.add(chunk, 5, frame)
    got = Attached().frames(pickle.loads(pickle.dumps(chunk)))
    assert got[0][0] == 5 and np.array_equal(got[0][1], frame)
    r.close()


def test_closing_stops_a_waiting_producer_and_refuses_further_copies() -> None:
    r = FrameRing(slots=1, per_slot=2, shape=SHAPE)
    held = r.chunk(0)
    outcome: list[str] = []

    def producer() -> None:
        try:
            r.chunk(0)  # no slot free: waits until the ring closes
            outcome.append("got a slot")
        except ring.RingClosed:
            outcome.append("closed")

    t = threading.Thread(target=producer, daemon=True)
    t.start()
    r.close()
    t.join(5)
    assert outcome == ["closed"]
    with pytest.raises(ring.RingClosed):
        r.add(held, 0, _frames(1)[0])  # the segment is gone: no write may reach it
    r.close()  # twice is fine


def test_a_small_shared_memory_gets_fewer_slots_not_none(monkeypatch) -> None:
    slot = 2 * int(np.prod(SHAPE))
    monkeypatch.setattr(ring, "_room_for", lambda nbytes: nbytes <= 3 * slot)  # room for 3 slots
    r = FrameRing(slots=8, per_slot=2, shape=SHAPE, min_slots=2)
    assert r.shared and r.slots == 3
    r.close()
    monkeypatch.setattr(ring, "_room_for", lambda nbytes: nbytes < 2 * slot)  # not even the minimum
    r = FrameRing(slots=8, per_slot=2, shape=SHAPE, min_slots=2)
    assert not r.shared and r.slots == 2
    r.close()


@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="POSIX shared memory folder only")
def test_segments_of_dead_processes_are_removed_and_ours_unlinked_on_close() -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True).stdout.strip()
    orphan = f"/dev/shm/{ring._PREFIX}{dead}-deadbeef"
    with open(orphan, "wb") as f:
        f.write(b"\0" * 4096)
    r = FrameRing(slots=1, per_slot=1, shape=SHAPE)
    ours = [e for e in os.listdir("/dev/shm") if e.startswith(f"{ring._PREFIX}{os.getpid()}-")]
    assert not os.path.exists(orphan) and len(ours) == 1
    r.close()
    assert not os.path.exists(f"/dev/shm/{ours[0]}")

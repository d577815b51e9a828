"""The threaded stages of a video pipeline: order kept, state per stage, errors raised, threads stopped."""

from __future__ import annotations

import threading
import time

import pytest

from masque.media.pipeline import staged


def test_stages_run_in_order_each_in_its_own_thread() -> None:
    seen: dict[str, set[str]] = {"double": set(), "count": set()}
    total = [0]

    def double(x: int) -> int:
        seen["double"].add(threading.current_thread().name)
        time.sleep(0.001 * (x % 3))  # uneven work must not reorder anything
        return 2 * x

    def count(x: int) -> tuple[int, int]:  # a stage with state: a running total
        seen["count"].add(threading.current_thread().name)
        total[0] += x
        return x, total[0]

    got = list(staged(range(50), [double, count]))
    assert got == [(2 * i, i * (i + 1)) for i in range(50)]
    main = threading.current_thread().name
    assert len(seen["double"]) == len(seen["count"]) == 1
    assert seen["double"] != seen["count"] and main not in seen["double"] | seen["count"]


def test_an_error_in_a_stage_reaches_the_consumer_and_every_thread_stops() -> None:
    before = threading.active_count()

    def fail_at_7(x: int) -> int:
        if x == 7:
            raise ValueError("bad frame 7")
        return x

    out = []
    with pytest.raises(ValueError, match="bad frame 7"):
        for x in staged(range(100), [lambda x: x, fail_at_7]):
            out.append(x)
    assert out == list(range(7))
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def test_a_consumer_that_stops_early_stops_the_stages() -> None:
    before = threading.active_count()
    produced = []

    def source():
        for i in range(10_000):
            produced.append(i)
            yield i

    it = staged(source(), [lambda x: x + 1, lambda x: x * 10])
    assert [next(it) for _ in range(3)] == [10, 20, 30]
    it.close()  # type: ignore[attr-defined]
    assert threading.active_count() == before
    assert len(produced) < 50  # bounded queues: the source was not read to its end


def test_a_short_source_finished_before_the_consumer_stops_does_not_hang() -> None:
    """The first stage has put the whole source and waits to queue the end marker: stopping must not block."""
    it = staged(range(6), [lambda x: x, lambda x: x])  # queues of 2: 0 taken, 1-2 queued, 3 in hand, 4-5 queued
    assert next(it) == 0
    time.sleep(0.3)  # the stages run to the end of the source and wait on full queues
    closer = threading.Thread(target=it.close, daemon=True)  # type: ignore[attr-defined]
    closer.start()
    closer.join(timeout=5)
    assert not closer.is_alive(), "closing the pipeline hung"

"""The thread tuner keeps the thread count whose steps are fastest, and re-checks when load changes."""

from __future__ import annotations

import torch

from masque.train.threads import ThreadTuner


def _simulate(tuner: ThreadTuner, cost: dict[int, float], steps: int) -> list[int]:
    used = []
    for _ in range(steps):
        tuner.before_step()
        n = torch.get_num_threads()
        used.append(n)
        tuner.after_step(cost[n])
    return used


def test_tuner_picks_the_faster_count_and_follows_a_load_change() -> None:
    before = torch.get_num_threads()
    try:
        tuner = ThreadTuner([2, 1], every=200, probe=4)
        used = _simulate(tuner, {2: 3.0, 1: 1.0}, 30)  # a loaded machine: one thread wins
        assert set(used[:3]) == {2} and used[-10:] == [1] * 10 and tuner.current == 1
        used = _simulate(tuner, {2: 0.5, 1: 2.0}, 60)  # the load goes away: steps on 1 thread get slower
        assert tuner.current == 2 and used[-10:] == [2] * 10
    finally:
        torch.set_num_threads(before)

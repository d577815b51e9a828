"""Pick the CPU thread count by measuring steps, and keep re-checking it.

On a machine shared with other jobs, an OpenMP team as wide as the machine loses badly: each
parallel region waits at its barrier for a thread the OS has descheduled. Measured on the
2-core box this was written on, with other jobs using about one core: a ``lightweight`` step
took 0.6-1.0 s on one thread and 0.7-9.7 s on two. On an idle machine, two threads win. So the
trainer times a few steps at each candidate count every ``every`` steps and keeps the fastest.
"""

from __future__ import annotations

import statistics

import torch


class ThreadTuner:
    """Chooses ``torch.set_num_threads`` among ``choices`` from measured step times.

    Call :meth:`before_step` before each step and :meth:`after_step` with its duration. Every
    ``every`` steps, or sooner when steps get 1.5x slower than when the choice was made (the
    load changed), it tries each choice for ``probe`` steps (the first of each is a warm-up and
    not counted) and then keeps the one with the lowest median step time.
    """

    def __init__(self, choices: list[int], every: int = 200, probe: int = 4) -> None:
        self.choices = sorted(set(choices), reverse=True)
        self.every, self.probe = every, max(2, probe)
        self.current = self.choices[0]
        self.times: dict[int, list[float]] = {}
        self._plan: list[int] = []
        self._active: int | None = None
        self._active_first = False
        self._since = every - 3  # first probe after 3 steps: step 1 pays one-time set-up costs
        self._baseline = float("inf")
        self._recent: list[float] = []
        torch.set_num_threads(self.current)

    def _probe_plan(self) -> list[int]:
        return [c for c in self.choices for _ in range(self.probe)]

    def before_step(self) -> None:
        slower = len(self._recent) >= 5 and statistics.median(self._recent[-5:]) > 1.5 * self._baseline
        if not self._plan and len(self.choices) > 1 and (self._since >= self.every or (slower and self._since >= 20)):
            self._plan, self.times = self._probe_plan(), {}
        if self._plan:
            self._active = self._plan.pop(0)
            if torch.get_num_threads() != self._active:
                torch.set_num_threads(self._active)
                self.times.setdefault(self._active, [])
                self._active_first = True
                return
        self._active_first = False

    def after_step(self, seconds: float) -> None:
        self._since += 1
        if self._active is None:
            self._recent = [*self._recent[-4:], seconds]
            return
        if not self._active_first:  # the first step after a change pays for it; not counted
            self.times.setdefault(self._active, []).append(seconds)
        self._active = None
        if not self._plan:
            measured = {c: statistics.median(t) for c, t in self.times.items() if t}
            if measured:
                self.current = min(measured, key=measured.__getitem__)
                self._baseline = measured[self.current]
            torch.set_num_threads(self.current)
            self._since, self._recent = 0, []

"""Progress bars for the CLI. The library reports progress through callbacks; only here is it drawn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch: loaded by the command's run(), not for --help
    from masque.train.trainer import StepInfo

ProgressCallback = Callable[[int, int | None], None]


@contextmanager
def progress_bar(desc: str, unit: str = "it") -> Iterator[ProgressCallback]:
    """Yield a ``callback(done, total)`` that draws a tqdm bar on stderr."""
    from tqdm import tqdm  # here, not at the top: `masque --help` never draws a bar

    bar = tqdm(desc=desc, unit=unit, dynamic_ncols=True, leave=True)
    try:
        def update(done: int, total: int | None) -> None:
            if total is not None and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        yield update
    finally:
        bar.close()


class TrainingBar:
    """A tqdm bar on stderr drawn by an ``on_step(StepInfo)`` callback of :meth:`~masque.train.trainer.Trainer.run`.

    The bar opens at the first step reported (so nothing is drawn while the caller extracts or
    loads), counts steps from the model's step count, and shows the losses of A and B, examples
    per second and the time left: of ``minutes`` when the run is bounded by time, else from the
    step rate towards the step target. :meth:`close` it before printing anything else.
    """

    def __init__(self, desc: str, minutes: float | None = None) -> None:
        self.desc, self.minutes = desc, minutes
        self.bar: Any = None
        self.first: tuple[int, float] | None = None  # (step, elapsed) of the first report

    def __call__(self, info: StepInfo) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(desc=self.desc, unit="step", initial=info.step - 1, total=info.target,
                            dynamic_ncols=True, leave=True, bar_format=_OPEN if info.target is None else _BOUNDED)
            self.first = (info.step, info.elapsed)
        self.bar.update(info.step - self.bar.n)
        self.bar.set_postfix_str(self.postfix(info), refresh=False)

    def postfix(self, info: StepInfo) -> str:
        """``loss A 0.0412 B 0.0387, 31.2 ex/s, 4:12 left`` (parts not yet known left out)."""
        from tqdm import tqdm

        parts = []
        if "total_a" in info.losses and "total_b" in info.losses:
            parts.append(f"loss A {info.losses['total_a']:.4f} B {info.losses['total_b']:.4f}")
        extra = _recipe_terms(info.losses)
        if extra:
            parts.append(extra)
        if info.examples_per_s > 0:
            parts.append(f"{info.examples_per_s:.1f} ex/s")
        left = self.seconds_left(info)
        if left is not None:
            parts.append(f"{tqdm.format_interval(left)} left")
        return ", ".join(parts)

    def seconds_left(self, info: StepInfo) -> float | None:
        """Seconds to the time limit or, failing one, to the step target at the rate so far; None if unknown."""
        left = []
        if self.minutes is not None:
            left.append(max(0.0, self.minutes * 60 - info.elapsed))
        if info.target is not None and self.first is not None and info.step > self.first[0]:
            per_step = (info.elapsed - self.first[1]) / (info.step - self.first[0])
            left.append(max(0.0, (info.target - info.step) * per_step))
        return min(left) if left else None

    def close(self) -> None:
        """Close the bar (it stays on screen); nothing happens when none was opened."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


#: the recipe terms the bar shows (short names), each the mean of its A and B values
_TERMS = (("perceptual", "vgg"), ("identity", "id"), ("adversarial", "adv"), ("d", "D"), ("edge", "edge"),
          ("mask_tv", "tv"))


def _recipe_terms(losses: dict[str, float]) -> str:
    """``vgg 0.210 id 0.512 adv 0.93 D 0.21`` for the terms of the recipe present in ``losses``."""
    out = []
    for key, short in _TERMS:
        if f"{key}_a" in losses and f"{key}_b" in losses:
            out.append(f"{short} {(losses[f'{key}_a'] + losses[f'{key}_b']) / 2:.3f}")
    return " ".join(out)


#: bar formats without and with a step target; the time left is in the postfix (tqdm's own ETA would not know
#: the time limit)
_OPEN = "{desc}: step {n_fmt} [{elapsed}, {rate_fmt}{postfix}]"
_BOUNDED = "{desc}: {percentage:3.0f}%|{bar}| step {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}{postfix}]"

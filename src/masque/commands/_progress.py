"""Progress bars for the CLI. The library reports progress through callbacks; only here is it drawn."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

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

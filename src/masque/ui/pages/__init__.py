"""The UI's pages: each a small module with one :class:`Page`, listed in tab order by :func:`pages`.

To add a page: write ``masque/ui/pages/<name>.py`` defining ``PAGE = Page(...)`` whose ``build``
lays out its components inside the tab the app opens, and add it below. ``requires`` names the
masque modules the page's feature lives in; while one of them is missing (the feature has not
landed), the page is left out: a page appears when its feature exists.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from masque.ui.app import PageContext


@dataclass(frozen=True)
class Page:
    """One tab of the UI.

    Attributes:
        name: short id (the tab's ``elem_id`` is ``page-<name>``).
        title: the tab's label.
        build: lays out the page's components and events; called inside the open tab.
        requires: modules that must be importable for the page to be shown.
        cli: the ``masque`` subcommands whose options the page offers (checked by the tests).
    """

    name: str
    title: str
    build: Callable[[PageContext], None]
    requires: tuple[str, ...] = ()
    cli: tuple[str, ...] = ()

    def available(self) -> bool:
        """True when every module in ``requires`` can be imported."""
        for module in self.requires:
            try:
                if importlib.util.find_spec(module) is None:
                    return False
            except ModuleNotFoundError:  # its parent package is missing too
                return False
        return True


def _modules() -> list[ModuleType]:
    # imported here: each imports Gradio, which only the app (not masque --help) should load
    from masque.ui.pages import animate, detect, evaluate, live, style, swap, train, verify

    return [swap, train, animate, style, live, evaluate, detect, verify]


def pages() -> list[Page]:
    """Every page, in tab order, whether available or not."""
    found: list[Page] = [m.PAGE for m in _modules()]
    names = [p.name for p in found]
    if len(set(names)) != len(names):
        raise ValueError(f"two UI pages share a name: {names}")
    return found

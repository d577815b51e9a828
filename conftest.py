"""Isolation for every test, and the test tiers.

Every test gets its own config folder (``MASQUE_CONFIG``: signing keys are made there) and XDG
config home, so no test writes into the real ``~/.config/masque``. The asset cache
(``MASQUE_CACHE``) is one folder per test session: what it derives (the converted detector and
identity network) is rebuilt there, never read from or written to the user's cache. Only the
registry downloads and the members unpacked from them are shared with the user's cache, through
symlinks: they are pinned by sha256, so they are the same bytes wherever they come from, and a
fresh machine fetches them once instead of on every run.

Tiers, chosen with ``-m``: ``unit`` tests run on synthetic data and need no fixture; tests that
use a fixture face, clip or the face models are marked ``integration`` here, automatically;
``slow`` tests are marked by hand and left out of ``make test``.
"""

from __future__ import annotations

import importlib.util
import inspect
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem

#: the web UI's pages import Gradio (the optional ``ui`` extra): without it their doctests are not collected
#: (tests/ui skips on its own)
collect_ignore_glob = [] if importlib.util.find_spec("gradio") else ["src/masque/ui/pages/*"]

#: fixtures (tests/conftest.py and below) that read the pinned assets: a test using one is an integration test
_FIXTURE_USERS = {"analyzer", "fixture_path", "photo", "short_run", "facesets", "first_run", "embedder"}
#: what a test's own code calls when it reads the pinned assets or the face models itself
_ASSET_CALLS = ("assets.fetch", "fetch(", "FaceAnalyzer(", "DlibEmbedder(", "demo")


def _user_cache() -> Path:
    override = os.environ.get("MASQUE_CACHE")
    return Path(override).expanduser() if override else Path.home() / ".cache" / "masque"


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    shared = _user_cache()
    cache = tmp_path_factory.mktemp("masque-cache")
    for name in ("packages", "assets"):  # pinned by sha256: safe to share
        (shared / name).mkdir(parents=True, exist_ok=True)
        (cache / name).symlink_to(shared / name, target_is_directory=True)
    before = os.environ.get("MASQUE_CACHE")
    os.environ["MASQUE_CACHE"] = str(cache)  # session-wide, so worker processes see it too
    try:
        yield cache
    finally:
        if before is None:
            os.environ.pop("MASQUE_CACHE", None)
        else:
            os.environ["MASQUE_CACHE"] = before


@pytest.fixture(autouse=True)
def _own_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path_factory.mktemp("masque-config")
    monkeypatch.setenv("MASQUE_CONFIG", str(folder))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder.parent / f"{folder.name}-xdg"))
    return folder


def _calls_assets(function: object) -> bool:
    try:
        source = inspect.getsource(function) if function is not None else ""  # type: ignore[arg-type]
    except (OSError, TypeError):
        return True  # cannot tell: not a unit test then
    return any(call in source for call in _ASSET_CALLS)


def _uses_assets(item: pytest.Item) -> bool:
    """True when the test, or any fixture it uses (directly or through others), reads the assets."""
    names = set(getattr(item, "fixturenames", ()))
    if names & _FIXTURE_USERS or _calls_assets(getattr(item, "function", None)):
        return True
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs if info is not None else {}
    own = {"_session_cache", "_own_config", "request", "tmp_path", "tmp_path_factory", "monkeypatch", "capsys"}
    return any(_calls_assets(d.func) for name in names - own for d in defs.get(name, ()))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("integration") or item.get_closest_marker("unit"):
            continue
        if isinstance(item, DoctestItem) or not _uses_assets(item):
            item.add_marker(pytest.mark.unit)
        else:
            item.add_marker(pytest.mark.integration)

"""The root conftest keeps every test out of the user's config folder and asset cache."""

from __future__ import annotations

import os
from pathlib import Path

from masque import assets
from masque.provenance.keys import config_dir, ensure_local_credentials


def test_signing_keys_are_made_in_the_tests_own_config_folder() -> None:
    folder = ensure_local_credentials()
    home_config = Path.home() / ".config" / "masque"
    assert folder.is_relative_to(config_dir()) and not folder.is_relative_to(home_config)
    assert str(config_dir()) == os.environ["MASQUE_CONFIG"]


def test_each_test_has_a_fresh_config_folder() -> None:
    assert not any(config_dir().iterdir())  # the keys the test above made are not here


def test_the_asset_cache_is_the_sessions_own() -> None:
    cache = assets.cache_dir()
    assert cache != Path.home() / ".cache" / "masque"
    assert (cache / "packages").is_symlink()  # pinned downloads are shared; nothing derived is
    assert not (cache / "converted").is_symlink()

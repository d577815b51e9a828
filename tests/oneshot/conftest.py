"""Shared fixtures of the one-shot swap tests: a private config dir for the signing keys."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The labeller's keys go to a temporary config dir, never the user's."""
    folder = tmp_path_factory.getbasetemp() / "masque-config"
    monkeypatch.setenv("MASQUE_CONFIG", str(folder))
    return folder

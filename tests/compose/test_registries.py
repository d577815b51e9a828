"""The compositing registries: typed plugins, one name each, and the modules that share them."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from masque.compose import (
    BLENDERS,
    COLOR_MATCHERS,
    blend,
    match_color,
    register_blender,
    register_color_matcher,
)
from masque.compose.blend import gaussian
from masque.compose.color import rct
from masque.errors import RegistryError


def test_create_gives_the_registered_function() -> None:
    assert COLOR_MATCHERS.create("rct") is rct
    assert BLENDERS.create("gaussian") is gaussian


def test_a_second_plugin_under_a_taken_name_is_refused() -> None:
    with pytest.raises(RegistryError, match="registered twice"):
        register_color_matcher("rct")(rct)
    with pytest.raises(RegistryError, match="registered twice"):
        register_blender("poisson")(gaussian)


def test_unknown_names_list_the_known_ones() -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    mask = np.full((8, 8), 255, np.uint8)
    with pytest.raises(RegistryError, match=r"known: .*rct"):
        match_color("sepia", img, img, mask)
    with pytest.raises(RegistryError, match=r"known: .*poisson"):
        blend("smudge", img, img, mask, 2.0)


def test_mypy_checks_a_plugin_against_the_protocol(tmp_path: Path) -> None:
    """A matcher with the wrong signature is a type error at its registration; a right one is not."""
    pytest.importorskip("mypy")
    plugin = tmp_path / "plugin.py"
    plugin.write_text(textwrap.dedent("""
        import numpy as np
        from masque.compose import register_blender, register_color_matcher

        @register_color_matcher("two-args")
        def wrong(face: np.ndarray, target: np.ndarray) -> np.ndarray:
            return face

        @register_blender("fine")
        def right(face: np.ndarray, frame: np.ndarray, mask: np.ndarray, feather_px: float = 2.0) -> np.ndarray:
            return frame
    """))
    res = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--follow-imports=silent",
                          "--ignore-missing-imports", "--cache-dir", str(tmp_path / ".mypy"), str(plugin)],
                         check=False, capture_output=True, text=True, timeout=300)
    errors = [line for line in res.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "plugin.py:5:" in errors[0] and '"ColorMatcher"' in errors[0], res.stdout

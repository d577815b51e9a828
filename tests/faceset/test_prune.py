"""``masque faceset prune`` sets faces aside recoverably, with thresholds relative to the set; ``restore``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from masque.cli import main
from masque.errors import UnsupportedOptionError
from masque.faceset import FaceSet
from masque.faceset.extract import ExtractConfig, extract_faceset
from masque.faceset.tools import PruneRule, prune_candidates


@pytest.fixture(scope="module")
def extracted(tmp_path_factory, fixture_path) -> Path:
    root = tmp_path_factory.mktemp("prune") / "set"
    summary = extract_faceset([fixture_path("clip_short.mp4")], root, ExtractConfig(every=3, workers=1))
    assert summary.faces >= 20
    return root


@pytest.fixture
def faceset(extracted, tmp_path) -> Path:
    """A fresh copy for each test: pruning changes it."""
    return Path(shutil.copytree(extracted, tmp_path / "set"))


def _snapshot(root: Path) -> dict[int, tuple[str, bytes]]:
    with FaceSet(root) as fs:
        return {r.id: (r.image, fs.image_path(r).read_bytes()) for r in fs.faces()}


def test_blurriest_percent_sets_aside_that_share_and_restore_puts_it_back(faceset, capsys) -> None:
    before = _snapshot(faceset)
    with FaceSet(faceset) as fs:
        blur = sorted(r.blur for r in fs.faces())
    assert main(["faceset", "prune", str(faceset), "--blurriest", "25"]) == 0
    assert "undo with `masque faceset restore" in capsys.readouterr().out
    with FaceSet(faceset) as fs:
        kept = list(fs.faces())
        batches = fs.pruned_batches()
    n = len(before) - len(kept)
    assert n == round(0.25 * len(before))  # a quarter of the set, whatever the footage's blur scale
    assert max(r.blur for r in kept) <= blur[len(before) - n - 1]  # the blurriest went
    assert len(batches) == 1 and batches[0][1] == n
    assert len(list((faceset / "pruned" / batches[0][0]).glob("*.png"))) == n  # PNGs kept aside
    assert main(["faceset", "restore", str(faceset)]) == 0
    assert f"restored {n} faces" in capsys.readouterr().out
    assert _snapshot(faceset) == before  # same ids, same paths, same PNGs
    assert not (faceset / "pruned").exists()


def test_dry_run_lists_and_changes_nothing(faceset, capsys) -> None:
    before = _snapshot(faceset)
    assert main(["faceset", "prune", str(faceset), "--most-turned", "10", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would set aside" in out and out.count(".png") >= 1
    assert _snapshot(faceset) == before


def test_a_prune_of_most_of_the_set_stops_and_says_why(faceset, capsys) -> None:
    before = _snapshot(faceset)
    # an absolute threshold below every face's score: the low-resolution-clip surprise
    assert main(["faceset", "prune", str(faceset), "--max-blur", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("masque: error: this prune would set aside") and "--blurriest" in err
    assert _snapshot(faceset) == before
    assert main(["faceset", "prune", str(faceset), "--max-blur", "0", "--yes"]) == 0
    with FaceSet(faceset) as fs:
        assert len(fs) == 0 and sum(n for _, n in fs.pruned_batches()) == len(before)
    assert main(["faceset", "restore", str(faceset), "--all"]) == 0
    assert _snapshot(faceset) == before


def test_hand_deleted_png_is_pruned_and_cannot_be_restored(faceset, capsys) -> None:
    with FaceSet(faceset) as fs:
        victim = next(iter(fs.faces()))
        fs.image_path(victim).unlink()
        assert [r.id for r in prune_candidates(fs, PruneRule())] == [victim.id]
    assert main(["faceset", "prune", str(faceset)]) == 0
    assert main(["faceset", "restore", str(faceset)]) == 0
    assert "1 skipped" in capsys.readouterr().out


def test_restore_without_prunes_and_bad_percentages_are_clear_errors(faceset, capsys) -> None:
    assert main(["faceset", "restore", str(faceset)]) == 2
    assert "no pruned faces" in capsys.readouterr().err
    for pct in (0.0, 100.0, -5.0):
        with pytest.raises(UnsupportedOptionError, match="percentage"):
            PruneRule(blurriest=pct)
    assert main(["faceset", "prune", str(faceset), "--blurriest", "150"]) == 2

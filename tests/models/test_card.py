"""The model card: typed round trip through a real model folder, versions, and damaged cards refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from masque.errors import ModelError
from masque.models import CARD_VERSION, MODELS, CropSpec, ModelCard, load_model, read_card
from masque.models.card import FORMAT
from masque.models.io import STATE_FILE
from masque.train.checkpoint import read_state, save_checkpoint

# what `masque train` writes today (Trainer.state), less the parts that only vary by machine
TRAINED = {
    "model": "lightweight", "step": 12, "input_size": 64,
    "align": {"centering": "face", "coverage": 0.875, "size": 64}, "mask": "extended",
    "facesets": ["/data/a", "/data/b"], "faces": {"a": 90, "b": 81}, "holdout_every": 10,
    "color_shift": {"a": [0.012, -0.003, 0.02], "b": [0.0, 0.0, 0.0]}, "device": "cpu (test, 2 threads)",
    "precision": "bfloat16", "params": 1234, "flops_per_example": 56789,
    "config": {"model": "lightweight", "batch": 4, "betas": [0.5, 0.999]}, "masque_version": "0.1.0",
    "updated": "2026-12-01T12:00:00+00:00", "examples": 96, "loss": {"total_a": 0.21, "total_b": 0.19},
    "arch": {"input_size": 64},
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("card") / "m"
    save_checkpoint(root, MODELS.create("lightweight"), None, dict(TRAINED))
    return root


def _write_card(folder: Path, tmp_path: Path, **changes: Any) -> Path:
    """A copy of ``folder`` whose card has ``changes`` applied (a value of ``None`` deletes the key)."""
    root = tmp_path / "copy"
    root.mkdir()
    for f in folder.iterdir():
        (root / f.name).write_bytes(f.read_bytes())
    data = json.loads((root / STATE_FILE).read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    (root / STATE_FILE).write_text(json.dumps(data))
    return root


def test_saved_card_loads_back_typed_and_equal(folder: Path) -> None:
    model, card = load_model(folder)
    assert isinstance(card, ModelCard) and card.card_version == CARD_VERSION
    assert (card.model, card.step, card.input_size, model.input_size) == ("lightweight", 12, 64, 64)
    assert card.align == CropSpec("face", 0.875, 64)
    assert card.facesets == ("/data/a", "/data/b") and card.faces == {"a": 90, "b": 81}
    assert card.shift("a") == (0.012, -0.003, 0.02) and card.shift("b") == (0.0, 0.0, 0.0)
    assert card.loss == {"total_a": 0.21, "total_b": 0.19} and card.examples == 96
    assert card.config["betas"] == [0.5, 0.999] and card.masque_version == "0.1.0"
    on_disk = json.loads((folder / STATE_FILE).read_text())
    assert on_disk["format"] == FORMAT and on_disk["card_version"] == CARD_VERSION
    assert {k: on_disk[k] for k in TRAINED} == TRAINED  # every field written back as it came
    assert ModelCard.from_json(card.to_json()) == card
    assert read_card(folder) == card and read_state(folder) == card.to_json()


def test_unknown_keys_are_kept(folder: Path, tmp_path: Path) -> None:
    root = _write_card(folder, tmp_path, notes="trained on the demo clips")
    card = read_card(root)
    assert card is not None and card.extra == {"notes": "trained on the demo clips"}
    assert card.to_json()["notes"] == "trained on the demo clips"


def test_card_of_current_code_without_version_loads_as_version_1(folder: Path, tmp_path: Path) -> None:
    """Folders written before the card had a version: ``"version": 1`` and no ``card_version``."""
    root = _write_card(folder, tmp_path, card_version=None, version=1)
    _, card = load_model(root)
    assert card.card_version == 1 and card.step == 12 and card.align.coverage == 0.875


def test_card_of_a_newer_masque_is_refused(folder: Path, tmp_path: Path) -> None:
    root = _write_card(folder, tmp_path, card_version=CARD_VERSION + 1)
    with pytest.raises(ModelError, match=r"newer masque.*upgrade masque"):
        load_model(root)
    with pytest.raises(ModelError, match="newer masque"):
        read_state(root)  # resuming training refuses it too


@pytest.mark.parametrize(("changes", "named"), [
    ({"step": None}, "'step'"),
    ({"align": None}, "'align'"),
    ({"step": "twelve"}, "'step' must be a whole number"),
    ({"step": 12.5}, "'step' must be a whole number"),
    ({"model": 3}, "'model' must be a string"),
    ({"align": {"centering": "face", "coverage": "most"}}, "'align' must be"),
    ({"align": {"centering": "face", "coverage": 1.5}}, "'align' must be"),
    ({"color_shift": {"a": [0.1, 0.2]}}, "'color_shift.a' must be three numbers"),
    ({"facesets": "/data/a"}, "'facesets' must be a list"),
    ({"card_version": "1"}, "'card_version' must be a whole number"),
    ({"card_version": 0}, "'card_version' must be a whole number"),
    ({"format": "something-else"}, "not a masque model card"),
])
def test_damaged_card_is_refused_naming_the_field(folder: Path, tmp_path: Path, changes: dict[str, Any],
                                                  named: str) -> None:
    root = _write_card(folder, tmp_path, **changes)
    with pytest.raises(ModelError, match=named) as err:
        load_model(root)
    assert "restore" in str(err.value) or "masque train" in str(err.value)  # says what to do


def test_an_invalid_state_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="'input_size'"):
        save_checkpoint(tmp_path / "m", MODELS.create("lightweight"), None, {"model": "lightweight", "step": 1,
                                                                            "align": {"coverage": 0.8}})
    assert not (tmp_path / "m").exists() or not any((tmp_path / "m").iterdir())


def test_a_card_saves_as_itself(folder: Path, tmp_path: Path) -> None:
    """Resaving a loaded card (as a resumed run does) writes the same card, in this masque's layout."""
    model, card = load_model(folder)
    written = save_checkpoint(tmp_path / "again", model, None, card)
    assert written == card and read_card(tmp_path / "again") == card


def test_fields_left_out_stay_out() -> None:
    """A card with only the required fields writes only those (a reader sees no empty colour shift)."""
    minimal = {"format": FORMAT, "card_version": 1, "model": "original", "step": 0, "input_size": 64,
               "align": {"centering": "face", "coverage": 1.0, "size": 64}}
    card = ModelCard.from_json(minimal)
    assert card.to_json() == minimal and card.shift("a") == (0.0, 0.0, 0.0)

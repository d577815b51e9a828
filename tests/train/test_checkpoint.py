"""Model folders: round trip, and every way a folder can be wrong gives a ModelError, never a crash."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch

from masque.errors import ModelError
from masque.models import MODELS, SwapModel
from masque.models.io import MODEL_FILE, OPTIMIZER_FILE, STATE_FILE, load_model
from masque.train.checkpoint import (
    load_optimizer,
    save_checkpoint,
)
from masque.train.trainer import TrainConfig, Trainer

STATE = {"model": "lightweight", "step": 7, "input_size": 64,
         "align": {"centering": "face", "coverage": 0.875, "size": 64}, "facesets": ["/a", "/b"],
         "color_shift": {"a": [0.01, 0.0, -0.02], "b": [0.0, 0.0, 0.0]}, "mask": "extended", "device": "cpu"}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, SwapModel]:
    torch.manual_seed(0)
    model = MODELS.create("lightweight")
    opt = torch.optim.Adam(model.parameters(), lr=5e-5, betas=(0.5, 0.999), fused=True)
    x = torch.rand(2, 3, 64, 64)
    model(x, "a")[0].mean().backward()
    opt.step()
    root = tmp_path_factory.mktemp("model") / "m"
    save_checkpoint(root, model, opt, dict(STATE))
    return root, model


def _copy(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for f in (MODEL_FILE, OPTIMIZER_FILE, STATE_FILE):
        (dst / f).write_bytes((src / f).read_bytes())
    return dst


def test_round_trip_weights_state_and_optimizer(saved) -> None:
    root, model = saved
    loaded, card = load_model(root)
    assert isinstance(loaded, SwapModel) and not loaded.training
    assert card.step == 7 and card.to_json()["align"] == STATE["align"]
    assert card.to_json()["color_shift"] == STATE["color_shift"] and card.shift("a") == (0.01, 0.0, -0.02)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    opt = torch.optim.Adam(loaded.parameters(), lr=5e-5)
    assert load_optimizer(root, loaded, opt)
    first = next(iter(loaded.parameters()))
    assert float(opt.state[first]["exp_avg"].abs().sum()) > 0 and float(opt.state[first]["step"]) == 1
    assert not any(p.suffix in {".pt", ".pth", ".pkl"} for p in root.iterdir())


def test_pickle_payload_is_refused_unread(saved, tmp_path) -> None:
    root = _copy(saved[0], tmp_path / "evil")
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple:
            return (marker.write_text, ("code ran",))

    (root / MODEL_FILE).write_bytes(pickle.dumps({"weights": Exploit()}))
    with pytest.raises(ModelError, match="pickle"):
        load_model(root)
    torch.save({"w": torch.zeros(1)}, root / MODEL_FILE)  # torch.save zip archive, also a pickle
    with pytest.raises(ModelError, match="pickle"):
        load_model(root)
    assert not marker.exists()


def test_folder_with_only_a_pickle_checkpoint_is_refused(tmp_path) -> None:
    root = tmp_path / "legacy"
    root.mkdir()
    torch.save({"w": torch.zeros(1)}, root / "model.pth")
    with pytest.raises(ModelError, match="pickle"):
        load_model(root)


@pytest.mark.parametrize("damage", ["missing_weights", "missing_dir", "bad_json", "foreign_json", "truncated",
                                    "wrong_type", "wrong_arch"])
def test_broken_folders_raise_model_error(saved, tmp_path, damage: str) -> None:
    root = _copy(saved[0], tmp_path / "m")
    state = json.loads((root / STATE_FILE).read_text())
    if damage == "missing_weights":
        (root / MODEL_FILE).unlink()
    elif damage == "missing_dir":
        root = tmp_path / "nowhere"
    elif damage == "bad_json":
        (root / STATE_FILE).write_text("{not json")
    elif damage == "foreign_json":
        (root / STATE_FILE).write_text('{"hello": 1}')
    elif damage == "truncated":
        (root / MODEL_FILE).write_bytes((root / MODEL_FILE).read_bytes()[:5000])
    elif damage == "wrong_type":  # state says original, the weights are lightweight
        (root / STATE_FILE).write_text(json.dumps({**state, "model": "original"}))
    elif damage == "wrong_arch":
        (root / STATE_FILE).write_text(json.dumps({**state, "model": "nonexistent"}))
    with pytest.raises(ModelError):
        load_model(root)


def test_training_into_a_folder_of_another_model_type_is_a_clear_error(saved, facesets) -> None:
    with pytest.raises(ModelError, match="holds a 'lightweight' model, not 'original'"):
        Trainer(*facesets, saved[0], TrainConfig(model="original"))

"""`masque convert` from the command line: a saved model converts, a mismatched one is refused."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from masque.models import MODELS
from masque.train.checkpoint import save_checkpoint


def masque(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "masque.cli", *args], capture_output=True, text=True, timeout=300,
                          check=False)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("model") / "m"
    torch.manual_seed(0)
    model = MODELS.create("lightweight")
    save_checkpoint(root, model, None, {
        "model": "lightweight", "step": 3, "input_size": 64, "facesets": ["a", "b"],
        "align": {"centering": "face", "coverage": 0.875, "size": 256},
        "color_shift": {"a": [0.01, 0.0, -0.01], "b": [-0.01, 0.0, 0.01]}, "device": "cpu"})
    return root


def test_convert_image_writes_a_labelled_swap(model_dir, fixture_path, tmp_path) -> None:
    out = tmp_path / "out.png"
    proc = masque("convert", str(fixture_path("single_face.jpg")), "-m", str(model_dir), "-o", str(out),
                  "--mask", "components")
    assert proc.returncode == 0, proc.stderr
    assert "1 faces swapped" in proc.stdout
    verify = masque("verify", str(out), "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_model_folder_of_another_size_is_refused_clearly(model_dir, fixture_path, tmp_path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in model_dir.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    state = json.loads((bad / "state.json").read_text())
    state["input_size"] = 128  # a 64 px model whose folder claims 128 px
    (bad / "state.json").write_text(json.dumps(state))
    proc = masque("convert", str(fixture_path("single_face.jpg")), "-m", str(bad), "-o", str(tmp_path / "x.png"))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert str(bad) in proc.stderr and "lightweight" in proc.stderr


def test_missing_model_folder_and_input(model_dir, fixture_path, tmp_path) -> None:
    proc = masque("convert", str(fixture_path("single_face.jpg")), "-m", str(tmp_path / "nope"), "-o",
                  str(tmp_path / "x.png"))
    assert proc.returncode != 0 and "model folder not found" in proc.stderr
    proc = masque("convert", str(tmp_path / "missing.mp4"), "-m", str(model_dir), "-o", str(tmp_path / "x.mp4"))
    assert proc.returncode == 2 and "missing.mp4" in proc.stderr

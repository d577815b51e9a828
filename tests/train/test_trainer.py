"""Training on the fixture clips: the loss falls, resume continues it, Ctrl-C leaves a loadable model."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from masque.media import read_image
from masque.models import load_model
from masque.models.card import CropSpec
from masque.models.io import STATE_FILE
from masque.train.losses import LossConfig
from masque.train.trainer import TrainConfig, Trainer

# a short, fast run: lightweight, small batch, a higher learning rate than the default
FAST = dict(model="lightweight", batch=4, lr=3e-4, save_every=1000, preview_every=1000, log_every=5,
            workers=1, preview_faces=2, label_previews=False, threads=None)


@pytest.fixture(scope="module")
def first_run(facesets, tmp_path_factory):
    root = tmp_path_factory.mktemp("train") / "model"
    summary = Trainer(*facesets, root, TrainConfig(steps=30, **FAST)).run()
    return root, summary


def test_short_run_lowers_the_reconstruction_loss(first_run) -> None:
    root, summary = first_run
    assert summary.step == 30 and not summary.interrupted and not summary.resumed
    first, last = summary.history[0][1], summary.history[-1][1]
    assert last < 0.8 * first, summary.history
    _, card = load_model(root)
    assert card.step == 30 and card.model == "lightweight" and card.input_size == 64
    assert card.align == CropSpec(centering="face", coverage=0.875, size=64)
    assert len(card.facesets) == 2 and set(card.color_shift) == {"a", "b"}
    preview = read_image(root / "previews" / "step_0000030.png")
    assert preview.shape == (2 * 64, 8 * 64, 3)
    assert any((root / "logs").iterdir()), "TensorBoard events"


def test_resume_continues_steps_and_loss_curve(first_run, facesets) -> None:
    root, before = first_run
    after = Trainer(*facesets, root, TrainConfig(steps=40, **FAST)).run()
    assert after.resumed and after.start_step == 30 and after.step == 40
    # the resumed loss starts where the first run ended, not where it began
    assert after.history[0][1] < 0.9 * before.history[0][1]
    assert after.history[0][1] < before.history[-1][1] * 1.25
    state = json.loads((root / STATE_FILE).read_text())
    assert state["step"] == 40 and state["examples"] == 40 * 2 * 4


def test_resume_keeps_the_loss_background_weight(first_run, facesets, tmp_path) -> None:
    root, _ = first_run
    stored = json.loads((root / STATE_FILE).read_text())["config"]["loss"]["background"]
    other = LossConfig(background=stored + 0.3)
    resumed = Trainer(*facesets, root, TrainConfig(steps=40, loss=other, **FAST))
    assert resumed.config.loss.background == stored
    # a model from before the option was trained on the face only: it stays so
    old = tmp_path / "old"
    old.mkdir()
    state = json.loads((root / STATE_FILE).read_text())
    del state["config"]["loss"]["background"]
    (old / STATE_FILE).write_text(json.dumps(state))
    assert Trainer(*facesets, old, TrainConfig(steps=40, loss=other, **FAST)).config.loss.background == 0.0


def test_sigint_saves_a_loadable_checkpoint_and_exits_cleanly(facesets, tmp_path) -> None:
    root = tmp_path / "model"
    cmd = [sys.executable, "-m", "masque.cli", "train", "-A", str(facesets[0]), "-B", str(facesets[1]),
           "-m", str(root), "--model", "lightweight", "--batch", "4", "--steps", "100000", "--save-every", "100000",
           "--preview-every", "100000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # wait until the TensorBoard log exists (training has started) plus a few steps
        deadline = time.time() + 240
        while not (root / "logs").exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.5)
        time.sleep(8)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "interrupted: step" in out and "run the same command again" in err
    model, card = load_model(root)
    assert card.step >= 1 and model.input_size == 64


def test_model_info_cli(first_run) -> None:
    root, _ = first_run
    res = subprocess.run([sys.executable, "-m", "masque.cli", "model", "info", str(root)], capture_output=True,
                         text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert "lightweight" in res.stdout and "step:" in res.stdout and "trained on:   cpu" in res.stdout
    bad = subprocess.run([sys.executable, "-m", "masque.cli", "model", "info", str(Path(root).parent / "nope")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode != 0 and "masque: error:" in bad.stderr and "Traceback" not in bad.stderr


def test_preview_with_fewer_held_out_faces_in_b_than_in_a(facesets, tmp_path) -> None:
    """A small set B (fewer held-out faces than A) used to crash the first preview with an IndexError."""
    options = {**FAST, "preview_faces": 4, "preview_every": 1}
    # every 12th face held out: A (30 faces) holds 3, B (24 faces) holds 2
    summary = Trainer(*facesets, tmp_path / "model", TrainConfig(steps=1, holdout_every=12, **options)).run()
    assert summary.step == 1
    grid = read_image(tmp_path / "model" / "previews" / "step_0000001.png")
    assert grid.shape == (3 * 64, 8 * 64, 3)
    cell = grid[2 * 64:, 4 * 64:]  # B's four columns in A's third row: no third face of B
    assert np.all(np.abs(cell.astype(int) - 128) <= 1)
    assert cell.std() < 1 and grid[2 * 64:, :64].std() > 10  # A's third face is there

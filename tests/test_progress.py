"""The CLI's training bar: drawn from the trainer's StepInfo reports, with losses, rate and time left."""

from __future__ import annotations

import pytest

from masque.commands._progress import TrainingBar
from masque.train.trainer import StepInfo


def _info(step: int, elapsed: float, target: int | None = None, losses: dict[str, float] | None = None) -> StepInfo:
    return StepInfo(step, target, 32.0 if losses else 0.0, losses or {}, 2e-4, elapsed)


def test_a_time_bounded_run_shows_step_losses_rate_and_the_time_left(capsys):
    bar = TrainingBar("train lightweight", minutes=2.0)
    assert capsys.readouterr().err == ""  # nothing is drawn before the first step
    bar(_info(101, 1.0))  # resumed at step 100: the bar counts the model's steps
    for step in range(102, 111):
        bar(_info(step, step - 100.0, losses={"total_a": 0.0412, "total_b": 0.0387}))
    assert bar.postfix(_info(110, 10.0, losses={"total_a": 0.0412, "total_b": 0.0387})) == (
        "loss A 0.0412 B 0.0387, 32.0 ex/s, 01:50 left")
    bar.close()
    err = capsys.readouterr().err
    assert "train lightweight: step 110" in err and "01:50 left" in err
    bar.close()  # closing twice is harmless


def test_a_step_bounded_run_estimates_the_time_left_from_the_rate():
    bar = TrainingBar("train")
    bar(_info(1, 0.5, target=101))
    assert bar.postfix(_info(1, 0.5, target=101)) == ""  # no rate and no losses yet
    bar(_info(11, 5.5, target=101))
    assert bar.seconds_left(_info(11, 5.5, target=101)) == pytest.approx(45.0)  # 0.5 s a step, 90 to go
    bar.close()


def test_masque_demo_draws_the_bar_from_the_demo_s_training_reports(monkeypatch, capsys, tmp_path):
    """The CLI hands the bar to run_demo as on_step (the trainer's callback) and closes it at the next stage."""
    import masque.demo
    from masque.cli import main

    def fake_run_demo(config, log, on_step, on_enhancer_step=None):
        log("extract clip_long.mp4: ...")
        for step in (1, 2, 3):
            on_step(_info(step, float(step), losses={"total_a": 0.05, "total_b": 0.06}))
        log("train lightweight: step 0 -> 3 (new)")
        return masque.demo.DemoResult()

    monkeypatch.setattr(masque.demo, "run_demo", fake_run_demo)
    argv = ["demo", "-o", str(tmp_path / "demo"), "--minutes", "0.5", "--enhancer-share", "0", "--device", "cpu"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "masque demo: train lightweight: step 0 -> 3" in out
    assert "train lightweight: step 3" in err and "loss A 0.0500 B 0.0600" in err and "00:27 left" in err

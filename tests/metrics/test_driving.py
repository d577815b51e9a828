"""The animation measures' arithmetic: own shape and pose removed, correlations, goals, valid JSON."""

from __future__ import annotations

import json

import numpy as np

from masque.metrics.driving import DrivingReport, DrivingSeries, format_driving


def _series(mouth: np.ndarray, eyes: np.ndarray, yaw: np.ndarray, offset: float = 0.0) -> DrivingSeries:
    s = DrivingSeries()
    s.mouth = list(mouth + offset)
    s.eyes = list(eyes + offset)
    s.pose = [(float(y) + 10 * offset, 3.0, 0.0) for y in yaw]
    s.jitter = [0.01] * len(mouth)
    return s


def test_a_faithful_animation_scores_perfectly_whatever_its_own_shape() -> None:
    t = np.linspace(0, 6, 60)
    mouth, eyes, yaw = 0.1 + 0.1 * np.sin(t), 0.2 + 0.05 * np.cos(2 * t), 15 * np.sin(t / 2)
    # the photo's mouth is wider and its head turned 20 degrees more: neither is an error
    report = DrivingReport(_series(mouth, eyes, yaw, offset=2.0), _series(mouth, eyes, yaw), (0.3, 0.4))
    s = report.summary()
    assert s["expression"]["mouth_corr"] > 0.999 and s["expression"]["eyes_corr"] > 0.999
    assert s["expression"]["mouth_mae_iod"] < 1e-9
    assert s["pose"]["yaw_err"] < 1e-9 and s["pose"]["within_goal"] == 1.0
    assert s["identity"]["within_goal"] == 1.0 and s["jitter"]["ratio"] == 1.0


def test_a_frozen_photo_fails_and_missing_faces_give_valid_json() -> None:
    t = np.linspace(0, 6, 30)
    driving = _series(0.1 + 0.1 * np.sin(t), 0.2 + 0.05 * np.cos(t), 20 * np.sin(t))
    frozen = _series(np.full(30, 0.05), np.full(30, 0.25), np.zeros(30))
    frozen.mouth[3] = float("nan")
    s = DrivingReport(frozen, driving, (0.5, float("nan"))).summary()
    assert s["expression"]["mouth_corr"] is None  # a constant series correlates with nothing
    assert s["pose"]["yaw_err"] > 5 and s["pose"]["within_goal"] < 0.5
    assert s["identity"] == {"frames": 1, "mean": 0.5, "within_goal": 0.0, "same_person": 1.0, "missing": 1}
    json.loads(json.dumps(s, allow_nan=False))
    assert "n/a" in format_driving(s)

"""The end-to-end demo on the real clips (slow: minutes on 2 cores; run with -m slow)."""

from __future__ import annotations

import json

import pytest

from masque.demo import DemoConfig, run_demo
from masque.media import probe_video
from masque.provenance import verify_file


@pytest.mark.slow
def test_demo_runs_end_to_end_and_a_second_run_continues(tmp_path, fixture_path) -> None:
    config = DemoConfig(out=tmp_path / "demo", minutes=0.3)
    steps: list[int] = []
    first = run_demo(config, on_step=lambda info: steps.append(info.step))
    assert steps == list(range(1, first.summary["train"]["step"] + 1))  # training reported every step
    for name in ("a_as_b", "b_as_a", "a_side_by_side", "b_side_by_side", "preview", "a_as_b_oneshot",
                 "b_as_a_oneshot"):
        assert first.outputs[name].is_file()
    for name in ("a_as_b_oneshot", "b_as_a_oneshot"):
        assert verify_file(first.outputs[name]).labelled
        assert first.summary["oneshot"][f"{name}.mp4"]["swapped"] > 0
    for side, clip in (("a", "clip_long.mp4"), ("b", "clip_short.mp4")):
        src = probe_video(fixture_path(clip))
        out = probe_video(first.outputs[f"{side}_as_{'b' if side == 'a' else 'a'}"])
        assert (out.frames, out.fps, out.width, out.has_audio) == (src.frames, src.fps, src.width, True)
        assert verify_file(out.path).labelled
    assert first.summary["enhancer"]["step"] > 0  # the enhancer stage ran after the base model
    step = first.summary["train"]["step"]
    second = run_demo(config)
    assert second.summary["train"]["start_step"] == step  # resumed, not restarted
    assert second.summary["enhancer"]["start_step"] == first.summary["enhancer"]["step"]
    assert all(v["frames"] == 0 and v["reused"] > 0 for v in second.summary["extract"].values())
    assert json.loads((config.out / "summary.json").read_text())["train"]["step"] > step

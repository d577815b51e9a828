"""``--ray``: a folder of fixture videos through a local 2-worker Ray cluster, frame for frame a local run."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from masque.cluster import jobs, runner
from masque.cluster.segments import plan_segments, read_segment
from masque.compose.files import media_files, plan_outputs
from masque.convert.pipeline import ConvertConfig
from masque.faceset.config import ExtractConfig
from masque.faceset.extract import extract_faceset
from masque.media import VideoReader, probe_video
from masque.models import MODELS
from masque.provenance import LabelConfig
from masque.train.checkpoint import save_checkpoint

STATE = {"model": "lightweight", "step": 1, "input_size": 64,
         "align": {"centering": "face", "coverage": 0.875, "size": 64}}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("model") / "m"
    save_checkpoint(root, MODELS.create("lightweight"), None, dict(STATE))
    return root


def _write(path: Path, frames: list[np.ndarray], gop: int, audio_from: Path | None = None) -> Path:
    """An H.264 clip of ``frames`` with a keyframe every ``gop`` frames (and the audio of ``audio_from``)."""
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=24)
        v.width, v.height, v.pix_fmt, v.gop_size = frames[0].shape[1], frames[0].shape[0], "yuv420p", gop
        v.options = {"crf": "18", "preset": "veryfast", "keyint_min": str(gop), "sc_threshold": "0"}
        src = av.open(str(audio_from)) if audio_from else None
        a = out.add_stream_from_template(src.streams.audio[0]) if src else None
        for i, f in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(f, format="rgb24")
            vf.pts = i
            out.mux(v.encode(vf))
        out.mux(v.encode(None))
        if src is not None and a is not None:
            for packet in src.demux(src.streams.audio[0]):
                if packet.dts is not None and float(packet.pts * packet.time_base) < len(frames) / 24:
                    packet.stream = a
                    out.mux(packet)
            src.close()
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory, fixture_path) -> Path:
    """Short clips of the fixture faces: a.mp4 (12 frames), b.mov (12), seg.mp4 (36, a keyframe every 12, audio)."""
    folder = tmp_path_factory.mktemp("clips")
    man = [f for _, f in zip(range(36), VideoReader(fixture_path("clip_short.mp4")))]
    woman = [f for _, f in zip(range(36), VideoReader(fixture_path("clip_long.mp4")))]
    _write(folder / "a.mp4", man[:12], 250)
    _write(folder / "b.mov", woman[:12], 250)
    _write(folder / "seg.mp4", woman, 12, audio_from=fixture_path("clip_long.mp4"))
    return folder


def _recipe(model_dir: Path) -> jobs.ConvertRecipe:
    # labels off: the watermark carries a per-run id, and two runs must be comparable pixel for pixel
    return jobs.ConvertRecipe(str(model_dir), "cpu", ConvertConfig(), LabelConfig(enabled=False), 1)


def _frames(path: Path) -> list[np.ndarray]:
    return list(VideoReader(path))


def test_folder_through_the_cluster_matches_a_local_run(cluster, model_dir, clips, tmp_path) -> None:
    recipe = _recipe(model_dir)
    plan = plan_outputs(media_files(clips), tmp_path / "ray")
    (tmp_path / "ray").mkdir()
    seen = []
    summary = runner.run_frames(cluster[0].address, recipe, plan, progress=lambda d, t: seen.append((d, t)),
                                segment_frames=12)  # seg.mp4: 3 segments (0-12, 12-24, 24-36)
    assert not summary.failed and summary.tasks == 2 + 3
    assert seen[-1] == (12 + 12 + 36, 12 + 12 + 36)  # one bar over every task of the cluster
    for src, dst in plan:
        local = tmp_path / "local" / dst.name
        local.parent.mkdir(exist_ok=True)
        jobs.frames_file(recipe, str(src), str(local))  # what `masque convert` does with the file
        a, b = _frames(local), _frames(dst)
        assert len(a) == len(b) == probe_video(src).frames
        if src.name != "seg.mp4":  # a whole file: the same code as a local run, pixel for pixel
            assert all(np.array_equal(x, y) for x, y in zip(a, b)), src
        else:  # segments: the same frames in the same order; encoded per segment, tracking restarted
            diff = [float(np.abs(x.astype(np.int16) - y).mean()) for x, y in zip(a, b)]
            assert max(diff) < 4 and float(np.mean(diff)) < 1.5, (max(diff), np.mean(diff))
            # each output frame is nearest to the local frame of its own number (the woman moves)
            near = [int(np.argmin([np.abs(a[j].astype(np.int16) - y).mean() for j in range(len(a))])) for y in b]
            assert near == list(range(len(a))), "frames out of order"
            assert probe_video(dst).has_audio
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == ["a.mp4", "b.mov", "seg.mp4"], \
        "segment parts and temporary files are removed"


def test_a_bad_input_fails_alone_with_its_reason(cluster, model_dir, clips, tmp_path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(clips / "a.mp4", folder / "good.mp4")
    (folder / "bad.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))  # a header, then nothing
    (folder / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))  # fails on the worker, not retried
    plan = plan_outputs(media_files(folder), tmp_path / "out")
    summary = runner.run_frames(cluster[0].address, _recipe(model_dir), plan)
    assert [p.name for p in summary.outputs] == ["good.mp4"] and summary.frames == 12
    reasons = {p.name: r for p, r in summary.failed}
    assert set(reasons) == {"bad.mp4", "bad.png"}, reasons
    assert "bad.png" in reasons["bad.png"] and "died" not in reasons["bad.png"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.mp4"]


def test_extract_across_workers_lands_in_one_index_like_a_local_run(cluster, clips, tmp_path) -> None:
    config = ExtractConfig(every=2, workers=0)
    inputs = [clips / "a.mp4", clips / "seg.mp4"]
    s = runner.run_extract(cluster[0].address, inputs, tmp_path / "ray", config, segment_frames=12)
    assert not s.failed and s.tasks == 1 + 3
    extract_faceset(inputs, tmp_path / "local", config)

    def rows(root: Path) -> list[tuple]:
        with sqlite3.connect(root / "faceset.sqlite") as db:
            return db.execute("SELECT sources.path, frame, face_index, image FROM faces JOIN sources "
                              "ON sources.id = faces.source_id ORDER BY sources.path, frame, face_index").fetchall()

    ray_rows, local_rows = rows(tmp_path / "ray"), rows(tmp_path / "local")
    assert s.faces == len(ray_rows) >= 10
    # the same frames (every 4th of both clips); a face on each, tracking restarted at segment starts
    assert [r[:2] for r in ray_rows] == [r[:2] for r in local_rows]
    assert all((tmp_path / "ray" / r[3]).is_file() for r in ray_rows)
    # a second run resumes: every frame is already indexed, nothing is added twice
    again = runner.run_extract(cluster[0].address, inputs, tmp_path / "ray", config, segment_frames=12)
    assert again.tasks == 0 and rows(tmp_path / "ray") == ray_rows


def test_segments_cover_every_frame_once_at_keyframes(fixture_path) -> None:
    long = fixture_path("clip_long.mp4")  # 472 frames, a keyframe every 72
    assert [(s.start, s.end) for s in plan_segments(long, 144)] == [(0, 144), (144, 288), (288, 472)]
    assert [s.start for s in plan_segments(long, 100)] == [0, 144, 288]
    assert len(plan_segments(fixture_path("clip_short.mp4"), 144)) == 1
    seg = plan_segments(long, 144)[1]
    frames = list(read_segment(long, seg))
    whole = [f for _, f in zip(range(150), VideoReader(long))]
    assert len(frames) == 144 and np.array_equal(frames[0], whole[144]) and np.array_equal(frames[5], whole[149])


def _descendants(pid: int) -> set[int]:
    parents: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parents[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p and c not in found]
        found.update(kids)
        todo += kids
    return found


def _kill_a_busy_worker(timeout: float = 120) -> int:
    """SIGKILL one Ray worker process of this test's cluster while it runs a task; its pid."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for pid in _descendants(os.getpid()):
            try:
                title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if title.startswith(b"ray::_call"):  # Ray names a worker after the task it is running
                time.sleep(1.0)  # mid-task: its output file is half written
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.05)
    raise AssertionError("no busy Ray worker found")


@pytest.mark.slow
def test_a_worker_killed_mid_task_is_retried_and_nothing_is_lost_or_doubled(cluster, model_dir, clips, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(4):
        shutil.copy(clips / "seg.mp4", folder / f"c{i}.mp4")
    plan = plan_outputs(media_files(folder), tmp_path / "out")
    result: dict[str, runner.ClusterSummary] = {}
    thread = threading.Thread(target=lambda: result.setdefault(
        "s", runner.run_frames(cluster[0].address, _recipe(model_dir), plan)))
    thread.start()
    _kill_a_busy_worker()
    thread.join(600)
    s = result["s"]
    assert not s.failed and s.frames == 4 * 36
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"c{i}.mp4" for i in range(4)]
    local = tmp_path / "local.mp4"
    jobs.frames_file(_recipe(model_dir), str(folder / "c0.mp4"), str(local))
    want = _frames(local)
    for _, dst in plan:  # every output whole, as a local run writes it
        got = _frames(dst)
        assert len(got) == 36 and all(np.array_equal(x, y) for x, y in zip(want, got))


@pytest.mark.slow
def test_extract_with_a_worker_killed_adds_each_face_once(cluster, clips, tmp_path) -> None:
    inputs = [clips / "seg.mp4", clips / "a.mp4", clips / "b.mov"]
    config = ExtractConfig(every=1, workers=0)
    result: dict[str, runner.ClusterSummary] = {}
    thread = threading.Thread(target=lambda: result.setdefault(
        "s", runner.run_extract(cluster[0].address, inputs, tmp_path / "ray", config, segment_frames=12)))
    thread.start()
    _kill_a_busy_worker()
    thread.join(600)
    assert not result["s"].failed
    with sqlite3.connect(tmp_path / "ray" / "faceset.sqlite") as db:
        keys = db.execute("SELECT source_id, frame, face_index FROM faces").fetchall()
        frames = db.execute("SELECT count(*) FROM frames").fetchone()[0]
    assert len(keys) == len(set(keys)) and frames == 36 + 12 + 12
    pngs = sorted(p.name for p in (tmp_path / "ray" / "faces").iterdir())
    assert len(pngs) == len(keys) and not [p for p in pngs if p.startswith(".")]

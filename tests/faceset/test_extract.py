"""Extract on real clips and photos: faces indexed, resume after kill -9, bad input reported."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from masque.errors import RegistryError
from masque.face import reference_embeddings
from masque.faceset import FaceSet
from masque.faceset.extract import ExtractConfig, extract_faceset
from masque.media import read_image


def masque(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "masque.cli", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.fixture(scope="module")
def short_faceset(tmp_path_factory, fixture_path) -> Path:
    out = tmp_path_factory.mktemp("fs") / "short"
    summary = extract_faceset([fixture_path("clip_short.mp4")], out, ExtractConfig(every=6))
    assert summary.frames == 12 and not summary.errors
    return out


def test_every_frame_gets_one_aligned_face(short_faceset) -> None:
    with FaceSet(short_faceset) as fs:
        faces = list(fs.faces())
        assert [r.frame for r in faces] == list(range(0, 72, 6))
        for r in faces:
            img = read_image(fs.image_path(r))
            assert img.shape == (256, 256, 3)
            assert r.embedding is not None and r.embedding.shape == (128,)
            assert -60 < r.yaw < 60 and np.isfinite(r.blur)
            # the stored matrix maps the stored source landmarks onto the crop's eyes
            eyes = r.aligned_landmarks[36:48].mean(0)
            assert 100 < eyes[0] < 156 and 60 < eyes[1] < 120
        # one person throughout: every embedding near the mean
        embs = np.stack([r.embedding for r in faces])
        assert np.linalg.norm(embs - embs.mean(0), axis=1).max() < 0.45


def test_rerun_of_finished_extract_adds_nothing(short_faceset, fixture_path) -> None:
    summary = extract_faceset([fixture_path("clip_short.mp4")], short_faceset, ExtractConfig(every=6))
    assert summary.frames == 0 and summary.frames_skipped == 12
    with FaceSet(short_faceset) as fs:
        assert len(fs) == 12


def test_list_json_has_the_documented_fields(short_faceset) -> None:
    proc = masque("faceset", "list", str(short_faceset), "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(rows) == 12
    row = rows[0]
    assert set(row) == {"source", "frame", "face_index", "bbox", "landmarks", "yaw", "pitch", "roll", "blur", "image"}
    assert len(row["landmarks"]) == 68 and len(row["bbox"]) == 4 and Path(row["image"]).is_file()


def test_sort_and_prune(short_faceset, tmp_path) -> None:
    fs_dir = tmp_path / "copy"
    shutil.copytree(short_faceset, fs_dir)
    assert masque("faceset", "sort", str(fs_dir), "--by", "blur").returncode == 0
    with FaceSet(fs_dir) as fs:
        by_name = sorted(fs.faces(), key=lambda r: r.image)
        blurs = [r.blur for r in by_name]
        assert blurs == sorted(blurs)
        median = float(np.median(blurs))
        os.unlink(fs.image_path(by_name[0]))  # a face deleted by hand in a file browser
    # with the hand-deleted face, more than half the set goes: prune asks for --yes then
    proc = masque("faceset", "prune", str(fs_dir), "--max-blur", str(median), "--yes")
    assert proc.returncode == 0, proc.stderr
    with FaceSet(fs_dir) as fs:
        left = list(fs.faces())
        assert 0 < len(left) < 12 and all(r.blur <= median for r in left)
        assert all(fs.image_path(r).is_file() for r in left)


def test_identity_keeps_only_the_reference_person(tmp_path, fixture_path) -> None:
    ref = reference_embeddings([fixture_path("obama.jpg")])
    out = tmp_path / "obama"
    s = extract_faceset([fixture_path("obama2.jpg"), fixture_path("biden.jpg")], out,
                        ExtractConfig(identity=ref, workers=0))
    assert s.faces == 1 and s.faces_rejected == 1
    with FaceSet(out) as fs:
        assert [Path(r.source).name for r in fs.faces()] == ["obama2.jpg"]


def _db_frames(out: Path) -> int:
    try:
        with sqlite3.connect(out / "faceset.sqlite", timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM frames").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_resume_after_kill_loses_nothing_and_duplicates_nothing(tmp_path, fixture_path) -> None:
    out = tmp_path / "killed"
    clip = str(fixture_path("clip_short.mp4"))
    # every frame: 9 chunks, so a kill after the first commits still lands mid-run (two workers
    # commit a chunk each about every 40 ms)
    args = [sys.executable, "-m", "masque.cli", "extract", clip, "-o", str(out)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while _db_frames(out) < 6 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole group: workers die too, mid-frame
    proc.wait()
    before = _db_frames(out)
    assert 6 <= before < 72, "the kill should land mid-run"
    with FaceSet(out) as fs:
        kept = {(r.frame, r.id) for r in fs.faces()}
    done = masque("extract", clip, "-o", str(out))
    assert done.returncode == 0, done.stderr
    with FaceSet(out) as fs:
        faces = list(fs.faces())
        assert sorted(r.frame for r in faces) == list(range(72))  # every frame, once
        assert kept <= {(r.frame, r.id) for r in faces}  # what was there before survived as it was
        on_disk = {p.name for p in (out / "faces").glob("*.png")}
        assert on_disk == {Path(r.image).name for r in faces}  # no orphan or missing PNG


def test_corrupt_and_empty_inputs_give_clear_errors(tmp_path, fixture_path) -> None:
    garbage = tmp_path / "broken.mp4"
    garbage.write_bytes(os.urandom(50_000))
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("not an image")

    proc = masque("extract", str(garbage), "-o", str(tmp_path / "o1"))
    assert proc.returncode == 2 and "broken.mp4" in proc.stderr and "Traceback" not in proc.stderr
    proc = masque("extract", str(empty), "-o", str(tmp_path / "o2"))
    assert proc.returncode == 2 and "empty.png" in proc.stderr
    proc = masque("extract", str(notes), "-o", str(tmp_path / "o3"))
    assert proc.returncode == 2 and "notes" in proc.stderr and "no images or videos" in proc.stderr
    proc = masque("extract", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "o4"))
    assert proc.returncode == 2 and "missing.mp4" in proc.stderr


def test_bad_file_beside_good_ones_keeps_the_good(tmp_path, fixture_path) -> None:
    out = tmp_path / "mixed"
    garbage = tmp_path / "broken.mp4"
    garbage.write_bytes(os.urandom(20_000))
    proc = masque("extract", str(fixture_path("obama.jpg")), str(fixture_path("no_face.jpg")), str(garbage),
                  "-o", str(out), "--workers", "0")
    assert proc.returncode == 0, proc.stderr
    assert "broken.mp4" in proc.stdout + proc.stderr
    assert "no face found" in proc.stderr and "free-mountain" in proc.stderr
    with FaceSet(out) as fs:
        assert len(fs) == 1


def test_truncated_video_keeps_the_frames_before_the_damage(tmp_path, fixture_path) -> None:
    data = Path(fixture_path("clip_short.mp4")).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path / "cut_fs"
    proc = masque("extract", str(cut), "-o", str(out), "--every", "6")
    if proc.returncode == 2:  # container index at the end of the file: nothing decodable
        assert "cut.mp4" in proc.stderr
        return
    assert proc.returncode == 0, proc.stderr
    with FaceSet(out) as fs:
        assert 0 < len(fs) <= 12


def test_tracking_between_detections_matches_detecting_every_frame(tmp_path, short_run) -> None:
    tracked = extract_faceset([short_run], tmp_path / "t", ExtractConfig(detect_every=4, workers=0))
    detected = extract_faceset([short_run], tmp_path / "d", ExtractConfig(detect_every=1, workers=0,
                                                                          embed_every_frame=True))
    assert tracked.faces == detected.faces == 20
    with FaceSet(tmp_path / "t") as ft, FaceSet(tmp_path / "d") as fd:
        t, d = list(ft.faces()), list(fd.faces())
    gaps = []
    for a, b in zip(t, d):
        iod = np.linalg.norm(b.landmarks[36:42].mean(0) - b.landmarks[42:48].mean(0))
        assert np.abs(a.landmarks - b.landmarks).mean() < 0.05 * iod  # tracked landmarks stay on the face
        gaps.append(float(np.linalg.norm(a.embedding - b.embedding)))
    # a track's embedding is its person's: far inside the 0.6 same-person radius, exact on detections
    assert max(gaps) < 0.35 and np.mean(gaps) < 0.15 and gaps[0] < 1e-3


@pytest.mark.timeout(120)
def test_a_detector_the_workers_cannot_build_fails_once_instead_of_hanging(tmp_path, short_run) -> None:
    """A worker whose initializer raised used to exit and be replaced, forever; now the error
    reaches the caller with the first chunk, and nothing is indexed."""
    with pytest.raises(RegistryError, match="unknown detector 'nope'"):
        extract_faceset([short_run], tmp_path / "x", ExtractConfig(detector="nope", workers=2))
    with FaceSet(tmp_path / "x") as fs:
        assert len(fs) == 0
    proc = masque("extract", str(short_run), "-o", str(tmp_path / "y"), "--detector", "nope", timeout=120)
    assert proc.returncode == 2 and "unknown detector 'nope'" in proc.stderr


def test_extract_workers_start_after_torch_has_run_threads(tmp_path, fixture_path) -> None:
    """A full-suite run once hung with forked workers stuck in ``torch.set_num_threads``; workers no
    longer touch torch. This covers the case closest to it that reproduces outside the suite."""
    script = (
        "import torch, sys\n"
        "torch.set_num_threads(2)\n"
        "torch.nn.functional.conv2d(torch.rand(8, 16, 64, 64), torch.rand(16, 16, 3, 3)).sum()\n"
        "from masque.faceset.extract import ExtractConfig, extract_faceset\n"
        "s = extract_faceset([sys.argv[1]], sys.argv[2], ExtractConfig(workers=2, every=12))\n"
        "print(s.faces)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, str(fixture_path("clip_short.mp4")), str(tmp_path / "fs")],
                          capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "6"


def test_full_disk_is_a_clear_error_and_keeps_what_was_indexed(tmp_path, fixture_path, monkeypatch) -> None:
    """The PNG write hitting ENOSPC mid-run: a MasqueError naming the cause; earlier faces stay."""
    import errno

    from masque.errors import OutOfSpaceError
    from masque.faceset import worker

    out = tmp_path / "full"
    extract_faceset([fixture_path("obama.jpg")], out, ExtractConfig(workers=0))
    real = worker.atomic_write_bytes

    def no_space(path: Path, data: bytes) -> None:
        raise OutOfSpaceError(f"disk full while writing {path}; free space and run again") from OSError(
            errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(worker, "atomic_write_bytes", no_space)
    with pytest.raises(OutOfSpaceError, match="disk full"):
        extract_faceset([fixture_path("biden.jpg")], out, ExtractConfig(workers=0))
    monkeypatch.setattr(worker, "atomic_write_bytes", real)
    with FaceSet(out) as fs:
        assert [Path(r.source).name for r in fs.faces()] == ["obama.jpg"]
    extract_faceset([fixture_path("biden.jpg")], out, ExtractConfig(workers=0))  # resumes once there is space
    with FaceSet(out) as fs:
        assert len(fs) == 2


@pytest.mark.timeout(180)
def test_full_disk_mid_video_with_workers_stops_cleanly_and_resumes(tmp_path, fixture_path, monkeypatch) -> None:
    """The error lands while the decoder thread waits for a free shared-memory slot and the
    workers hold chunks: the run must end (not hang, not touch freed memory) and leave no segment."""
    from masque.errors import OutOfSpaceError
    from masque.faceset import ring, worker

    clip, out = fixture_path("clip_short.mp4"), tmp_path / "full"
    real, writes = worker.atomic_write_bytes, []

    def fills_up(path: Path, data: bytes) -> None:
        writes.append(path)
        if len(writes) > 20:
            raise OutOfSpaceError(f"disk full while writing {path}; free space and run again")
        real(path, data)

    monkeypatch.setattr(worker, "atomic_write_bytes", fills_up)
    with pytest.raises(OutOfSpaceError):
        extract_faceset([clip], out, ExtractConfig(workers=2))
    mine = f"{ring._PREFIX}{os.getpid()}-"
    if os.path.isdir("/dev/shm"):
        assert not [e for e in os.listdir("/dev/shm") if e.startswith(mine)], "the frame segment outlived the run"
    with FaceSet(out) as fs:
        assert 0 < len(fs) <= 20
    monkeypatch.setattr(worker, "atomic_write_bytes", real)
    extract_faceset([clip], out, ExtractConfig(workers=2))
    with FaceSet(out) as fs:
        assert sorted(r.frame for r in fs.faces()) == list(range(72))


def test_videos_of_two_sizes_in_one_run_each_get_their_frames(tmp_path, short_run) -> None:
    """Each video has its own shared-memory ring; the workers switch to the next one's."""
    from masque.media import VideoReader, VideoWriter

    small = tmp_path / "small.mp4"
    with VideoWriter(small, 30, crf=12) as w:
        for frame in VideoReader(short_run):
            w.write(np.ascontiguousarray(frame[::2, ::2]))  # half size, same face
    s = extract_faceset([short_run, small], tmp_path / "both", ExtractConfig(workers=2))
    assert s.frames == 40 and s.faces == 40 and not s.errors
    with FaceSet(tmp_path / "both") as fs:
        by_source: dict[str, list[float]] = {}
        for r in fs.faces():
            by_source.setdefault(Path(r.source).name, []).append(r.bbox[2] - r.bbox[0])
    assert sorted(by_source) == ["run20.mp4", "small.mp4"]
    ratio = np.median(by_source["small.mp4"]) / np.median(by_source["run20.mp4"])
    assert 0.4 < ratio < 0.6  # the small video's faces are measured in its own pixels


def test_a_folder_of_photos_runs_on_the_workers_like_inline(tmp_path, fixture_path) -> None:
    """More photos than a chunk holds: read and analysed by the worker processes in parallel;
    the damaged one and the faceless one are reported by name, the rest indexed as inline."""
    folder = tmp_path / "photos"
    folder.mkdir()
    names = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "multi_face.jpg", "no_face.jpg",
             "expression_su.jpg", "expression_hao.jpg", "expression_anc.jpg"]
    for name in names:
        shutil.copy(fixture_path(name), folder / name)
    (folder / "damaged.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    runs = {}
    for workers in (2, 0):
        s = extract_faceset([folder], tmp_path / f"w{workers}", ExtractConfig(workers=workers, chunk=4))
        assert s.frames == 9 and s.frames_without_face == 1
        assert len(s.errors) == 1 and "damaged.jpg" in s.errors[0]
        with FaceSet(tmp_path / f"w{workers}") as fs:
            runs[workers] = sorted((Path(r.source).name, r.face_index, tuple(np.round(r.landmarks[30], 1)))
                                   for r in fs.faces())
    assert runs[2] == runs[0] and len(runs[2]) == 11  # one face a portrait, HOG finds 4 in the group
    again = extract_faceset([folder], tmp_path / "w2", ExtractConfig(workers=2, chunk=4))
    assert again.frames == 0 and again.frames_skipped == 9  # resumed: nothing redone


def _grandchildren() -> list[int]:
    """Pids of this process's children's children (the fork server's workers), from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
    # only the fork server: other children of the test process (a Ray cluster another test left
    # running, a browser) have children of their own that are not extract's workers
    children = {pid for pid, ppid in parents.items() if ppid == os.getpid() and _is_forkserver(pid)}
    return [pid for pid, ppid in parents.items() if ppid in children]


def _is_forkserver(pid: int) -> bool:
    try:
        return b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the workers through /proc")
@pytest.mark.timeout(180)
def test_a_worker_killed_mid_run_is_an_error_not_a_hang(tmp_path, fixture_path) -> None:
    """The OOM killer's case: a worker dies holding a chunk. A multiprocessing pool would start
    another and wait for the lost chunk forever; extract stops with WorkerDiedError, keeps what
    it committed, and the rerun finishes."""
    from masque.errors import WorkerDiedError

    clip, out, killed = fixture_path("clip_short.mp4"), tmp_path / "killed", []

    def kill_a_worker(done: int, total: int | None) -> None:
        if done and not killed:
            workers = _grandchildren()
            assert workers, "no worker process found"
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])

    with pytest.raises(WorkerDiedError, match="run the same extract again"):
        extract_faceset([clip], out, ExtractConfig(workers=2), progress=kill_a_worker)
    with FaceSet(out) as fs:
        assert 0 < len(fs) < 72
    extract_faceset([clip], out, ExtractConfig(workers=2))
    with FaceSet(out) as fs:
        assert sorted(r.frame for r in fs.faces()) == list(range(72))


@pytest.mark.timeout(180)
def test_a_script_without_a_main_guard_gets_told_instead_of_hanging(tmp_path, fixture_path) -> None:
    """Workers re-import the caller's main module (as with any spawn or fork-server pool); an
    unguarded script's workers then fail as they start, which used to hang the run."""
    script = tmp_path / "unguarded.py"
    script.write_text("from masque.faceset.extract import ExtractConfig, extract_faceset\n"
                      f"extract_faceset([{str(fixture_path('clip_short.mp4'))!r}], {str(tmp_path / 'fs')!r}, "
                      "ExtractConfig(workers=2))\n")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=150,
                          check=False)
    assert proc.returncode != 0 and 'if __name__ == "__main__":' in proc.stderr


def test_a_folder_of_frames_with_sequence_is_tracked_like_the_video(tmp_path, short_run) -> None:
    """--sequence: consecutive frames as image files are tracked (a detection every 8, tracked
    faces keep their detection's embedding), giving what the video itself gives."""
    from masque.media import VideoReader, write_image

    folder = tmp_path / "frames"
    for i, frame in enumerate(VideoReader(short_run)):
        write_image(folder / f"{i:05d}.png", frame)
    video = extract_faceset([short_run], tmp_path / "v", ExtractConfig(workers=2))
    frames = extract_faceset([folder], tmp_path / "s", ExtractConfig(workers=2, sequence=True))
    single = extract_faceset([folder], tmp_path / "i", ExtractConfig(workers=2))
    assert video.faces == frames.faces == single.faces == 20
    with FaceSet(tmp_path / "v") as fv, FaceSet(tmp_path / "s") as fs, FaceSet(tmp_path / "i") as fi:
        v = sorted(fv.faces(), key=lambda r: r.frame)
        s = sorted(fs.faces(), key=lambda r: r.source)
        i = sorted(fi.faces(), key=lambda r: r.source)
    for a, b in zip(v, s):  # the same frames, the same analysis: tracked identically
        assert np.abs(a.landmarks - b.landmarks).max() <= 1.0
        assert np.allclose(a.embedding, b.embedding, atol=1e-4)
    same_as_first = [np.array_equal(r.embedding, s[0].embedding) for r in s[:8]]
    assert all(same_as_first)  # frames 1-7 tracked from frame 0's detection
    assert not any(np.array_equal(r.embedding, i[0].embedding) for r in i[1:8])  # each image on its own


def test_a_covered_face_is_extracted_again_soon_after_it_returns(tmp_path, fixture_path) -> None:
    """Frames 20-30 of the clip with the face under a grey box: no face is indexed there, and the
    face is indexed again within 3 frames of its return (the tracker's cheap looks while no face
    is followed), not only at the next full detection."""
    from masque.face import FaceAnalyzer
    from masque.media import VideoReader, VideoWriter

    frames = [f for _, f in zip(range(44), VideoReader(fixture_path("clip_short.mp4")))]
    x0, y0, x1, y1 = (int(v) for v in FaceAnalyzer().detect(frames[20])[0].bbox)
    pad = (x1 - x0) // 8
    clip = tmp_path / "covered.mp4"
    with VideoWriter(clip, 30, crf=12) as writer:
        for i, frame in enumerate(frames):
            if 20 <= i <= 30:
                frame = frame.copy()  # noqa: PLW2901
                frame[max(y0 - pad, 0):y1 + pad, max(x0 - pad, 0):x1 + pad] = 128
            writer.write(frame)
    # chunks of 12: the face returns at frame 31, between the chunk starts at 24 and 36
    summary = extract_faceset([clip], tmp_path / "fs", ExtractConfig(workers=0, chunk=12, detect_every=12))
    with FaceSet(tmp_path / "fs") as fs:
        with_face = sorted({r.frame for r in fs.faces()})
    assert set(range(20)) <= set(with_face) and not set(range(20, 31)) & set(with_face)
    back = min(f for f in with_face if f > 30)
    assert back - 31 < 3 and set(range(back, 44)) <= set(with_face)
    assert summary.frames_without_face == 11 + back - 31

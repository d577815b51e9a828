"""Image and video I/O: clear errors, atomic writes, audio carried over."""

from __future__ import annotations

import errno
import io
import os

import av
import numpy as np
import pytest

from masque import atomic
from masque.atomic import atomic_write_bytes
from masque.errors import InputNotFoundError, InvalidMediaError, OutOfSpaceError
from masque.media import VideoReader, VideoWriter, probe_video, read_image, write_image


def test_read_image_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(InputNotFoundError, match=r"nope\.png"):
        read_image(tmp_path / "nope.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(InvalidMediaError, match=r"bad\.jpg"):
        read_image(bad)
    assert isinstance(InvalidMediaError("x"), ValueError)  # builtin-dual, as PyAV's errors


def test_write_image_round_trip_is_rgb(tmp_path, photo) -> None:
    img = photo("obama.jpg")[:64, :64]
    write_image(tmp_path / "x.png", img)
    assert np.array_equal(read_image(tmp_path / "x.png"), img)
    assert oct((tmp_path / "x.png").stat().st_mode & 0o777) == oct(0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_full_disk_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch) -> None:
    target = tmp_path / "keep.bin"
    atomic_write_bytes(target, b"old")

    class Full(io.BufferedWriter):  # a file whose writes hit ENOSPC
        def write(self, data: bytes) -> int:  # type: ignore[override]
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "open", lambda path, mode: Full(io.FileIO(path, "w")), raising=False)
    with pytest.raises(OutOfSpaceError, match="disk full"):
        atomic_write_bytes(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.bin"]


def test_corrupt_and_missing_videos(tmp_path) -> None:
    with pytest.raises(InputNotFoundError):
        probe_video(tmp_path / "missing.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(os.urandom(4096))
    with pytest.raises(InvalidMediaError, match=r"junk\.mp4"):
        VideoReader(junk)


def test_video_writer_keeps_rate_count_and_audio(tmp_path, fixture_path) -> None:
    src = fixture_path("clip_short.mp4")
    out = tmp_path / "copy.mp4"
    with VideoWriter(out, probe_video(src).fps, audio_from=src) as w:
        for frame in VideoReader(src):
            w.write(frame)
    a, b = probe_video(src), probe_video(out)
    assert (b.frames, b.fps, b.width, b.height, b.has_audio) == (a.frames, a.fps, a.width, a.height, True)
    with av.open(str(src)) as s, av.open(str(out)) as o:
        want = [bytes(p) for p in s.demux(s.streams.audio[0]) if p.size]
        got = [bytes(p) for p in o.demux(o.streams.audio[0]) if p.size]
    assert got == want


def test_video_writer_abort_leaves_nothing(tmp_path, fixture_path) -> None:
    out = tmp_path / "never.mp4"
    with pytest.raises(RuntimeError), VideoWriter(out, 30) as w:
        w.write(np.zeros((64, 64, 3), np.uint8))
        raise RuntimeError("stop")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_keeps_the_old_file_when_the_writer_fails(tmp_path) -> None:
    target = tmp_path / "out.mp4"
    atomic_write_bytes(target, b"old")
    with pytest.raises(RuntimeError, match="encoder died"), atomic.atomic_path(target, suffix=".part.mp4") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.mp4.") and tmp.suffix == ".mp4"
        tmp.write_bytes(b"half")
        raise RuntimeError("encoder died")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_atomic_file_has_the_usual_mode_and_creates_the_folder(tmp_path) -> None:
    old = os.umask(0o027)
    try:
        target = atomic.AtomicFile(tmp_path / "new" / "x.bin")
    finally:
        os.umask(old)
    assert oct(target.tmp.stat().st_mode & 0o777) == oct(0o640)
    target.tmp.write_bytes(b"done")
    assert target.commit() == tmp_path / "new" / "x.bin" and target.path.read_bytes() == b"done"
    assert oct(target.path.stat().st_mode & 0o777) == oct(0o640)

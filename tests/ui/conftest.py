"""The UI server and a Chromium for the browser tests (Playwright's Python package, Debian's chromium).

The server runs as ``masque ui`` in a child process on 127.0.0.1 and a free port, with its own
working folder, a 2 MB upload cap (so the limit can be crossed with a small file) and
``GRADIO_SHARE=True`` in its environment (which it must ignore). Chromium gets a fake camera
playing a 640x480 Y4M clip made from a fixture video. Without chromium or Playwright the browser
tests skip, saying which is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from masque import assets

#: the upload cap the test server runs with (MB)
MAX_UPLOAD_MB = 2
#: seconds the server may take to answer (importing Gradio, torch and dlib on a busy 2-core machine)
START_TIMEOUT_S = 180
CHROMIUM = next((p for p in (os.environ.get("MASQUE_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p), None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_y4m(video: Path, out: Path, size: tuple[int, int] = (640, 480), frames: int = 90) -> Path:
    """The first ``frames`` frames of ``video``, letterboxed to ``size``, as Y4M (I420) for Chromium's fake camera."""
    from masque.media import VideoReader

    w, h = size
    with out.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F30:1 Ip A1:1 C420jpeg\n".encode())
        for i, frame in enumerate(VideoReader(video)):
            if i >= frames:
                break
            s = min(w / frame.shape[1], h / frame.shape[0])
            small = cv2.resize(frame, (round(frame.shape[1] * s), round(frame.shape[0] * s)))
            canvas = np.zeros((h, w, 3), np.uint8)
            y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
            canvas[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
            f.write(b"FRAME\n" + cv2.cvtColor(canvas, cv2.COLOR_RGB2YUV_I420).tobytes())
    return out


class Server:
    def __init__(self, url: str, workdir: Path, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.workdir, self.process, self.log = url, workdir, process, log


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    pytest.importorskip("gradio", reason="the UI extra is not installed (pip install 'masque[ui]')")
    root = tmp_path_factory.mktemp("ui")
    port, workdir, log = free_port(), root / "work", root / "server.log"
    env = {**os.environ, "GRADIO_SHARE": "True", "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-c", "import sys; from masque.cli import main; sys.exit(main())", "ui",
           "--port", str(port), "--workdir", str(workdir), "--max-upload", str(MAX_UPLOAD_MB)]
    with log.open("wb") as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"masque ui exited with {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url + "/config", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"masque ui did not answer within {START_TIMEOUT_S} s:\n{log.read_text()}")
                time.sleep(0.5)
        yield Server(url, workdir, process, log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def camera_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_y4m(assets.fetch("clip_long.mp4"), tmp_path_factory.mktemp("camera") / "camera.y4m")


@pytest.fixture(scope="session")
def driving_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 12 frames of ``clip_short.mp4`` (a man talking), no audio: a cheap driving video."""
    from masque.media import VideoReader, VideoWriter

    path = tmp_path_factory.mktemp("driving") / "driving12.mp4"
    with VideoWriter(path, 30, crf=20) as w:
        for _, frame in zip(range(12), VideoReader(assets.fetch("clip_short.mp4"))):
            w.write(frame)
    return path


def _skip(reason: str) -> None:
    """Skip, or fail where the browser tests must run (``MASQUE_UI_BROWSER=required``, as .ci/run sets)."""
    if os.environ.get("MASQUE_UI_BROWSER") == "required":
        pytest.fail(f"the browser tests must run here, but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser(camera_clip: Path) -> Iterator[Any]:
    if CHROMIUM is None:
        _skip("no chromium on this machine (apt-get install -y chromium; .ci/run does)")
    try:
        from playwright import sync_api
    except ImportError:
        _skip("playwright is not installed (the test extra)")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_clip}", "--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, ui_server: Server) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["camera"])
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(ui_server.url)
    yield pg
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path | None:
    """Where to save screenshots for the docs (``MASQUE_UI_SCREENSHOTS=docs``), else None."""
    target = os.environ.get("MASQUE_UI_SCREENSHOTS")
    if not target:
        return None
    path = Path(target)
    path.mkdir(parents=True, exist_ok=True)
    return path

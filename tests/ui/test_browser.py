"""The UI in a real browser: Chromium driven by Playwright against ``masque ui`` on 127.0.0.1.

Each test does what a user does (upload, click, wait, download) and checks the downloaded result
with masque's own API (``verify_file``, the face analyzer), not just that something appeared.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.ui.conftest import MAX_UPLOAD_MB, Server

from masque import assets
from masque.face import FaceAnalyzer
from masque.media import probe_video, read_image
from masque.provenance import verify_file
from masque.provenance.watermark import WatermarkCodec

#: a swap, extract or training step can take a while on a busy 2-core machine
LONG_MS = 240_000


def open_tab(page: Any, title: str) -> None:
    page.get_by_role("tab", name=title).click()


def upload(page: Any, elem_id: str, *paths: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files([str(p) for p in paths])


def download(page: Any, elem_id: str, dest: Path) -> Path:
    """Fetch the file the download widget ``elem_id`` links to, as the browser would."""
    link = page.locator(f"#{elem_id} a[href]").first
    link.wait_for(timeout=LONG_MS)
    response = page.request.get(link.get_attribute("href"))
    assert response.ok, response.status
    name = re.sub(r"[^\w.-]", "_", (link.get_attribute("download") or link.inner_text()).strip()) or "download"
    path = dest / name
    path.write_bytes(response.body())
    return path


def shoot(page: Any, screenshots: Path | None, name: str, top: str | None = None, full: bool = False,
          height: int | None = None) -> None:
    """Save a JPEG of the page for the docs (when asked for), scrolled so ``top`` is at the top; ``height``:
    only the page's first ``height`` pixels."""
    if screenshots is not None:
        if top is not None:
            page.evaluate("(sel) => document.querySelector(sel).scrollIntoView({block: 'start'})", top)
        clip = {"x": 0, "y": 0, "width": page.viewport_size["width"], "height": height} if height else None
        page.screenshot(path=str(screenshots / f"ui-{name}.jpg"), type="jpeg", quality=70, full_page=full,
                        clip=clip)


def cpu_by_process(root: int) -> dict[str, float]:
    """User + system CPU seconds of process ``root`` and every live process under it (server, driver,
    Chromium), by kind: ``chromium-renderer``, ``chromium-gpu-process``, ..., ``other``."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid], times[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
    kinds: dict[str, float] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        kind = _kind(pid)
        kinds[kind] = kinds.get(kind, 0.0) + times.get(pid, 0.0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return kinds


def _kind(pid: int) -> str:
    try:
        cmd = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "other"
    if not cmd or b"chrom" not in cmd[0]:
        return "other"
    m = re.search(rb"--type=([\w-]+)", b" ".join(cmd))  # Chromium rewrites its children's argv into one string
    return f"chromium-{m.group(1).decode() if m else 'browser'}"


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process ``root`` and every live process under it."""
    return sum(cpu_by_process(root).values())


def face_change(before: np.ndarray, after: np.ndarray, box: tuple[float, ...]) -> float:
    x0, y0, x1, y1 = (max(0, int(v)) for v in box)
    return float(np.abs(before[y0:y1, x0:x1].astype(np.int16) - after[y0:y1, x0:x1]).mean())


def test_swap_image_on_the_face_clicked(page: Any, tmp_path: Path, screenshots: Path | None) -> None:
    target = assets.fetch("multi_face.jpg")
    upload(page, "swap-source", assets.fetch("biden.jpg"))
    upload(page, "swap-target", target)
    thumbs = page.locator("#swap-faces .thumbnail-item")
    thumbs.nth(1).wait_for(timeout=LONG_MS)
    faces = FaceAnalyzer().detect(read_image(target))
    assert thumbs.count() == len(faces) >= 2
    thumbs.nth(1).click()  # the second-largest face
    page.locator("#swap-mode input[value='the face I clicked']:checked").wait_for(timeout=30_000)
    page.click("#swap-run")
    page.locator("#swap-status").get_by_text("frame(s)").wait_for(timeout=LONG_MS)
    page.locator("#swap-result-image img").wait_for()
    shoot(page, screenshots, "swap", full=True)
    out = download(page, "swap-download", tmp_path)
    report = verify_file(out)
    assert report.labelled and report.manifest.status in ("valid", "present"), report.to_dict()
    before, after = read_image(target), read_image(out)
    changes = [face_change(before, after, f.bbox) for f in faces]
    # only the clicked person's face was replaced; the others differ by the watermark alone
    assert changes[1] > 8 and all(c < 3 for i, c in enumerate(changes) if i != 1), changes


def test_swap_video(page: Any, tmp_path: Path) -> None:
    target = assets.fetch("clip_short.mp4")
    upload(page, "swap-source", assets.fetch("biden.jpg"))
    upload(page, "swap-target", target)
    page.locator("#swap-faces .thumbnail-item").first.wait_for(timeout=LONG_MS)
    page.click("#swap-run")
    page.locator("#swap-status").get_by_text("frame(s)").wait_for(timeout=LONG_MS)
    assert "72 frame(s)" in page.locator("#swap-status").inner_text()
    out = download(page, "swap-download", tmp_path)
    info = probe_video(out)
    assert (info.frames, info.width, info.height, info.has_audio) == (72, 640, 360, True)
    report = verify_file(out)
    assert report.labelled and report.watermark.found, report.to_dict()


def test_upload_past_the_limit_is_refused(page: Any, tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (MAX_UPLOAD_MB * 1024 * 1024 + 1))
    upload(page, "swap-target", big)
    message = page.get_by_text(re.compile(r"exceed|too large|maximum", re.IGNORECASE)).first
    message.wait_for(timeout=30_000)
    assert f"{MAX_UPLOAD_MB}" in message.inner_text()
    print(f"\nupload past the limit: {message.inner_text()!r}")


def test_train_shows_a_preview_stop_saves_and_convert_uses_it(page: Any, ui_server: Server, tmp_path: Path,
                                                              screenshots: Path | None) -> None:
    open_tab(page, "Train")
    upload(page, "train-files-a", assets.fetch("clip_short.mp4"))
    upload(page, "train-files-b", assets.fetch("clip_long.mp4"))
    page.get_by_text("Extract options for A").click()
    page.fill("#extract-every-a input", "2")
    page.get_by_text("Extract options for B").click()
    page.fill("#extract-every-b input", "8")
    page.get_by_text("Training options").click()
    page.locator("#train-arch input").click()
    page.get_by_role("option", name="lightweight").click()
    assert page.locator("#train-arch input").input_value() == "lightweight"
    page.fill("#train-batch input", "4")
    page.fill("#train-preview-every input", "2")
    page.fill("#train-save-every input", "1000")
    page.click("#train-run")
    page.locator("#train-preview img").wait_for(timeout=LONG_MS)
    if screenshots is not None:  # for the docs, let the loss curve get a few points first
        page.wait_for_function("() => /step (\\d+)/.test(document.querySelector('#train-status').innerText) && "
                               "+document.querySelector('#train-status').innerText.match(/step (\\d+)/)[1] >= 40",
                               timeout=LONG_MS)
    shoot(page, screenshots, "train", top="#train-status")
    page.click("#train-stop")
    page.locator("#train-status").get_by_text("stopped and saved").wait_for(timeout=LONG_MS)
    status = page.locator("#train-status").inner_text()
    step = int(re.search(r"step (\d+)", status).group(1))
    model = ui_server.workdir / "models" / "model"
    assert step >= 2 and any(model.glob("*.safetensors")), sorted(p.name for p in model.iterdir())
    assert sorted((model / "previews").glob("step_*.png"))
    page.click("#train-pack")
    page.locator("#train-model-zip a[href]").wait_for(timeout=LONG_MS)
    # then convert a photo with the model just saved
    page.locator("#convert-model input").click()
    page.get_by_role("option", name="model", exact=True).click()
    upload(page, "convert-input", assets.fetch("single_face.jpg"))
    page.click("#convert-run")
    page.locator("#convert-status").get_by_text("faces swapped").wait_for(timeout=LONG_MS)
    assert "1 faces swapped" in page.locator("#convert-status").inner_text()
    out = download(page, "convert-download", tmp_path)
    assert verify_file(out).labelled and read_image(out).shape == read_image(assets.fetch("single_face.jpg")).shape
    # Train again on the same model name: it resumes from the saved step
    page.click("#train-run")
    page.locator("#train-status").get_by_text(f"from step {step}").wait_for(timeout=LONG_MS)
    assert "resuming lightweight" in page.locator("#train-status").inner_text()
    page.locator("#train-status").get_by_text(re.compile(r"step \d+/|step \d+,")).wait_for(timeout=LONG_MS)
    page.click("#train-stop")
    page.locator("#train-status").get_by_text("stopped and saved").wait_for(timeout=LONG_MS)
    resumed = re.search(r"step (\d+) \((\d+) this run", page.locator("#train-status").inner_text())
    assert resumed and int(resumed.group(1)) > step and int(resumed.group(2)) == int(resumed.group(1)) - step


def live_frame(page: Any, tmp_path: Path) -> np.ndarray:
    """The frame the Live page shows now (an inline JPEG), RGB ``uint8``."""
    src = page.locator("#live-out img").get_attribute("src")
    assert src.startswith("data:image/jpeg;base64,"), src[:40]
    frame = tmp_path / "frame.jpg"
    frame.write_bytes(base64.b64decode(src.split(",", 1)[1]))
    return read_image(frame)


def test_live_camera_comes_back_swapped(page: Any, ui_server: Server, tmp_path: Path,
                                        screenshots: Path | None) -> None:
    open_tab(page, "Live")
    upload(page, "live-source", assets.fetch("biden.jpg"))
    page.click("#live-start")
    page.locator("#live-fps").get_by_text("started").wait_for(timeout=LONG_MS)
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#live-camera button[aria-label='capture photo']").click()
    page.locator("#live-out img[src]").wait_for(timeout=LONG_MS)
    # count the frames that come back over a few seconds, in the page itself; and what they cost in CPU
    cpu, cpu_server = cpu_by_process(os.getpid()), cpu_seconds(ui_server.process.pid)
    # (a MutationObserver sees every new frame; polling once per animation frame missed some when busy)
    count = page.evaluate("""(ms) => new Promise(done => {
        const root = document.querySelector('#live-out');
        const img = () => root.querySelector('img');
        let last = img() && img().src, n = 0;
        const seen = () => { const s = img() && img().src; if (s && s !== last) { n += 1; last = s; } };
        const observer = new MutationObserver(seen);
        observer.observe(root, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
        setTimeout(() => { observer.disconnect(); done(n); }, ms);
    })""", 8000)
    fps = count / 8.0
    cpu_after = cpu_by_process(os.getpid())
    kinds = {k: (v - cpu.get(k, 0.0)) * 1000 / max(count, 1) for k, v in cpu_after.items()}
    cpu_ms = sum(kinds.values())
    server_ms = (cpu_seconds(ui_server.process.pid) - cpu_server) * 1000 / max(count, 1)
    status = page.locator("#live-fps").inner_text()
    shoot(page, screenshots, "live")
    print(f"\nlive: {fps:.1f} frames/s round trip measured in the browser (load average {os.getloadavg()[0]:.1f}), "
          f"{cpu_ms:.0f} ms of CPU per frame (all processes; the server {server_ms:.0f}; by process: "
          f"{', '.join(f'{k} {v:.0f}' for k, v in sorted(kinds.items()))}); page says: {status}")
    swapped = re.search(r"(\d+)/(\d+) frames with a face swapped", status)
    assert swapped and int(swapped.group(1)) > 0, status
    assert "640x480" in status
    assert WatermarkCodec().detect(live_frame(page, tmp_path)).found
    assert count >= 3


def test_animate_a_photo(page: Any, tmp_path: Path, driving_clip: Path, screenshots: Path | None) -> None:
    open_tab(page, "Animate")
    upload(page, "animate-source", assets.fetch("biden.jpg"))
    upload(page, "animate-driving", driving_clip)
    page.locator("#animate-download").scroll_into_view_if_needed()
    page.click("#animate-run")
    page.locator("#animate-status").get_by_text("frame(s)").wait_for(timeout=LONG_MS)
    assert "12 frame(s), 12 with the driving face" in page.locator("#animate-status").inner_text()
    page.locator("#animate-result video").wait_for()
    if screenshots is not None:
        page.locator("#page-animate").get_by_text("Options", exact=True).first.click()  # show them in the picture
    shoot(page, screenshots, "animate", full=True, height=1525)  # down to the result's status line
    out = download(page, "animate-download", tmp_path)
    info = probe_video(out)
    assert (info.frames, info.width, info.height) == (12, 512, 512)
    report = verify_file(out)
    assert report.labelled and report.watermark.found and report.manifest.status in ("valid", "present"), \
        report.to_dict()


def test_live_animate_mode_drives_the_photo(page: Any, tmp_path: Path) -> None:
    open_tab(page, "Live")
    upload(page, "live-source", assets.fetch("biden.jpg"))
    page.locator("#live-mode").get_by_text("animate").click()
    page.click("#live-start")
    page.locator("#live-fps").get_by_text("started (animate)").wait_for(timeout=LONG_MS)
    page.get_by_text("Click to Access Webcam").click()
    page.locator("#live-camera button[aria-label='capture photo']").click()
    page.locator("#live-out img[src]").wait_for(timeout=LONG_MS)
    page.click("#live-calibrate")
    page.wait_for_function("() => /Calibrate [1-9]/.test(document.querySelector('#live-fps').innerText)",
                           timeout=LONG_MS)
    status = page.locator("#live-fps").inner_text()
    print(f"\nlive animate (load average {os.getloadavg()[0]:.1f}): {status}")
    driving = re.search(r"(\d+)/(\d+) frames with a face driving the photo", status)
    assert driving and int(driving.group(1)) > 0, status
    image = live_frame(page, tmp_path)
    assert image.shape == (512, 512, 3) and WatermarkCodec().detect(image).found  # the photo's square, not the camera


def test_served_safely(ui_server: Server) -> None:
    import json
    import urllib.error
    import urllib.request

    with urllib.request.urlopen(ui_server.url + "/config") as r:
        config = json.load(r)
    assert config["analytics_enabled"] is False and not config.get("share_url")
    assert config["max_file_size"] == MAX_UPLOAD_MB * 1024 * 1024
    for path in ("/gradio_api/file=/etc/passwd", f"/gradio_api/file={Path(__file__).resolve()}", "/monitoring"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(ui_server.url + path)
        assert e.value.code in (403, 404), path
    log = ui_server.log.read_text()
    assert "gradio.live" not in log and "public URL" not in log.lower()

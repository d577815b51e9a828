"""``convert``: swap the faces of a video, image or folder with a trained model.

Per frame: track faces, align each onto the model's crop, encode with the shared encoder,
decode with the other person's decoder, draw it at the real face size with that person's
enhancer when the model folder has one (:mod:`masque.models.enhancer`) with that person's
exemplar detail laid on (:mod:`masque.convert.detail`), paste back (colour match, blend). Faces of several
frames go through the model as one batch; ``masque.convert.files`` runs it over files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np
import torch

from masque.compose.masks import swap_masks
from masque.compose.paste import paste_face
from masque.compose.temporal import SmoothedColor
from masque.convert.coverage import CoverageWatch
from masque.convert.detail import ExemplarDetail
from masque.face import FaceAnalyzer, TrackedFace
from masque.face.align import alignment_matrix, transform_points
from masque.face.mask import MaskKind, landmark_mask
from masque.models import ModelCard, SwapModel
from masque.models.device import amp_dtype
from masque.models.enhancer import EnhancerPair, scale_matrix
from masque.models.exemplars import DetailBank

MaskSource = Literal["clipped", "occlusion", "learned", "components", "extended"]


@dataclass(frozen=True)
class ConvertConfig:
    """Options of :class:`Converter`.

    Attributes:
        to: whose decoder draws the new face (``b`` turns A into B).
        color: colour matcher (``rct-ratio``, ``rct``, ``hist``, ``avg``, ``ratio``, ``none``).
        blend: blender (``gaussian``, ``poisson``, ``seamless``, ``none``).
        mask: ``occlusion`` (the default: ``clipped`` less what the occlusion model,
            :mod:`masque.face.occlusion`, sees in front of the frame's face, so hands, hair, glasses
            and a microphone stay in front), ``clipped`` (the decoder's mask, cut to the frame
            face's landmark mask of the kind the decoders learned, the card's ``mask``: jaw, brows
            and forehead for ``extended``, the default of training; jaw and brows for
            ``components`` and for models whose card does not say; so nothing beyond the face is
            painted over), ``learned`` (the decoder's mask alone) or a landmark mask
            (``components``, ``extended``).
        keep_mouth: with ``clipped`` or ``occlusion``, leave the frame's own inner mouth out of the
            paste (its teeth and tongue when open, its lip line when closed), as the one-shot swap
            does: the mouth then opens exactly with the frame's, at a cost in the new identity
            (teeth and mouth shape are the frame person's).
        erode: shrink the mask by this many frame pixels (negative grows it).
        feather: blend width in frame pixels (``None``: 15 % of the aligned crop's side,
            :data:`masque.compose.paste.FEATHER`).
        smooth: temporal landmark smoothing in [0, 1) (0 off).
        color_smooth: share of the colour correction's parameters carried over from the face's
            previous frame, in [0, 1) (0, the default: measured on each frame alone; with the
            clipped mask and ``rct-ratio`` it measured no steadier, see :mod:`masque.compose.temporal`).
        identity: ``(128,)`` embedding; only that person is swapped (``None``: every face).
        batch: frames whose faces share one model call.
        crf: H.264 quality of video output.
        redetect_every: frames between full face detections in video.
        occlusion_model: path of an ``occlusion.safetensors`` for ``mask="occlusion"`` (``None``:
            the one masque ships).
        precision: ``auto`` runs the model under bf16/fp16 autocast where the device supports
            it; ``fp32`` never does.
        detail_transfer: strength of the new person's exemplar detail laid onto the faces the
            enhancer draws (:mod:`masque.convert.detail`; 1: the exemplars' own contrast, 0 off).
            Used only with an enhancer and a model folder with exemplars.
    """

    to: Literal["a", "b"] = "b"
    color: str = "rct-ratio"
    blend: str = "gaussian"
    mask: MaskSource = "occlusion"
    keep_mouth: bool = False
    erode: float = 0.0
    feather: float | None = None
    smooth: float = 0.5
    color_smooth: float = 0.0
    identity: np.ndarray | None = field(default=None, compare=False)
    identity_threshold: float = 0.6
    batch: int = 8
    crf: int = 18
    redetect_every: int = 5
    precision: Literal["auto", "fp32"] = "auto"
    occlusion_model: str | None = None
    detail_transfer: float = 1.0


@dataclass
class _Batch:
    """Consecutive frames on their way through :class:`Converter`'s stages (prepare, infer, finish)."""

    frames: list[np.ndarray]
    tracked: list[list[TrackedFace]]
    mats: list[list[np.ndarray]]  # per frame, per face: frame-to-model-crop matrices
    x: torch.Tensor | None = None  # (N, S, S, 3) uint8 model crops of every face; None: no face
    owns: list[np.ndarray] = field(default_factory=list)  # frame-to-occlusion-crop matrices
    new: np.ndarray | None = None  # (N, kS, kS, 3) uint8 RGB new faces
    learned: np.ndarray | None = None  # (N, S, S) float32 decoder masks
    probs: np.ndarray | None = None  # (N, s, s) float32 visible-face probabilities


class Converter:
    """Swaps faces frame by frame with a trained :class:`SwapModel`.

    Args:
        model: the trained model (eval mode is set here).
        card: the model's card (:func:`masque.models.load_model` returns it): its crop geometry
            and per-side colour shift.
        config: conversion options.
        analyzer: face detector and landmarker (default: a new :class:`FaceAnalyzer`).
        enhancer: the model folder's enhancer (:func:`masque.models.enhancer.load_enhancer`): the
            decoder's ``S`` px face is drawn at ``kS`` px by the ``to`` person's enhancer and pasted
            at that size. ``None``: the ``S`` px face is pasted (stretched to the face's size).
        exemplars: the model folder's detail exemplars (:func:`masque.models.exemplars.load_exemplars`):
            with an enhancer, the ``to`` person's are laid onto each face it draws
            (``config.detail_transfer``). ``None``: nothing is added.
    """

    def __init__(self, model: SwapModel, card: ModelCard, config: ConvertConfig | None = None,
                 analyzer: FaceAnalyzer | None = None, enhancer: EnhancerPair | None = None,
                 exemplars: Mapping[str, DetailBank] | None = None) -> None:
        from masque.face import FaceTracker, TargetSelector, TrackerConfig

        self.config = config or ConvertConfig()
        self.device = next(model.parameters()).device
        # bf16 autocast where the hardware has it (and pays: models.device.cpu_bf16_pays); the
        # 8-bit output cannot show the difference
        self.amp = amp_dtype(self.device) if self.config.precision == "auto" else None
        # channels_last for the reduced-precision kernels; in fp32 on a CPU the model measured
        # 8 % faster in the default layout (its 4x4 conv ran at 2/3 the speed channels_last)
        self.memory_format = (torch.contiguous_format if self.amp is None and self.device.type == "cpu"
                              else torch.channels_last)
        self.model = model.eval().to(memory_format=self.memory_format)  # type: ignore[call-overload]  # torch stubs lack memory_format alone
        # the trainer shifted each side's colours toward the mean of both; the faces fed in here
        # are of the side that is not ``to``, so they get that side's shift (RGB in [0, 1])
        source_side = "a" if self.config.to == "b" else "b"
        self.shift = torch.tensor(card.shift(source_side), dtype=torch.float32).view(1, 3, 1, 1)
        # ... and the ``to`` decoder (and its enhancer) learned its person with that side's shift
        # added, so it is taken off what they draw: a constant RGB offset is no affine map in Lab,
        # and left on, the colour match could not undo it in dark hair and brows (A's +R -B shift
        # drew her brown brows red on B as A)
        self.unshift = torch.tensor(card.shift(self.config.to), dtype=torch.float32,
                                    device=self.device).view(1, 3, 1, 1)
        self.centering = card.align.centering
        self.coverage = card.align.coverage
        # the clip follows the mask the decoders learned: cut to the jaw-and-brows hull, an
        # ``extended`` model's forehead (which it draws) stayed the target's, and with it much of
        # the new identity (demo A as B, dlib distance to B 0.70 clipped to ``components``, 0.56
        # to ``extended``)
        self.hull: MaskKind = "extended" if card.mask == "extended" else "components"
        self.analyzer = analyzer or FaceAnalyzer()
        selector = (TargetSelector("reference", self.config.identity, self.config.identity_threshold)
                    if self.config.identity is not None else TargetSelector("all"))
        self.tracker = FaceTracker(self.analyzer, selector, TrackerConfig(
            redetect_every=self.config.redetect_every, smooth=self.config.smooth))
        self.color = SmoothedColor(self.config.color, self.config.color_smooth)
        # fp32: at these widths bf16 autocast measured slower on CPU (models/enhancer.py)
        self.enhancer = enhancer.to(self.device).eval() if enhancer is not None else None
        self.detail = (ExemplarDetail(exemplars[self.config.to], self.config.detail_transfer)
                       if exemplars is not None and enhancer is not None and self.config.detail_transfer > 0 else None)
        self.occlusion = None
        if self.config.mask == "occlusion":
            from masque.face.occlusion import OcclusionModel

            self.occlusion = OcclusionModel.load(self.config.occlusion_model)
        self.faces_swapped = 0
        # frames whose faces the target's face set cannot supply (its bins, from the card's set)
        self.watch = CoverageWatch.for_card(card, self.config.to)
        self._frame = 0

    @classmethod
    def from_folder(cls, model_dir: str | os.PathLike[str], config: ConvertConfig | None = None,
                    device: str | torch.device = "cpu", enhance: bool = True) -> Converter:
        """A converter with everything a model folder holds: the model, its enhancer and detail
        exemplars when ``masque train --enhancer`` made them (``enhance=False`` leaves both out).

        Raises:
            ModelError: the folder holds no model, or a damaged or foreign file.
        """
        from masque.models.enhancer import load_enhancer
        from masque.models.exemplars import load_exemplars
        from masque.models.io import load_model

        model, card = load_model(model_dir, device=device)
        enhancer = load_enhancer(model_dir, card) if enhance else None
        exemplars = load_exemplars(model_dir) if enhancer is not None else None
        return cls(model, card, config, enhancer=enhancer, exemplars=exemplars)

    def reset(self, name: str = "") -> None:
        """Forget tracked faces and their colour corrections (between unrelated images).

        ``name`` labels the frames that follow in :attr:`watch`'s report (an output file).
        """
        self.tracker.reset()
        self.color.reset()
        if self.detail is not None:
            self.detail.reset()
        self.watch.start(name)
        self._frame = 0

    def convert_frames(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Swap every selected face in consecutive RGB ``uint8`` frames; faceless frames pass through."""
        return self.finish(self.infer(self.prepare(frames)))

    @property
    def stages(self) -> tuple[Callable[[list[np.ndarray]], _Batch], Callable[[_Batch], _Batch]]:
        """:meth:`prepare` and :meth:`infer`, the stages before :meth:`finish`, for a pipeline that runs
        each stage in its own thread (:func:`masque.media.pipeline.process_video`): each keeps its
        own state (the tracker; none; the colour correction and counts) and sees the batches in
        order, so the frames are those :meth:`convert_frames` makes."""
        return self.prepare, self.infer

    def prepare(self, frames: list[np.ndarray]) -> _Batch:
        """Track the faces of consecutive RGB ``uint8`` frames, cut their model crops, run the occlusion model."""
        tracked = [self.tracker.track(f) for f in frames]
        for i, per in enumerate(tracked):
            for t in per:
                self.watch.see(self._frame + i, t.face)
        self._frame += len(frames)
        faces = [[t.face.landmarks for t in per] for per in tracked]
        s = self.model.input_size
        mats = [[alignment_matrix(lm, s, self.centering, self.coverage) for lm in per] for per in faces]  # type: ignore[arg-type]
        crops = [cv2.warpAffine(f, m, (s, s), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT101)
                 for f, per in zip(frames, mats) for m in per]
        batch = _Batch(frames, tracked, mats)
        if not crops:
            return batch
        batch.x = torch.from_numpy(np.stack(crops))
        if self.occlusion is not None:
            aligned = [self.occlusion.align(f, per) for f, per in zip(frames, faces) if per]
            batch.owns = [o for a in aligned for o in a[1]]
            # here rather than in infer: it balances the two stages' CPU time (torch runs in both threads)
            batch.probs = self.occlusion.predict(np.concatenate([a[0] for a in aligned]))
        return batch

    def infer(self, batch: _Batch) -> _Batch:
        """Run the model (and the enhancer) on a :meth:`prepare`'d batch."""
        if batch.x is None:
            return batch
        x = batch.x.permute(0, 3, 1, 2).float().div_(255).add_(self.shift).clamp_(0, 1)
        x = x.to(self.device).contiguous(memory_format=self.memory_format)
        with torch.inference_mode():
            with torch.autocast(self.device.type, dtype=self.amp or torch.bfloat16, enabled=self.amp is not None):
                rgb, mask = self.model.swap(x, self.config.to)
            if self.enhancer is not None:
                rgb = self.enhancer.enhance(rgb.float(), self.config.to)
            rgb = (rgb.float() - self.unshift).clamp_(0, 1)
            batch.new = (rgb.permute(0, 2, 3, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)
            batch.learned = mask[:, 0].float().cpu().numpy()
        return batch

    def finish(self, batch: _Batch) -> list[np.ndarray]:
        """Paste an :meth:`infer`'d batch's new faces into its frames (exemplar detail, mask, colour match, blend)."""
        frames, tracked = batch.frames, batch.tracked
        if batch.new is None or batch.learned is None:
            return [f.copy() for f in frames]
        s, mats = self.model.input_size, batch.mats
        scale = 1
        if self.enhancer is not None:
            scale = self.enhancer.arch.scale
            mats = [[scale_matrix(m, scale) for m in per] for per in mats]
        visible = ([self.occlusion.warp(p, o, m, s * scale)
                    for p, o, m in zip(batch.probs, batch.owns, (m for per in mats for m in per))]
                   if self.occlusion is not None and batch.probs is not None else [])
        out, k = [], 0
        for frame, per_t, per_m in zip(frames, tracked, mats):
            pasted = frame
            self.color.retain(t.track for t in per_t)  # a face lost, or every face at a cut, starts afresh
            if self.detail is not None:
                self.detail.retain(t.track for t in per_t)
            for t, m in zip(per_t, per_m):
                if self.detail is not None:
                    # the frame face's landmarks in the drawn face's pixels: where its features are
                    # (here, not in infer: this stage has the CPU time to spare)
                    batch.new[k] = self.detail.apply(batch.new[k], transform_points(t.face.landmarks, m), t.track)
                mask = self._mask(batch.learned[k], t.face.landmarks, m, s * scale, frame, batch.new[k])
                if visible:
                    mask = np.minimum(mask, visible[k])
                pasted = paste_face(pasted, batch.new[k], mask, m, blender=self.config.blend, erode=self.config.erode,
                                    feather=self.config.feather, matcher=self.color.bind(t.track))
                k += 1
            out.append(pasted)
        self.faces_swapped += k
        return out

    def _mask(self, learned: np.ndarray, landmarks: np.ndarray, matrix: np.ndarray, s: int,
              frame: np.ndarray, new: np.ndarray) -> np.ndarray:
        """The ``(s, s)`` ``float32`` paste mask in [0, 1], in the crop ``matrix`` maps onto (``s``: the
        pasted face's side; the decoder's mask is resized to it). ``frame`` is the RGB frame the
        face is in, ``new`` the ``(s, s, 3)`` face drawn for it."""
        if learned.shape[0] != s:
            learned = cv2.resize(learned, (s, s), interpolation=cv2.INTER_LINEAR)
        if self.config.mask == "learned":
            return learned
        lm = transform_points(landmarks, matrix)
        if self.config.mask in ("components", "extended"):
            return landmark_mask(lm, (s, s), self.config.mask).astype(np.float32) / 255
        if self.hull == "components" and not self.config.keep_mouth:
            return np.minimum(learned, landmark_mask(lm, (s, s), "components").astype(np.float32) / 255)
        # the forehead only where both the frame and the new face show skin there: the frame's
        # fringe stays in front, and the hair a decoder draws at the temples (its own person's)
        # is not pasted onto the target's skin
        target = cv2.warpAffine(frame, matrix, (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # (a grid of 32 x 32 cells at most: the edge is feathered over 15 % of the crop anyway)
        hull, _ = swap_masks(lm, (0, 0, s, s), target, self.hull, keep_mouth=self.config.keep_mouth,
                             source=new if self.hull == "extended" else None, step=max(4, s // 32))
        return np.minimum(learned, hull.astype(np.float32) / 255)

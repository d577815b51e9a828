"""Convert on a real clip with faceless frames and an audio track made here."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from masque.convert.files import convert_path
from masque.convert.pipeline import ConvertConfig, Converter
from masque.face import FaceAnalyzer
from masque.face.align import alignment_matrix, transform_points
from masque.face.mask import landmark_mask
from masque.media import VideoReader, probe_video, read_image
from masque.models import MODELS, CropSpec, ModelCard
from masque.provenance import LabelConfig

STATE = ModelCard("lightweight", 0, 64, CropSpec("face", 0.875, 64))
UNLABELLED = LabelConfig(enabled=False)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.create("lightweight")


@pytest.fixture(scope="module")
def clip_with_audio(tmp_path_factory, fixture_path) -> Path:
    """16 frames of a real face, then 8 frames of a landscape, 30 fps, with a 440 Hz AAC track."""
    path = tmp_path_factory.mktemp("clip") / "input.mp4"
    faces = [f for _, f in zip(range(16), VideoReader(fixture_path("clip_short.mp4")))]
    land = cv2.resize(read_image(fixture_path("no_face.jpg")), (640, 360), interpolation=cv2.INTER_AREA)
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = 640, 360, "yuv420p"
        vs.options = {"crf": "12"}
        aus = out.add_stream("aac", rate=48000)
        aus.layout = "mono"
        for i, frame in enumerate(faces + [land] * 8):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts = i
            out.mux(vs.encode(vf))
        out.mux(vs.encode(None))
        t = np.arange(48000 * 24 // 30) / 48000
        samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        af = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        af.sample_rate, af.pts = 48000, 0
        out.mux(aus.encode(af))
        out.mux(aus.encode(None))
    return path


def test_video_keeps_frames_size_rate_and_audio(model, clip_with_audio, tmp_path) -> None:
    out = tmp_path / "out.mp4"
    summary = convert_path(Converter(model, STATE, ConvertConfig(mask="components")), clip_with_audio, out,
                           UNLABELLED)
    src, dst = probe_video(clip_with_audio), probe_video(out)
    assert (dst.width, dst.height, dst.fps) == (src.width, src.height, src.fps) == (640, 360, Fraction(30))
    decoded = list(VideoReader(out))
    assert len(decoded) == len(list(VideoReader(clip_with_audio))) == 24
    assert summary.faces == 16
    with av.open(str(out)) as c, av.open(str(clip_with_audio)) as s:
        assert len(c.streams.audio) == 1
        got = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
        want = [bytes(p) for p in s.demux(s.streams.audio[0]) if p.size]
        assert got == want  # the audio is carried over packet for packet, unchanged
    original = list(VideoReader(clip_with_audio))
    for i in range(16, 24):  # faceless frames pass through, but for the codec
        assert psnr(decoded[i], original[i]) > 40
    assert psnr(decoded[5], original[5]) < psnr(decoded[20], original[20])  # the face did change


def test_labelled_video_stays_close_on_faceless_frames(model, clip_with_audio, tmp_path) -> None:
    from masque.provenance import verify_file

    out = tmp_path / "labelled.mp4"
    convert_path(Converter(model, STATE, ConvertConfig(mask="components")), clip_with_audio, out)
    decoded, original = list(VideoReader(out)), list(VideoReader(clip_with_audio))
    # the invisible watermark costs about 2 dB on top of the codec
    assert min(psnr(decoded[i], original[i]) for i in range(16, 24)) > 37
    report = verify_file(out)
    assert report.watermark.found and report.manifest.status == "valid"


def test_image_pixels_outside_dilated_mask_unchanged(model, fixture_path, tmp_path) -> None:
    src = fixture_path("single_face.jpg")
    out = tmp_path / "swapped.png"
    convert_path(Converter(model, STATE, ConvertConfig(mask="components", smooth=0)), src, out, UNLABELLED)
    before, after = read_image(src), read_image(out)
    face = FaceAnalyzer().detect(before)[0]
    region = landmark_mask(face.landmarks, before.shape[:2], "components")
    grown = cv2.dilate(region, np.ones((41, 41), np.uint8)) > 0
    changed = np.abs(after.astype(int) - before).max(axis=2) > 0
    assert changed[region > 0].mean() > 0.5  # the face was replaced
    assert not changed[~grown].any()  # nothing outside the (feathered, dilated) mask moved


def _inner_lab(frame: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Mean Lab colour of the face's interior (the mask eroded away from hair and jaw line)."""
    inner = landmark_mask(landmarks, frame.shape[:2], "components")
    core = cv2.erode(inner, np.ones((25, 25), np.uint8)) > 0
    return cv2.cvtColor(frame, cv2.COLOR_RGB2LAB).astype(np.float64)[core].mean(0)


def test_colour_matching_brings_face_toward_the_skin_it_replaces(model, fixture_path, tmp_path) -> None:
    src = fixture_path("single_face.jpg")
    before = read_image(src)
    lm = FaceAnalyzer().detect(before)[0].landmarks
    skin = _inner_lab(before, lm)
    gaps = {}
    for color in ("none", "rct", "avg"):
        out = tmp_path / f"{color}.png"
        convert_path(Converter(model, STATE, ConvertConfig(mask="components", color=color, smooth=0)), src, out,
                     UNLABELLED)
        gaps[color] = float(np.linalg.norm(_inner_lab(read_image(out), lm) - skin))
    # an untrained decoder paints flat grey: matching must pull it to the person's skin tone
    assert gaps["rct"] < 0.3 * gaps["none"] and gaps["avg"] < 0.3 * gaps["none"]


def test_learned_mask_stays_inside_the_crop(model, fixture_path, tmp_path) -> None:
    src = fixture_path("single_face.jpg")
    out = tmp_path / "learned.png"
    convert_path(Converter(model, STATE, ConvertConfig(mask="learned", smooth=0)), src, out, UNLABELLED)
    before, after = read_image(src), read_image(out)
    lm = FaceAnalyzer().detect(before)[0].landmarks
    m = alignment_matrix(lm, 64, "face", 0.875)
    corners = transform_points(np.array([[0, 0], [64, 64]], np.float32), cv2.invertAffineTransform(m))
    changed = np.argwhere(np.abs(after.astype(int) - before).max(axis=2) > 0)
    if len(changed):
        span = np.ptp(corners[:, 0]) * 1.6
        centre = corners.mean(0)
        assert np.abs(changed[:, ::-1] - centre).max() < span


def test_wrong_kind_of_output_is_refused(model, fixture_path, tmp_path) -> None:
    from masque.errors import InvalidMediaError

    with pytest.raises(InvalidMediaError, match="must be a video"):
        convert_path(Converter(model, STATE), fixture_path("clip_short.mp4"), tmp_path / "x.png")


def test_folder_converts_its_images_and_videos_and_skips_a_damaged_file(model, fixture_path, tmp_path) -> None:
    """The folder rule shared with ``masque swap`` (masque.compose.files): media only, names kept."""
    import shutil

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(fixture_path("single_face.jpg"), folder / "face.jpg")
    with av.open(str(fixture_path("clip_short.mp4"))) as src, av.open(str(folder / "clip.mov"), "w") as dst:
        vs = dst.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = 640, 360, "yuv420p"
        for i, frame in zip(range(6), src.decode(video=0)):
            out_frame = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), format="rgb24")
            out_frame.pts = i
            dst.mux(vs.encode(out_frame))
        dst.mux(vs.encode(None))
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    (folder / "notes.txt").write_text("ignored")
    summary = convert_path(Converter(model, STATE, ConvertConfig(mask="components")), folder, tmp_path / "out",
                           UNLABELLED)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip.mov", "face.jpg"]
    assert summary.frames == 7 and probe_video(tmp_path / "out" / "clip.mov").frames == 6
    assert [p.name for p, _ in summary.skipped] == ["broken.png"]


def test_staged_video_equals_one_call_per_batch(model, clip_with_audio, tmp_path) -> None:
    """The video path runs prepare, infer and finish in threads of their own; each stage keeps
    its state (tracks, colour), so the frames are those of convert_frames batch by batch."""
    config = ConvertConfig(mask="occlusion", batch=4)
    frames = list(VideoReader(clip_with_audio))
    serial = Converter(model, STATE, config)
    want = [o for i in range(0, len(frames), 4) for o in serial.convert_frames(frames[i:i + 4])]
    staged = Converter(model, STATE, config)
    batches = [frames[i:i + 4] for i in range(0, len(frames), 4)]
    from masque.media.pipeline import staged as run_staged

    got = [o for b in run_staged(batches, staged.stages) for o in staged.finish(b)]
    assert len(got) == len(want) == 24
    assert all(np.array_equal(a, b) for a, b in zip(got, want))
    assert staged.faces_swapped == serial.faces_swapped == 16


def test_clipped_mask_follows_the_mask_kind_the_decoders_learned(model, fixture_path, tmp_path) -> None:
    """An ``extended`` model draws the forehead and convert pastes it; a card without a kind keeps jaw and brows."""
    src = fixture_path("single_face.jpg")
    before = read_image(src)
    lm = FaceAnalyzer().detect(before)[0].landmarks
    inner = landmark_mask(lm, before.shape[:2], "components")
    near_inner = cv2.dilate(inner, np.ones((9, 9), np.uint8)) > 0
    forehead = (landmark_mask(lm, before.shape[:2], "extended") > 0) & ~near_inner
    assert forehead.sum() > 500
    changed = {}
    for kind in ("extended", None):
        card = ModelCard("lightweight", 0, 64, CropSpec("face", 0.875, 64), mask=kind)
        out = tmp_path / f"{kind}.png"
        convert_path(Converter(model, card, ConvertConfig(mask="clipped", feather=2, smooth=0)), src, out, UNLABELLED)
        changed[kind] = (np.abs(read_image(out).astype(int) - before).max(axis=2) > 2)[forehead].mean()
    assert changed["extended"] > 0.5
    assert changed[None] < 0.05


def test_the_drawing_sides_colour_shift_is_taken_off(model, fixture_path) -> None:
    """The ``to`` decoder learned its person with the trainer's colour shift added: convert takes it off."""
    frame = read_image(fixture_path("single_face.jpg"))
    new = {}
    for shift in ((0.0, 0.0, 0.0), (0.1, 0.0, -0.1)):
        card = ModelCard("lightweight", 0, 64, CropSpec("face", 0.875, 64),
                         color_shift={"a": (0.0, 0.0, 0.0), "b": shift})
        conv = Converter(model, card, ConvertConfig(to="b", smooth=0))
        new[shift] = conv.infer(conv.prepare([frame])).new.astype(int)
    diff = (new[(0.1, 0.0, -0.1)] - new[(0.0, 0.0, 0.0)]).reshape(-1, 3)
    inside = (new[(0.0, 0.0, 0.0)].reshape(-1, 3) > 30).all(1) & (new[(0.0, 0.0, 0.0)].reshape(-1, 3) < 225).all(1)
    assert np.abs(np.median(diff[inside], axis=0) - (-25.5, 0, 25.5)).max() <= 1


class _HairAtTheTemple(torch.nn.Module):
    """Draws the face it is given 40 levels brighter, with dark hair over ``hair`` (a crop-sized mask)."""

    input_size = 64

    def __init__(self, hair: np.ndarray) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(1))
        self.hair = torch.from_numpy(hair.astype(np.float32))[None, None]

    def swap(self, x: torch.Tensor, to: str) -> tuple[torch.Tensor, torch.Tensor]:
        rgb = torch.where(self.hair > 0, torch.full_like(x, 0.1), (x + 40 / 255).clamp(0, 1))
        return rgb, torch.ones_like(x[:, :1])


def test_forehead_is_pasted_only_where_both_faces_show_skin(fixture_path) -> None:
    """The hair a decoder draws at the temples is not pasted; the frame's own fringe stays in front."""
    frame = read_image(fixture_path("single_face.jpg"))
    lm = FaceAnalyzer().detect(frame)[0].landmarks
    m = alignment_matrix(lm, 64, "face", 0.875)
    crop_lm = transform_points(lm, m)
    band = (landmark_mask(crop_lm, (64, 64), "extended") > 0) & ~(landmark_mask(crop_lm, (64, 64), "components") > 0)
    left = band & (np.arange(64)[None, :] < crop_lm[27, 0])  # the forehead left of the nose bridge
    card = ModelCard("lightweight", 0, 64, CropSpec("face", 0.875, 64), mask="extended")
    fringe = frame.copy()  # a dark fringe over the right of the frame's forehead
    right_px = cv2.warpAffine((band & ~left).astype(np.uint8), cv2.invertAffineTransform(m), frame.shape[1::-1]) > 0
    fringe[right_px] = (35, 25, 20)
    conv = Converter(_HairAtTheTemple(left), card, ConvertConfig(mask="clipped", color="none", feather=1, smooth=0))
    out = conv.convert_frames([fringe])[0]
    # the band's own pixels, a few frame pixels in from its edges (a 64 px crop's pixel is ~4 here)
    left_px = cv2.erode(cv2.warpAffine(left.astype(np.uint8), cv2.invertAffineTransform(m), frame.shape[1::-1]),
                        np.ones((13, 13), np.uint8)) > 0
    right_in = cv2.erode(right_px.astype(np.uint8), np.ones((13, 13), np.uint8)) > 0
    core = cv2.erode(landmark_mask(lm, frame.shape[:2], "components"), np.ones((15, 15), np.uint8)) > 0
    changed = np.abs(out.astype(int) - fringe).max(axis=2) > 10
    assert changed[core].mean() > 0.9  # the face itself was pasted
    assert changed[left_px].mean() < 0.1  # not the decoder's hair
    assert changed[right_in].mean() < 0.1  # nor over the frame's fringe


@pytest.mark.parametrize("kind", ["extended", None])
def test_keep_mouth_keeps_the_frames_open_mouth(model, fixture_path, kind) -> None:
    """``keep_mouth``: the frame's teeth and tongue stay (a wide-open mouth), the rest of the face is pasted."""
    frame = read_image(fixture_path("expression_su.jpg"))
    lm = FaceAnalyzer().detect(frame)[0].landmarks
    inner = cv2.erode(landmark_mask(lm[60:68], frame.shape[:2]), np.ones((5, 5), np.uint8)) > 0
    core = cv2.erode(landmark_mask(lm, frame.shape[:2], "components"), np.ones((15, 15), np.uint8)) > 0
    assert inner.sum() > 500  # wide open
    card = ModelCard("lightweight", 0, 64, CropSpec("face", 0.875, 64), mask=kind)
    changed = {}
    for keep in (False, True):
        conv = Converter(model, card, ConvertConfig(mask="clipped", keep_mouth=keep, feather=2, smooth=0))
        changed[keep] = np.abs(conv.convert_frames([frame])[0].astype(int) - frame).max(axis=2) > 10
    assert changed[False][inner].mean() > 0.5
    assert changed[True][inner].mean() < 0.05
    rest = core & ~(cv2.dilate(inner.astype(np.uint8), np.ones((25, 25), np.uint8)) > 0)
    assert changed[True][rest].mean() > 0.9 * changed[False][rest].mean() > 0.2  # the rest is pasted alike

"""The streaming API on real faces: a still photo comes to life (the face follows, the border
holds), a closed mouth opens onto a painted inside, identity is kept; reenactment changes the
target's expression and nothing outside its face."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from masque.animate import AnimateConfig, Animator, Reenactor
from masque.animate.files import track_video
from masque.face.expression import mouth_openness
from masque.face.types import identity_distance
from masque.media import VideoReader

#: clip_short's first frames: mouth closed and eyes open until frame 17, then the man talks
#: (inner-lip gap over width 0.2 and more) and blinks (frame 28)
_TALK = 36


@pytest.fixture(scope="module")
def talk(fixture_path) -> list[np.ndarray]:
    return list(itertools.islice(VideoReader(fixture_path("clip_short.mp4")), _TALK))


@pytest.fixture(scope="module")
def animated(analyzer, photo, talk) -> tuple[Animator, list[np.ndarray]]:
    """Biden (closed mouth) driven by the man of clip_short, measured from the first frame."""
    animator = Animator.from_photo(photo("biden.jpg"), AnimateConfig(size=384), analyzer=analyzer)
    return animator, [animator.step(f) for f in talk]


def test_output_is_the_configured_size_and_starts_from_the_photo(animated) -> None:
    animator, frames = animated
    assert all(f.shape == (384, 384, 3) and f.dtype == np.uint8 for f in frames)
    # the first driving frame is the reference: no motion yet
    assert float(np.abs(frames[0].astype(int) - animator.rig.image.astype(int)).mean()) < 1.0


def test_the_border_stays_still_while_the_face_moves(animated) -> None:
    animator, frames = animated
    still = animator.rig.image.astype(int)
    face = animator.rig.landmarks
    x0, y0 = face.min(0).astype(int)
    x1, y1 = face.max(0).astype(int)
    moved = [float(np.abs(f.astype(int) - still)[y0:y1, x0:x1].mean()) for f in frames]
    assert max(moved) > 8.0  # the face really moves
    for f in frames:
        diff = np.abs(f.astype(int) - still)
        assert diff[:2].mean() < 2 and diff[-2:].mean() < 2 and diff[:, :2].mean() < 2 and diff[:, -2:].mean() < 2


def test_a_closed_mouth_opens_onto_a_painted_inside_and_keeps_its_identity(animated, analyzer, photo) -> None:
    animator, frames = animated
    # measured afresh on the rendered images, not on the landmarks that drove them
    found = [analyzer.detect(f) for f in frames[::3]]
    assert all(found), "a face must be found in every animated frame"
    opening = [mouth_openness(f[0].landmarks) for f in found]
    widest = int(np.argmax(opening))
    assert opening[widest] > mouth_openness(animator.rig.landmarks) + 0.1
    reference = analyzer.analyze(photo("biden.jpg"))[0].embedding
    embedded = analyzer.embed(frames[::3][widest], found[widest][:1])[0].embedding
    assert identity_distance(embedded, reference) < 0.45


def test_before_any_driving_face_the_photo_is_shown(analyzer, photo) -> None:
    animator = Animator.from_photo(photo("obama.jpg"), AnimateConfig(size=256), analyzer=analyzer)
    out = animator.step(np.zeros((360, 640, 3), np.uint8))
    assert float(np.abs(out.astype(int) - animator.rig.image.astype(int)).mean()) < 1.0


def test_reenactment_changes_the_expression_inside_the_face_only(analyzer, fixture_path, talk) -> None:
    # the woman of clip_long, mouth closed, takes the talking man's expression
    target = list(itertools.islice(VideoReader(fixture_path("clip_long.mp4")), 20, 56, 4))
    reenactor = Reenactor(analyzer, AnimateConfig(smooth=0.0))
    config = reenactor.config
    t_lm = [analyzer.detect(f)[0].landmarks for f in target]
    source = talk[::4]
    s_lm = [analyzer.detect(f)[0].landmarks for f in source]
    reenactor.set_references(s_lm[0], t_lm[0], source[0].shape[:2], target[0].shape[:2])
    outs = [reenactor.step_pair(s, sl, t, tl) for s, sl, t, tl in zip(source, s_lm, target, t_lm)]
    assert config.mouth
    last, lm = outs[-1], t_lm[-1]
    found = analyzer.detect(last)[0].landmarks
    assert mouth_openness(found) > mouth_openness(lm) + 0.1
    # far from the face (beyond the fixed ring) the target's pixels are untouched
    width = float(np.ptp(lm[:, 0]))
    ys, xs = np.mgrid[: last.shape[0], : last.shape[1]]
    far = np.hypot(xs - lm[:, 0].mean(), ys - lm[:, 1].mean()) > 1.6 * width
    assert np.array_equal(last[far], target[-1][far])


def test_live_reenactment_loops_the_target_and_steps_with_the_source(analyzer, fixture_path, talk) -> None:
    target = list(itertools.islice(VideoReader(fixture_path("clip_long.mp4")), 3))
    reenactor = Reenactor(analyzer, target_frames=target)
    outs = [reenactor.step(f) for f in talk[:4]]
    assert all(o.shape == target[0].shape for o in outs)
    # the fourth step shows the first target frame again (looped), reenacted or not
    assert float(np.abs(outs[3].astype(int) - target[0].astype(int)).mean()) < 10


def test_driving_track_of_a_video_without_a_face_is_refused(analyzer, fixture_path) -> None:
    from masque.errors import NoFaceFoundError

    with pytest.raises(NoFaceFoundError, match="first 5 frames"):
        track_video(fixture_path("no_face.mp4"), analyzer, AnimateConfig(), first_frames=5)


def test_source_face_picks_another_person_of_a_group_photo(analyzer, photo) -> None:
    group = photo("multi_face.jpg")
    faces = analyzer.detect(group)
    assert len(faces) >= 2
    first = Animator.from_photo(group, AnimateConfig(size=256, crop="photo"), 0, analyzer)
    second = Animator.from_photo(group, AnimateConfig(size=256, crop="photo"), 1, analyzer)
    scale = 256 / max(group.shape[:2])
    assert np.allclose(first.rig.landmarks, faces[0].landmarks * scale, atol=1)
    assert np.allclose(second.rig.landmarks, faces[1].landmarks * scale, atol=1)

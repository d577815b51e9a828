"""Building the detail exemplars from a real face set: spread over expressions, no hidden faces."""

from __future__ import annotations

import numpy as np

from masque.faceset import FaceSet
from masque.models.exemplars import load_exemplars
from masque.train.data import training_records
from masque.train.exemplars import _candidates, build_bank, choose_exemplars, write_exemplars


def test_farthest_point_sampling_keeps_the_rare_shapes() -> None:
    rng = np.random.default_rng(0)
    common = rng.normal(0, 0.01, (50, 4))
    rare = np.eye(4)[:3]  # three faces unlike the rest (a wide-open mouth, shut eyes, a turn)
    picks = choose_exemplars(np.concatenate([common, rare]), 5)
    assert {50, 51, 52} <= set(picks) and len(picks) == 5 and picks == sorted(picks)
    assert choose_exemplars(common[:3], 64) == [0, 1, 2]  # a small set: every face


def test_bank_leaves_out_faces_behind_a_hand(facesets) -> None:
    path = facesets[0]  # clip_long every 16th frame: her hand covers the face at frames 176-200
    with FaceSet(path) as fs:
        records = training_records(fs, path)
    bank = build_bank(path, n=64)
    frames = {}
    for lm in bank.landmarks:
        j = int(np.argmin([np.abs(r.aligned_landmarks - lm).max() for r in records]))
        frames[records[j].frame] = j
    hidden = {176, 192} & {records[i].frame for i in _candidates(records)}
    assert hidden, "the hand frames should be among the sharp candidates"
    assert not hidden & set(frames), sorted(frames)
    assert 10 <= len(bank.band) < len(records)
    # the band is the face's own: zero around the face, detail inside it
    assert np.abs(bank.band[:, :8, :]).max() < 1e-3 and np.abs(bank.band[:, :, :8]).max() < 1e-3
    inner = np.abs(bank.band[:, 90:170, 80:176]).mean((1, 2))
    assert (inner > 0.005).all(), inner


def test_written_file_holds_both_people(facesets, tmp_path) -> None:
    out = write_exemplars(tmp_path, *facesets, n=8)
    banks = load_exemplars(tmp_path)
    assert out.name == "exemplars.safetensors" and banks is not None
    assert [len(banks[s].band) for s in "ab"] == [8, 8]
    # A's and B's exemplars are their own faces: different bands
    assert not np.allclose(banks["a"].band, banks["b"].band)

"""Every subcommand, given bad values, ends in one ``masque: error:`` line, exit 1 or 2, and leaves nothing.

Each case runs ``masque.cli.main`` in this process on tiny inputs made once for the module: a
48x64 noise image and a 3-frame video of it, empty and corrupt files, a one-face face set and the
smallest registered model. After each case:

- stderr holds no traceback and exactly one ``masque: error:`` line; the exit code is 1 or 2
  (2 where the case says so: a value argparse or a path check refuses);
- the case's own output folder is still empty (nothing partial left behind), and every shared
  input (media, face sets, model folders) is byte for byte as it was.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from masque import cli

#: files bigger than this are compared by size and mtime only (the model weights: 80 MB)
_HASH_LIMIT = 1 << 20


@dataclass(frozen=True)
class Case:
    """One bad command line: ``argv`` with ``{name}`` placeholders for the paths of :func:`world`."""

    id: str
    argv: tuple[str, ...]
    code: int | None = None  # the exact exit code expected, or None for 1 or 2
    message: str = ""  # a piece the error line must contain

    @property
    def param(self) -> object:
        return pytest.param(self, id=self.id)


def C(id: str, line: str, code: int | None = None, message: str = "") -> object:
    return Case(id, tuple(line.split()), code, message).param


# ---------------------------------------------------------------- the cases, command by command

USAGE = [
    C("no-command", "", 2, "required: COMMAND"),
    C("unknown-command", "nope", 2, "invalid choice"),
    C("unknown-option", "verify {img} --nope", 2, "unrecognized arguments"),
]

EXTRACT = [
    C("ray-output-is-a-file", "extract {img} -o {img} --ray local", 2, "is a file"),
    C("every-0", "extract {img} -o {work}/fs --every 0", 2, "--every"),
    C("every-text", "extract {img} -o {work}/fs --every x", 2, "--every"),
    C("size-negative", "extract {img} -o {work}/fs --size -5", 2, "--size"),
    C("size-huge", "extract {img} -o {work}/fs --size 100000", 2, "--size"),
    C("upsample-99", "extract {img} -o {work}/fs --upsample 99", 2, "--upsample"),
    C("min-face-negative", "extract {img} -o {work}/fs --min-face -1", 2, "--min-face"),
    C("identity-threshold-0", "extract {img} -o {work}/fs --identity-threshold 0", 2, "--identity-threshold"),
    C("identity-threshold-nan", "extract {img} -o {work}/fs --identity-threshold nan", 2, "finite"),
    C("detect-every-0", "extract {img} -o {work}/fs --detect-every 0", 2, "--detect-every"),
    C("workers-negative", "extract {img} -o {work}/fs --workers -1", 2, "--workers"),
    C("centering-bad", "extract {img} -o {work}/fs --centering feet", 2, "--centering"),
    C("missing-input", "extract {missing} -o {work}/fs", 2, "not found"),
    C("missing-identity", "extract {img} -o {work}/fs --identity {missing}", 2, "not found"),
    C("empty-image", "extract {empty_png} -o {work}/fs --workers 0", 2, "empty"),
    C("corrupt-image", "extract {corrupt_png} -o {work}/fs --workers 0", 2),
    C("corrupt-video", "extract {corrupt_mp4} -o {work}/fs --workers 0", 2),
    C("empty-video", "extract {empty_mp4} -o {work}/fs --workers 0", 2),
    C("text-file", "extract {txt} -o {work}/fs --workers 0", 2),
    C("detector-unknown", "extract {img} -o {work}/fs --workers 0 --detector nope", None, "nope"),
    C("output-is-a-file", "extract {img} -o {img}", 2, "is a file"),
    C("output-under-a-file", "extract {img} -o {img}/fs", 2),
    C("output-is-a-model", "extract {img} -o {model} --workers 0"),
    C("identity-without-face", "extract {face} -o {work}/fs --workers 0 --identity {img}", None, "no face"),
]

FACESET = [
    C("info-missing", "faceset info {missing}", 2, "not found"),
    C("info-image", "faceset info {img}"),
    C("info-empty-folder", "faceset info {empty_dir}"),
    C("info-corrupt-db", "faceset info {corrupt_fs}"),
    C("info-empty-db", "faceset info {empty_fs}"),
    C("info-against-missing", "faceset info {fs} --against {missing}", 2, "not found"),
    C("info-against-an-image", "faceset info {fs} --against {img}", 2, "not a folder"),
    C("info-against-empty-folder", "faceset info {fs} --against {empty_dir}", 2, "not a face set"),
    C("info-against-corrupt-db", "faceset info {fs} --against {corrupt_fs}", 2),
    C("info-against-a-model-folder", "faceset info {fs} --against {model}", 2),
    C("info-against-no-value", "faceset info {fs} --against", 2, "--against"),
    C("info-report-is-a-file", "faceset info {fs} --report {img}", 2, "is a file"),
    C("info-report-under-a-file", "faceset info {fs} --report {img}/r", 2),
    C("info-report-new-folder-against-missing", "faceset info {fs} --against {missing} --report {work}/r", 2),
    C("info-report-new-folder-corrupt-a", "faceset info {corrupt_fs} --against {fs} --report {work}/r", 2),
    C("list-empty-db", "faceset list {empty_fs}"),
    C("list-missing", "faceset list {missing}", 2, "not found"),
    C("list-model-folder", "faceset list {model}"),
    C("list-corrupt-db", "faceset list {corrupt_fs} --json"),
    C("sort-by-bad", "faceset sort {fs} --by size", 2, "--by"),
    C("sort-missing", "faceset sort {missing} --by blur", 2, "not found"),
    C("sort-corrupt-db", "faceset sort {corrupt_fs} --by blur"),
    C("prune-max-blur-negative", "faceset prune {fs} --max-blur -1", 2, "--max-blur"),
    C("prune-max-yaw-negative", "faceset prune {fs} --max-yaw -5", 2, "--max-yaw"),
    C("prune-max-yaw-nan", "faceset prune {fs} --max-yaw nan", 2),
    C("prune-blurriest-150", "faceset prune {fs} --blurriest 150", 2),
    C("prune-most-turned-0", "faceset prune {fs} --most-turned 0", 2),
    C("prune-missing", "faceset prune {missing} --max-blur 1", 2, "not found"),
    C("prune-corrupt-db", "faceset prune {corrupt_fs} --max-blur 1"),
    C("restore-nothing-pruned", "faceset restore {fs}", 2, "no pruned faces"),
    C("restore-not-a-faceset", "faceset restore {empty_dir}"),
]

_T = "train -A {fs} -B {fs_b} -m {work}/m"
TRAIN = [
    C("nproc-0", f"{_T} --nproc 0", 2, "--nproc"),
    C("nproc-text", f"{_T} --nproc two", 2, "--nproc"),
    C("batch-0", f"{_T} --batch 0", 2, "--batch"),
    C("batch-negative", f"{_T} --batch -3", 2, "--batch"),
    C("batch-text", f"{_T} --batch x", 2, "--batch"),
    C("steps-0", f"{_T} --steps 0", 2, "--steps"),
    C("steps-and-minutes", f"{_T} --steps 5 --minutes 1", 2, "not allowed"),
    C("minutes-negative", f"{_T} --minutes -1", 2, "--minutes"),
    C("minutes-inf", f"{_T} --minutes inf", 2, "finite"),
    C("lr-0", f"{_T} --lr 0", 2, "--lr"),
    C("lr-huge", f"{_T} --lr 5", 2, "--lr"),
    C("save-every-0", f"{_T} --save-every 0", 2, "--save-every"),
    C("preview-every-0", f"{_T} --preview-every 0", 2, "--preview-every"),
    C("workers-negative", f"{_T} --workers -1", 2, "--workers"),
    C("threads-0", f"{_T} --threads 0", 2, "--threads"),
    C("recipe-unknown", f"{_T} --steps 1 --recipe wgan", 2, "--recipe"),
    C("warmup-negative", f"{_T} --steps 1 --warmup -5", 2, "--warmup"),
    C("balance-above-1", f"{_T} --steps 1 --balance 1.5", 2, "--balance"),
    C("background-negative", f"{_T} --steps 1 --background -0.5", 2, "--background"),
    C("seed-negative", f"{_T} --seed -1", 2, "--seed"),
    C("model-unknown", f"{_T} --model huge", 2, "--model"),
    C("faceset-missing", "train -A {missing} -B {fs_b} -m {work}/m --steps 1", 2, "not found"),
    C("faceset-is-an-image", "train -A {img} -B {fs_b} -m {work}/m --steps 1"),
    C("faceset-empty-folder", "train -A {empty_dir} -B {fs_b} -m {work}/m --steps 1"),
    C("faceset-corrupt-db", "train -A {corrupt_fs} -B {fs_b} -m {work}/m --steps 1"),
    C("faceset-empty-db", "train -A {fs} -B {empty_fs} -m {work}/m --steps 1"),
    C("model-dir-is-a-file", "train -A {fs} -B {fs_b} -m {img} --steps 1", 2, "is a file"),
    C("model-dir-under-a-file", "train -A {fs} -B {fs_b} -m {img}/m --steps 1", 2),
    C("model-dir-of-another-kind", "train -A {fs} -B {fs_b} -m {model} --model original --steps 1"),
    C("model-dir-garbage-weights", "train -A {fs} -B {fs_b} -m {model_garbage} --steps 1"),
    C("model-dir-corrupt-state", "train -A {fs} -B {fs_b} -m {model_bad_state} --steps 1"),
    C("model-dir-card-of-another-kind", "train -A {fs} -B {fs_b} -m {model_other_kind} --steps 1"),
    C("model-dir-pickle", "train -A {fs} -B {fs_b} -m {model_pickle} --steps 1"),
    C("model-dir-a-faceset", "train -A {fs} -B {fs_b} -m {fs_b} --steps 1", 2, "not a model folder"),
    C("model-dir-empty-folder-bad-faceset", "train -A {fs} -B {empty_fs} -m {empty_dir} --steps 1"),
    C("device-unknown", "train -A {fs} -B {fs_b} -m {work}/m --steps 1 --device tpu", 2, "--device"),
    C("device-cuda-absent", "train -A {fs} -B {fs_b} -m {work}/m --steps 1 --device cuda:7", 2, "cuda:7"),
    C("enhancer-without-a-model", "train -A {fs} -B {fs_b} -m {work}/m --enhancer --steps 1", 2,
      "no trained model"),
    C("enhancer-with-nproc", "train -A {fs} -B {fs_b} -m {model} --enhancer --nproc 2 --steps 1", 2, "--nproc"),
    C("enhancer-with-recipe", "train -A {fs} -B {fs_b} -m {model} --enhancer --recipe gan --steps 1", 2,
      "--recipe"),
    C("enhancer-damaged", "train -A {fs} -B {fs_b} -m {model_bad_enhancer} --enhancer --steps 1", 2,
      "enhancer"),
    C("enhancer-of-another-size", "train -A {fs} -B {fs_b} -m {model_enhancer_other_size} --enhancer --steps 1",
      2, "another model"),
]

MODEL = [
    C("info-missing", "model info {missing}", 2, "not found"),
    C("info-image", "model info {img}"),
    C("info-empty-folder", "model info {empty_dir}"),
    C("info-garbage-weights", "model info {model_garbage}"),
    C("info-corrupt-state", "model info {model_bad_state}"),
    C("info-other-size", "model info {model_other_size}"),
    C("info-a-faceset", "model info {fs}"),
    C("info-other-kind", "model info {model_other_kind}"),
    C("info-pickle", "model info {model_pickle}"),
    C("no-action", "model", 2, "ACTION"),
]

_CV = "convert {img} -m {model} -o {work}/out.png"
CONVERT = [
    C("ray-output-of-the-wrong-kind", "convert {clip} -m {model} -o {work}/o.png --ray local", 2, "must be a video"),
    C("ray-no-address", f"{_CV} --ray", 2, "--ray"),
    C("smooth-1", f"{_CV} --smooth 1", 2, "--smooth"),
    C("smooth-negative", f"{_CV} --smooth -0.1", 2, "--smooth"),
    C("crf-99", f"{_CV} --crf 99", 2, "--crf"),
    C("crf-negative", f"{_CV} --crf -1", 2, "--crf"),
    C("feather-negative", f"{_CV} --feather -2", 2, "--feather"),
    C("erode-nan", f"{_CV} --erode nan", 2, "--erode"),
    C("to-c", f"{_CV} --to c", 2, "--to"),
    C("mask-bad", f"{_CV} --mask hair", 2, "--mask"),
    C("color-unknown", f"{_CV} --color sepia", None, "sepia"),
    C("blend-unknown", f"{_CV} --blend smudge", None, "smudge"),
    C("input-missing", "convert {missing} -m {model} -o {work}/out.png", 2, "not found"),
    C("input-empty-image", "convert {empty_png} -m {model} -o {work}/out.png", 2),
    C("input-corrupt-image", "convert {corrupt_png} -m {model} -o {work}/out.png", 2),
    C("input-corrupt-video", "convert {corrupt_mp4} -m {model} -o {work}/out.mp4", 2),
    C("input-empty-video", "convert {empty_mp4} -m {model} -o {work}/out.mp4", 2),
    C("input-text", "convert {txt} -m {model} -o {work}/out.txt", 2),
    C("model-missing", "convert {img} -m {missing} -o {work}/out.png", 2, "not found"),
    C("model-is-an-image", "convert {img} -m {img} -o {work}/out.png"),
    C("model-empty-folder", "convert {img} -m {empty_dir} -o {work}/out.png"),
    C("model-garbage-weights", "convert {img} -m {model_garbage} -o {work}/out.png"),
    C("model-other-size", "convert {img} -m {model_other_size} -o {work}/out.png"),
    C("model-corrupt-state", "convert {img} -m {model_bad_state} -o {work}/out.png"),
    C("model-a-faceset", "convert {img} -m {fs} -o {work}/out.png"),
    C("model-other-kind", "convert {img} -m {model_other_kind} -o {work}/out.png"),
    C("model-pickle", "convert {img} -m {model_pickle} -o {work}/out.png"),
    C("enhancer-damaged", "convert {img} -m {model_bad_enhancer} -o {work}/out.png", 2, "enhancer"),
    C("enhancer-of-another-size", "convert {img} -m {model_enhancer_other_size} -o {work}/out.png", 2,
      "another model"),
    C("no-enhancer-with-a-value", "convert {img} -m {model} -o {work}/out.png --no-enhancer yes", 2,
      "unrecognized"),
    C("output-other-kind", "convert {img} -m {model} -o {work}/out.mp4", 2),
    C("video-to-image", "convert {clip} -m {model} -o {work}/out.png", 2),
    C("folder-to-file", "convert {bad_folder} -m {model} -o {img}", 2),
    C("output-is-a-folder", "convert {img} -m {model} -o {empty_dir}", 2, "is a folder"),
    C("output-under-a-file", "convert {img} -m {model} -o {img}/out.png", 2),
    C("output-in-missing-folder-bad-model", "convert {img} -m {model_garbage} -o {work}/no/such/out.png"),
    C("folder-input-all-damaged", "convert {bad_folder} -m {model} -o {work}/new/out", 2, "nothing could be read"),
    C("identity-missing", "convert {img} -m {model} -o {work}/out.png --identity {missing}", 2, "not found"),
    C("identity-without-face", "convert {img} -m {model} -o {work}/out.png --identity {img}", None, "no face"),
    C("device-unknown", f"{_CV} --device tpu", 2, "--device"),
    C("device-cuda-absent", f"{_CV} --device cuda:7", 2, "cuda:7"),
    C("mask-unknown", f"{_CV} --mask hands", 2, "--mask"),
    C("occlusion-model-missing", f"{_CV} --mask occlusion --occlusion-model {{missing}}", 2, "not found"),
    C("occlusion-model-garbage", f"{_CV} --mask occlusion --occlusion-model {{txt}}", None, "occlusion model"),
    C("sign-cert-missing", f"{_CV} --sign-cert {{missing}} --sign-key {{missing}}", 2),
    C("sign-cert-without-key", f"{_CV} --sign-cert {{txt}}"),
    C("sign-cert-garbage", f"{_CV} --sign-cert {{txt}} --sign-key {{txt}}"),
]

_SW = "swap -s {face} -t {img} -o {work}/out.png"
SWAP = [
    C("ray-output-of-the-wrong-kind", "swap -s {face} -t {clip} -o {work}/o.png --ray local", 2, "must be"),
    C("ray-folder-into-a-file", "swap -s {face} -t {bad_folder} -o {img} --ray local", 2),
    C("smooth-1", f"{_SW} --smooth 1", 2, "--smooth"),
    C("source-face-negative", f"{_SW} --source-face -1", 2, "--source-face"),
    C("redetect-every-0", f"{_SW} --redetect-every 0", 2, "--redetect-every"),
    C("color-unknown", f"{_SW} --color sepia", 2, "--color"),
    C("blend-unknown", f"{_SW} --blend smudge", 2, "--blend"),
    C("mask-unknown", f"{_SW} --mask hair", 2, "--mask"),
    C("occlusion-model-missing", f"{_SW} --occlusion-model {{missing}}", 2, "not found"),
    C("occlusion-model-garbage", f"{_SW} --occlusion-model {{txt}}", None, "occlusion model"),
    C("source-missing", "swap -s {missing} -t {img} -o {work}/out.png", 2, "not found"),
    C("source-empty", "swap -s {empty_png} -t {img} -o {work}/out.png", 2, "empty"),
    C("source-corrupt", "swap -s {corrupt_png} -t {img} -o {work}/out.png", 2),
    C("source-is-a-video", "swap -s {clip} -t {img} -o {work}/out.png", 2),
    C("source-is-text", "swap -s {txt} -t {img} -o {work}/out.png", 2),
    C("source-without-face", "swap -s {img} -t {img} -o {work}/out.png", None, "no face"),
    C("target-missing", "swap -s {face} -t {missing} -o {work}/out.png", 2, "not found"),
    C("target-corrupt-video", "swap -s {face} -t {corrupt_mp4} -o {work}/out.mp4", 2),
    C("target-empty-video", "swap -s {face} -t {empty_mp4} -o {work}/out.mp4", 2),
    C("target-corrupt-image", "swap -s {face} -t {corrupt_png} -o {work}/out.png", 2),
    C("target-face-missing", f"{_SW} --target-face {{missing}}", 2, "not found"),
    C("output-other-kind", "swap -s {face} -t {img} -o {work}/out.mp4", 2),
    C("video-to-image", "swap -s {face} -t {clip} -o {work}/out.png", 2),
    C("folder-to-file", "swap -s {face} -t {bad_folder} -o {img}", 2),
    C("source-a-folder", "swap -s {empty_dir} -t {img} -o {work}/out.png", 2),
    C("output-is-a-folder", "swap -s {face} -t {img} -o {empty_dir}", 2, "is a folder"),
    C("output-under-a-file", "swap -s {face} -t {img} -o {img}/out.png", 2),
    C("output-no-manifest", "swap -s {face} -t {img} -o {work}/out.bmp", 2),
    C("detector-unknown", f"{_SW} --detector nope", None, "nope"),
    C("target-face-without-face", f"{_SW} --target-face {{img}}", None, "no face"),
    C("sign-cert-garbage", f"{_SW} --sign-cert {{txt}} --sign-key {{txt}}"),
    C("output-in-missing-folder-no-face", "swap -s {img} -t {img} -o {work}/no/such/out.png", None, "no face"),
    C("folder-target-all-damaged", "swap -s {face} -t {bad_folder} -o {work}/new/out", 2, "nothing could be read"),
]

_AN = "animate -s {face} -d {clip} -o {work}/out.mp4"
ANIMATE = [
    C("photo-missing", "animate -s {missing} -d {clip} -o {work}/out.mp4", 2, "not found"),
    C("driving-missing", "animate -s {face} -d {missing} -o {work}/out.mp4", 2, "not found"),
    C("driving-an-image", "animate -s {face} -d {img} -o {work}/out.mp4", 2, "must be a video"),
    C("driving-corrupt", "animate -s {face} -d {corrupt_mp4} -o {work}/out.mp4", 2),
    C("photo-no-face", "animate -s {img} -d {clip} -o {work}/out.mp4", 1, "no face"),
    C("photo-corrupt", "animate -s {corrupt_png} -d {clip} -o {work}/out.mp4", 2),
    C("source-face-absent", f"{_AN} --source-face 3", 1, "face 3 does not exist"),
    C("driving-no-face", f"{_AN} --first-frames 2", 1, "no face in the first 2 frames"),
    C("output-an-image", "animate -s {face} -d {clip} -o {work}/out.png", 2, "must be a video"),
    C("output-no-manifest", "animate -s {face} -d {clip} -o {work}/out.avi", 2, "manifest"),
    C("size-too-small", f"{_AN} --size 10", 2, "--size"),
    C("smooth-1", f"{_AN} --smooth 1", 2, "--smooth"),
    C("crop-unknown", f"{_AN} --crop head", 2, "--crop"),
    C("reference-negative", f"{_AN} --reference -1", 2, "--reference"),
    C("output-in-missing-folder-no-face", "animate -s {face} -d {clip} -o {work}/no/such/out.mp4", None, "no face"),
]

_RE = "reenact -s {clip} -t {clip} -o {work}/out.mp4"
REENACT = [
    C("source-missing", "reenact -s {missing} -t {clip} -o {work}/out.mp4", 2, "not found"),
    C("target-an-image", "reenact -s {clip} -t {img} -o {work}/out.mp4", 2, "must be a video"),
    C("target-corrupt", "reenact -s {clip} -t {corrupt_mp4} -o {work}/out.mp4", 2),
    C("no-face", _RE, 1, "no face"),
    C("audio-unknown", f"{_RE} --audio both", 2, "--audio"),
    C("output-no-manifest", "reenact -s {clip} -t {clip} -o {work}/out.avi", 2, "manifest"),
]

_ST = "style {img} {face} -o {work}/out.png --size 32 --steps 1 --scales 1"
STYLE = [
    C("no-style-image", "style {img} -o {work}/out.png", 2, "style image after the content"),
    C("no-output", "style {img} {face}", 2, "-o OUT"),
    C("style-missing", "style {img} {missing} -o {work}/out.png", 2, "not found"),
    C("style-empty", "style {img} {empty_png} -o {work}/out.png", 2, "empty"),
    C("style-unreadable", "style {img} {corrupt_png} -o {work}/out.png", 2),
    C("style-is-text", "style {img} {txt} -o {work}/out.png", 2),
    C("content-unreadable", "style {corrupt_png} {face} -o {work}/out.png", 2),
    C("content-missing", "style {missing} {face} -o {work}/out.png", 2, "not found"),
    C("steps-0", f"{_ST} --steps 0", 2, "--steps"),
    C("face-weight-below-1", f"{_ST} --face-weight 0.5", 2, "--face-weight"),
    C("layer-unknown", f"{_ST} --style-layers fc7", 2, "fc7"),
    C("blend-count", f"{_ST} --blend 1,2", 2, "--blend"),
    C("blend-negative", f"{_ST} --blend -1", 2, "--blend"),
    C("video-to-image", "style {clip} {face} -o {work}/out.png", 2),
    C("swap-model-as-style-model", "style {model} {img} -o {work}/out.png", 2, "face-swap model"),
    C("translation-model-to-style", "style {translate_model} {img} -o {work}/out.png", 2, "translation model"),
    C("style-model-unreadable-content", "style {style_model} {corrupt_png} -o {work}/out.png", 2),
    C("style-model-damaged", "style {style_model_bad} {img} -o {work}/out.png", 2, "not a masque style model"),
    C("train-without-content", "style train {face} -m {work}/m", 2, "--content"),
    C("train-style-missing", "style train {missing} --content {fs} -m {work}/m", 2, "not found"),
    C("train-content-empty", "style train {face} --content {empty_dir} -m {work}/m", 2, "holds no images"),
    C("train-content-unreadable", "style train {face} --content {bad_folder} -m {work}/m", 2, "could be read"),
    C("train-into-translation-model", "style train {face} --content {fs} -m {translate_model}", 2, "translation model"),
    C("train-into-swap-model", "style train {face} --content {fs} -m {model}", 2, "face-swap model"),
    C("train-into-damaged-style-model", "style train {face} --content {fs} -m {style_model_bad}", 2,
      "not a masque style model"),
    C("style-model-as-style-image", "style {img} {style_model} -o {work}/out.png", 2, "style image"),
]

TRANSLATE = [
    C("no-verb", "translate", 2),
    C("apply-style-model", "translate apply {img} -m {style_model} -o {work}/out.png", 2, "style model"),
    C("apply-swap-model", "translate apply {img} -m {model} -o {work}/out.png", 2, "face-swap model"),
    C("apply-model-missing", "translate apply {img} -m {work}/none -o {work}/out.png", 2, "not found"),
    C("apply-input-unreadable", "translate apply {corrupt_png} -m {translate_model} -o {work}/out.png", 2),
    C("apply-to-c", "translate apply {img} -m {translate_model} -o {work}/out.png --to c", 2, "--to"),
    C("train-b-missing", "translate train -A {fs} -B {missing} -m {work}/m", 2, "not found"),
    C("train-a-empty", "translate train -A {empty_dir} -B {fs_b} -m {work}/m", 2, "holds no images"),
    C("train-size-not-4", "translate train -A {fs} -B {fs_b} -m {work}/m --size 50", 2, "multiple of 4"),
    C("train-steps-0", "translate train -A {fs} -B {fs_b} -m {work}/m --steps 0", 2, "--steps"),
    C("train-into-style-model", "translate train -A {fs} -B {fs_b} -m {style_model}", 2, "style model"),
    C("train-into-swap-model", "translate train -A {fs} -B {fs_b} -m {model}", 2, "face-swap model"),
]

_EV = "evaluate --swapped {clip} --original {clip} --source {face}"
EVALUATE = [
    C("every-0", f"{_EV} --every 0", 2, "--every"),
    C("neither-original-nor-driving", "evaluate --swapped {clip} --source {face}", 2, "--original"),
    C("driving-missing", "evaluate --swapped {clip} --driving {missing} --source {face}", 2, "not found"),
    C("driving-with-report", "evaluate --swapped {clip} --driving {clip} --source {face} --report {work}/r", 2,
      "--driving"),
    C("every-text", f"{_EV} --every x", 2, "--every"),
    C("swapped-missing", "evaluate --swapped {missing} --original {clip} --source {face}", 2, "not found"),
    C("original-corrupt", "evaluate --swapped {clip} --original {corrupt_mp4} --source {face}", 2),
    C("original-empty", "evaluate --swapped {clip} --original {empty_mp4} --source {face}", 2),
    C("source-empty", "evaluate --swapped {clip} --original {clip} --source {empty_png}", 2),
    C("source-missing", "evaluate --swapped {clip} --original {clip} --source {missing}", 2, "not found"),
    C("gallery-missing", f"{_EV} --gallery {{missing}}", 2, "not found"),
    C("kinds-differ", "evaluate --swapped {img} --original {clip} --source {face}"),
    C("source-corrupt-faceset", "evaluate --swapped {clip} --original {clip} --source {corrupt_fs}"),
    C("source-a-model-folder", "evaluate --swapped {clip} --original {clip} --source {model}"),
    C("model-is-an-image", f"{_EV} --model {{img}}"),
    C("model-garbage-weights", f"{_EV} --model {{model_garbage}}"),
    C("report-is-a-file", f"{_EV} --report {{img}}", 2, "is a file"),
    C("report-sign-cert-missing", f"{_EV} --report {{work}}/r --sign-cert {{missing}} --sign-key {{missing}}", 2),
    C("report-new-folder-source-corrupt", "evaluate --swapped {clip} --original {clip} --source {corrupt_png} "
      "--report {work}/r", 2),
]

VERIFY = [
    C("missing", "verify {missing}", 2),
    C("empty", "verify {empty_png}", 2),
    C("corrupt-image", "verify {corrupt_png}", 2),
    C("corrupt-video", "verify {corrupt_mp4}", 2),
    C("text", "verify {txt}", 2),
    C("no-file", "verify", 2, "FILE"),
    C("a-folder", "verify {empty_dir}", 2),
]

DETECT = [
    C("missing", "detect {missing}", 2, "not found"),
    C("empty", "detect {empty_png}", 2, "empty"),
    C("corrupt-video", "detect {corrupt_mp4}", 2),
    C("text", "detect {txt}", 2, "neither an image nor a video"),
    C("no-file", "detect", 2, "FILE"),
    C("empty-folder", "detect {empty_dir}", 2, "no image or video"),
    C("every-0", "detect {img} --every 0", 2, "--every"),
    C("threshold-2", "detect {img} --threshold 2", 2, "--threshold"),
    C("unknown-option", "detect {img} --nope", 2, "unrecognized arguments"),
    C("model-missing", "detect {img} -m {missing}", 2, "not found"),
    C("model-not-safetensors", "detect {img} -m {txt}", 2, "safetensors"),
    C("report-is-a-file", "detect {img} --report {txt}", 2),
    C("ray-no-address", "detect {img} --ray", 2, "--ray"),
    C("ray-missing-file", "detect {missing} --ray local", 2, "not found"),  # told by the driver: no Ray started
    C("train-no-real", "detect train -m {work}/det", 2, "--real"),
    C("train-missing-real", "detect train -r {missing} -m {work}/det", 2, "not found"),
    C("train-steps-0", "detect train -r {img} -m {work}/det --steps 0", 2, "--steps"),
    C("train-size-odd", "detect train -r {img} -m {work}/det --size 100", 2, "divisible by 16"),
    C("train-no-face", "detect train -r {img} -m {work}/det --steps 1", None, "no face"),
    C("train-corrupt", "detect train -r {corrupt_mp4} -m {work}/det --steps 1", 2),
    C("train-missing-validation", "detect train -r {img} -m {work}/det --validate-on {missing}", 2, "--validate-on"),
    C("train-warp-above-1", "detect train -r {img} -m {work}/det --warp 1.5", 2, "--warp"),
    C("train-ema-1", "detect train -r {img} -m {work}/det --ema 1", 2, "--ema"),
]

LIVENESS = [
    C("missing", "liveness {missing}", 2, "not found"),
    C("an-image", "liveness {img}", 2),
    C("corrupt", "liveness {corrupt_mp4}", 2),
    C("no-face", "liveness {clip}", 2, "face"),
    C("a-folder", "liveness {empty_dir}", 2, "folder"),
    C("max-frames-0", "liveness {clip} --max-frames 0", 2, "--max-frames"),
    C("no-video", "liveness", 2, "VIDEO"),
]

DEMO = [
    C("minutes-0", "demo -o {work}/d --minutes 0", 2, "--minutes"),
    C("minutes-negative", "demo -o {work}/d --minutes -1", 2, "--minutes"),
    C("minutes-nan", "demo -o {work}/d --minutes nan", 2, "finite"),
    C("model-unknown", "demo -o {work}/d --model huge", 2, "--model"),
    C("enhancer-share-above-0.9", "demo -o {work}/d --enhancer-share 1", 2, "--enhancer-share"),
    C("enhancer-share-negative", "demo -o {work}/d --enhancer-share -0.1", 2, "--enhancer-share"),
    C("output-is-a-file", "demo -o {img}", 2, "is a file"),
    C("output-under-a-file", "demo -o {img}/d", 2),
    C("device-unknown", "demo -o {work}/d --device tpu --minutes 1", 2, "--device"),
    C("device-cuda-absent", "demo -o {work}/d --device cuda:7 --minutes 1", 2, "cuda:7"),
]

UI = [  # refused before Gradio is imported or a port is opened
    C("port-0", "ui --port 0", 2, "--port"),
    C("port-too-big", "ui --port 70000", 2, "--port"),
    C("port-text", "ui --port http", 2, "--port"),
    C("max-upload-0", "ui --max-upload 0", 2, "--max-upload"),
    C("max-upload-negative", "ui --max-upload -5", 2, "--max-upload"),
    C("workdir-is-a-file", "ui --workdir {img}", 2, "is a file"),
    C("workdir-under-a-file", "ui --workdir {img}/w", 2),
]


# ---------------------------------------------------------------- the tiny world they run in


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, fixture_path: Callable[[str], Path]) -> dict[str, Path]:
    """Shared inputs, made once; no case may change them."""
    root = tmp_path_factory.mktemp("cli-errors")
    paths = {"img": root / "noise.png", "clip": root / "clip.mp4", "txt": root / "notes.txt",
             "empty_png": root / "empty.png", "empty_mp4": root / "empty.mp4",
             "corrupt_png": root / "corrupt.png", "corrupt_mp4": root / "corrupt.mp4",
             "empty_dir": root / "empty-folder", "missing": root / "missing" / "nothing.png",
             "bad_folder": root / "folder-of-damaged-images",
             "face": fixture_path("single_face.jpg")}
    _media(paths)
    paths |= _facesets(root, paths["face"])
    paths |= _models(root)
    return paths


def _media(paths: dict[str, Path]) -> None:
    from masque.media import VideoWriter, write_image

    noise = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    write_image(paths["img"], noise)
    with VideoWriter(paths["clip"], 10) as writer:
        for _ in range(3):
            writer.write(noise)
    paths["txt"].write_text("not an image\n")
    paths["empty_png"].write_bytes(b"")
    paths["empty_mp4"].write_bytes(b"")
    junk = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    paths["corrupt_png"].write_bytes(junk)
    paths["corrupt_mp4"].write_bytes(junk)
    paths["empty_dir"].mkdir()
    paths["bad_folder"].mkdir()  # a folder whose only image is damaged
    shutil.copy(paths["corrupt_png"], paths["bad_folder"] / "b.png")


def _facesets(root: Path, face: Path) -> dict[str, Path]:
    from masque.faceset.extract import ExtractConfig, extract_faceset
    from masque.faceset.store import DB_NAME

    fs = root / "faceset-a"
    assert extract_faceset([face], fs, ExtractConfig(workers=0)).faces == 1
    fs_b = Path(shutil.copytree(fs, root / "faceset-b"))
    corrupt = Path(shutil.copytree(fs, root / "faceset-corrupt"))
    (corrupt / DB_NAME).write_bytes(b"this is not an SQLite database" * 100)
    empty = Path(shutil.copytree(fs, root / "faceset-empty-index"))
    (empty / DB_NAME).write_bytes(b"")
    return {"fs": fs, "fs_b": fs_b, "corrupt_fs": corrupt, "empty_fs": empty}


def _models(root: Path) -> dict[str, Path]:
    import torch

    from masque.models import MODELS
    from masque.train.checkpoint import save_checkpoint

    model = root / "model"
    torch.manual_seed(0)
    save_checkpoint(model, MODELS.create("lightweight"), None, {
        "model": "lightweight", "step": 3, "input_size": 64, "facesets": ["a", "b"],
        "align": {"centering": "face", "coverage": 0.875, "size": 256}, "device": "cpu"})
    out = {"model": model}
    for name in ("model_garbage", "model_other_size", "model_bad_state", "model_other_kind", "model_pickle"):
        out[name] = Path(shutil.copytree(model, root / name.replace("_", "-")))
    weights = out["model_garbage"] / "model.safetensors"
    weights.write_bytes(np.random.default_rng(2).integers(0, 256, 1 << 16, dtype=np.uint8).tobytes())
    state = json.loads((model / "state.json").read_text())
    (out["model_other_size"] / "state.json").write_text(json.dumps({**state, "input_size": 128}))
    (out["model_bad_state"] / "state.json").write_text("{ not json")
    (out["model_other_kind"] / "state.json").write_text(json.dumps({**state, "model": "hires"}))
    (out["model_pickle"] / "model.safetensors").unlink()
    torch.save({"encoder.weight": torch.zeros(2)}, out["model_pickle"] / "model.pt")
    return out | _enhancer_models(model, root) | _style_models(root)


def _enhancer_models(model: Path, root: Path) -> dict[str, Path]:
    """The model with a damaged enhancer file, and with an enhancer made for 128 px faces."""
    from safetensors.torch import save as st_save

    from masque.models.enhancer import ENHANCER_FILE, EnhancerArch, EnhancerPair

    out = {name: Path(shutil.copytree(model, root / name.replace("_", "-")))
           for name in ("model_bad_enhancer", "model_enhancer_other_size")}
    (out["model_bad_enhancer"] / ENHANCER_FILE).write_bytes(b"\x00" * 64)
    pair = EnhancerPair(EnhancerArch(input_size=128, width=4, up_width=4, blocks=1))
    (out["model_enhancer_other_size"] / ENHANCER_FILE).write_bytes(st_save(pair.state_dict(), pair.metadata()))
    return out


def _style_models(root: Path) -> dict[str, Path]:
    """A tiny fast-style model, a damaged copy, and a tiny translation model."""
    from masque.stylize.cyclegan import CycleConfig, CycleTrainer
    from masque.stylize.fast import CARD_FILE, NetSpec, TransformNet, save_style_model

    style = save_style_model(root / "style-model", TransformNet(NetSpec(width=4, blocks=1)), {})
    bad = Path(shutil.copytree(style, root / "style-model-bad"))
    (bad / CARD_FILE).write_text(json.dumps({"format": "something-else", "net": {"width": 4}}))
    pics = [np.full((32, 32, 3), v, np.uint8) for v in (40, 200)]
    trainer = CycleTrainer(root / "translate-model", pics, pics, CycleConfig(size=32, ngf=4, ndf=4, blocks=1))
    trainer.save()
    return {"style_model": style, "style_model_bad": bad, "translate_model": trainer.root}


def _snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """(size, mtime, sha1 of small files) of everything under ``root``."""
    found = {}
    for p in sorted(root.rglob("*")):
        if p.is_file():
            st = p.stat()
            digest = hashlib.sha1(p.read_bytes()).hexdigest() if st.st_size <= _HASH_LIMIT else ""
            found[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns, digest)
        elif p.is_dir():
            found[f"{p.relative_to(root)}/"] = (0, 0, "")
    return found


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    """main() configures logging once per process; each case must log to its own captured stderr."""
    saved = logging.root.handlers[:]
    logging.root.handlers = []
    yield
    logging.root.handlers = saved


def _run(case: Case, world: dict[str, Path], work: Path, capsys: pytest.CaptureFixture[str],
         crash: bool = False) -> None:
    shared = world["fs"].parent
    before = _snapshot(shared)
    argv = [part.format(work=work, **world) for part in case.argv]
    code = cli.main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("masque: error:")]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert code == case.code if case.code is not None else code in (1, 2), (code, err)
    assert case.message in lines[0], lines[0]
    assert crash or "internal error" not in lines[0], "a user's mistake must be a MasqueError, not a crash"
    assert list(work.iterdir()) == [], f"left behind: {sorted(work.rglob('*'))[:5]}..."
    assert _snapshot(shared) == before, "a shared input or folder was changed"


def _named(command: str, cases: list[object]) -> list[object]:
    return [pytest.param(*p.values, id=f"{command}-{p.id}") for p in cases]  # type: ignore[attr-defined]


ALL = [*_named("usage", USAGE), *_named("extract", EXTRACT), *_named("faceset", FACESET),
       *_named("train", TRAIN), *_named("model", MODEL), *_named("convert", CONVERT), *_named("swap", SWAP),
       *_named("animate", ANIMATE), *_named("reenact", REENACT),
       *_named("style", STYLE), *_named("translate", TRANSLATE),
       *_named("evaluate", EVALUATE), *_named("verify", VERIFY), *_named("demo", DEMO),
       *_named("ui", UI), *_named("detect", DETECT), *_named("liveness", LIVENESS)]


@pytest.mark.parametrize("case", ALL)
def test_bad_command_line_is_one_error_line(case: Case, world: dict[str, Path], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    _run(case, world, work, capsys)


# ---------------------------------------------------------------- what the library lets through


@pytest.mark.parametrize("line", ["convert {clip} -m {model} -o {work}/o.mp4 --ray local",
                                  "detect {img} --ray local"], ids=["convert", "detect"])
def test_ray_asked_for_but_not_installed_is_one_error_line(line: str, world: dict[str, Path], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as without the extra
    work = tmp_path / "work"
    work.mkdir()
    case = Case("ray-missing", tuple(line.replace("{work}", str(work)).split()), 1, "masque[cluster]")
    _run(case, world, work, capsys)


def test_permission_denied_on_the_output_folder(world: dict[str, Path], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """As root every folder is writable, so the check is made to see a read-only one."""
    from masque.commands import _paths

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setattr(_paths.os, "access", lambda path, mode: False)
    case = Case("read-only", ("swap", "-s", "{face}", "-t", "{img}", "-o", "{work}/out.png"), 2, "permission denied")
    _run(case, world, work, capsys)


@pytest.mark.parametrize(("error", "code", "message"), [
    (PermissionError(errno.EACCES, "Permission denied", "/out/x.png"), 2, "cannot write (/out/x.png)"),
    (IsADirectoryError(errno.EISDIR, "Is a directory", "/out"), 2, "cannot write (/out)"),
    (OSError(errno.ENOSPC, "No space left on device", "/out/x.mp4"), 1, "the disk is full"),
    (OSError(errno.EIO, "Input/output error"), 1, "Input/output error"),
    (ZeroDivisionError("division by zero"), 1, "internal error (ZeroDivisionError: division by zero)"),
], ids=["permission", "is-a-directory", "disk-full", "io-error", "a-bug"])
def test_an_error_the_library_did_not_translate_is_still_one_line(
        error: Exception, code: int, message: str, world: dict[str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from masque.commands import verify

    def fail(args: object) -> int:
        raise error

    monkeypatch.setattr(verify, "run", fail)
    work = tmp_path / "work"
    work.mkdir()
    _run(Case("x", ("verify", "{img}"), code, message), world, work, capsys, crash=True)


def test_a_crash_leaves_its_traceback_in_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from masque.commands import verify

    def fail(args: object) -> int:
        raise KeyError("oops")

    monkeypatch.setattr(verify, "run", fail)
    assert cli.main(["verify", str(tmp_path)]) == 1
    line = capsys.readouterr().err.strip()
    crash = Path(line.rsplit("the traceback is in ", 1)[1])
    assert "Traceback" in crash.read_text() and "KeyError: 'oops'" in crash.read_text()


@pytest.mark.parametrize("argv", [
    ["train", "-A", "a", "-B", "b", "-m", "m", "--batch", "0"],
    ["convert", "in.mp4", "-m", "m", "-o", "out.mp4", "--smooth", "1"],
    ["faceset", "info", "{corrupt_fs}"],
    ["swap", "-s", "{corrupt_png}", "-t", "{img}", "-o", "out.png"],
], ids=["train-batch-0", "convert-smooth-1", "faceset-corrupt-db", "swap-corrupt-source"])
def test_the_real_command_line(argv: list[str], world: dict[str, Path], tmp_path: Path) -> None:
    """The same contract through the interpreter's own exit path (``python -m masque.cli``)."""
    args = [a.format(**world) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "masque.cli", *args], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, check=False)
    assert proc.returncode in (1, 2) and "Traceback" not in proc.stderr, proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.strip()] == [proc.stderr.strip()], proc.stderr
    assert proc.stderr.startswith("masque: error: ") and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [
    ("convert", "{face}", "-m", "{model}", "-o", "{work}/new/swapped.png"),
    ("swap", "-s", "{face}", "-t", "{face}", "-o", "{work}/new/swapped.png"),
], ids=["convert", "swap"])
def test_a_full_disk_while_writing_is_one_line_and_leaves_nothing(
        argv: tuple[str, ...], world: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Every finished file is renamed into place: make that rename find the disk full."""
    import os

    def full(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", full)
    work = tmp_path / "work"
    work.mkdir()
    _run(Case("disk-full", argv, 1, "disk full"), world, work, capsys)

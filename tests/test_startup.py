"""`masque --help` starts fast: the commands import nothing heavy until they run.

Speed itself is measured in benchmarks/startup.py; here only what is imported is checked. The
commands show a few library values in their help (registered names, config defaults) without
importing the library, so the last tests check those copies against the library.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "cv2", "dlib", "av", "numpy", "scipy", "matplotlib", "tqdm", "PIL", "c2pa", "safetensors", "ray")

_HELP_OF_EVERY_COMMAND = """
import contextlib, io, json, sys
from masque.cli import build_parser
parser = build_parser()
commands = [[]] + [[name] for name in parser._subparsers._group_actions[0].choices]
commands += [["faceset", a] for a in ("info", "list", "sort", "prune", "restore")] + [["model", "info"]]
for argv in commands:
    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):
        parser.parse_args([*argv, "--help"])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy})))
"""


def test_help_of_every_command_imports_nothing_heavy() -> None:
    code = _HELP_OF_EVERY_COMMAND.replace("{heavy}", repr(set(HEAVY)))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [], "move these imports into the commands' run()"


def _command(name: str) -> argparse.ArgumentParser:
    from masque.cli import build_parser

    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name]


def _defaults(command: str) -> dict[str, object]:
    return {a.dest: a.default for a in _command(command)._actions if a.default is not argparse.SUPPRESS}


def _choices(command: str, dest: str) -> list[str]:
    return sorted(next(a for a in _command(command)._actions if a.dest == dest).choices or [])


def test_registered_names_shown_by_the_parser_are_the_library_s() -> None:
    from masque.compose.blend import BLENDERS
    from masque.compose.color import COLOR_MATCHERS
    from masque.models import MODELS

    assert _choices("swap", "color") == COLOR_MATCHERS.names()
    assert _choices("swap", "blend") == BLENDERS.names()
    assert _choices("train", "model") == MODELS.names()
    from masque.train.recipes import RECIPES, Schedule

    assert _choices("train", "recipe") == RECIPES.names()
    assert _defaults("train")["warmup"] == Schedule().warmup
    from masque.train.trainer import TrainConfig

    assert _defaults("train")["balance"] == TrainConfig().balance
    assert _defaults("train")["background"] == TrainConfig().loss.background
    assert _choices("demo", "model") == MODELS.names()


@pytest.mark.parametrize("command", ["extract", "train", "convert", "swap", "animate", "evaluate", "demo"])
def test_option_defaults_are_the_library_s(command: str) -> None:
    from masque.animate import AnimateConfig
    from masque.convert.pipeline import ConvertConfig
    from masque.demo import DemoConfig
    from masque.face import TrackerConfig
    from masque.faceset.extract import ExtractConfig
    from masque.metrics import DEFAULT_EVERY
    from masque.oneshot import SwapConfig
    from masque.train.trainer import TrainConfig

    library: object = {
        "extract": ExtractConfig(workers=0), "train": TrainConfig(), "convert": ConvertConfig(),
        "swap": SwapConfig(), "demo": DemoConfig(), "animate": AnimateConfig(),
        "evaluate": argparse.Namespace(every=DEFAULT_EVERY),
    }[command]
    parser = _defaults(command)
    if command in ("swap", "animate"):  # swap's --redetect-every is TrackerConfig's (convert's is ConvertConfig's)
        assert parser["redetect_every"] == TrackerConfig().redetect_every
    skip = {"workers", "model", "output", "out", "redetect_every"}  # None on purpose, or not the same thing
    shared = {k for k in parser if hasattr(library, k) and k not in skip}
    assert shared, f"no option of {command} is a field of its config"
    differ = {k: (parser[k], getattr(library, k)) for k in shared if parser[k] != getattr(library, k)}
    assert not differ, f"masque {command}: parser default != library default: {differ}"


def test_animate_and_reenact_first_frames_is_the_library_s() -> None:
    from masque.animate.files import FIRST_FRAMES

    assert _defaults("animate")["first_frames"] == _defaults("reenact")["first_frames"] == FIRST_FRAMES


def test_detect_and_liveness_defaults_are_the_library_s() -> None:
    from masque.commands import detect
    from masque.forensics.detect import DetectConfig
    from masque.forensics.liveness import LivenessConfig
    from masque.forensics.train import DetectTrainConfig

    assert _defaults("detect")["every"] == DetectConfig().every
    assert _defaults("liveness")["max_frames"] == LivenessConfig().max_frames
    train = argparse.ArgumentParser()
    detect._add_train_options(train)
    defaults = {a.dest: a.default for a in train._actions}
    config = DetectTrainConfig()
    for name in ("steps", "batch", "width", "size", "seed", "minutes", "ema"):
        assert defaults[name] == getattr(config, name), name


def test_style_and_translate_defaults_are_the_library_s() -> None:
    from masque.commands import _known
    from masque.stylize.cyclegan import CycleConfig
    from masque.stylize.gatys import GatysConfig

    parser, library = _defaults("style"), GatysConfig()
    shared = ("steps", "scales", "optimizer", "content_weight", "style_weight", "face_weight", "content_layers",
              "style_layers")
    assert {k: parser[k] for k in shared} == {k: getattr(library, k) for k in shared}
    assert library.size == _known.STYLE_SIZE  # --size defaults to None: a style model keeps the input's size
    assert (CycleConfig().size, CycleConfig().steps) == (_known.TRANSLATE_SIZE, _known.TRANSLATE_STEPS)

"""The ``masque`` entry point stays cheap to import.

Extract's worker processes re-import the main module (the ``masque`` script, hence
``masque.cli``), as every spawn or fork-server child does; if that pulled in torch, each worker
would spend a second or more of every run importing what it never uses.
"""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["masque.cli", "masque.faceset.extract"])
def test_importing_does_not_load_torch(module: str) -> None:
    code = f"import sys, {module}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_the_parser_still_lists_every_command() -> None:
    from masque.cli import build_parser

    text = build_parser().format_help()
    for name in ("extract", "faceset", "train", "convert", "swap", "evaluate", "verify", "demo"):
        assert name in text


def test_ctrl_c_while_the_commands_load_is_an_interrupt(monkeypatch, capsys) -> None:
    from masque import cli

    def interrupted() -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)
    assert cli.main(["extract", "x", "-o", "y"]) == 130
    assert "masque: interrupted" in capsys.readouterr().err

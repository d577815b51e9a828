"""The labelling options every command that writes media shares.

Usage in a command module::

    def register(sub):
        p = sub.add_parser("convert", ...)
        add_label_arguments(p)

    def run(args):
        labeler = Labeler(label_config_from_args(args, kind="composite"))
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # masque.provenance loads OpenCV and PyAV: imported when labels are made, not for --help
    from masque.provenance import LabelConfig
    from masque.provenance.labeler import Kind

log = logging.getLogger("masque")

UNLABELLED_WARNING = (
    "--no-label: the output carries NO watermark and NO C2PA manifest; nothing in the file says "
    "it is synthetic. Label it yourself before you share it.")


def add_label_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--no-label``, ``--visible-label``, ``--sign-cert`` and ``--sign-key`` to ``parser``."""
    group = parser.add_argument_group(
        "labelling", "Outputs carry an invisible watermark and a signed C2PA manifest saying they are synthetic.")
    group.add_argument("--no-label", action="store_true",
                       help="write the output without watermark or manifest (warns: the output is unlabelled)")
    group.add_argument("--visible-label", action="store_true",
                       help='also draw a small "AI-generated" tag in the bottom-right corner')
    group.add_argument("--sign-cert", type=Path, metavar="PEM",
                       help="certificate chain (leaf first) to sign the manifest with, instead of "
                       "masque's local key")
    group.add_argument("--sign-key", type=Path, metavar="PEM", help="private key for --sign-cert")


def label_config_from_args(args: argparse.Namespace, kind: Kind) -> LabelConfig:
    """The :class:`LabelConfig` for parsed ``args``; logs the warning when labels are turned off.

    Args:
        args: parsed arguments of a parser given to :func:`add_label_arguments`.
        kind: ``"composite"`` (a swap on real footage) or ``"generated"`` (fully generated).
    """
    from masque.provenance import LabelConfig

    if args.no_label:
        log.warning(UNLABELLED_WARNING)
    return LabelConfig(enabled=not args.no_label, visible_label=args.visible_label, kind=kind,
                       sign_cert=args.sign_cert, sign_key=args.sign_key)

"""The ``masque`` command: a thin layer over the Python API.

Each subcommand lives in ``masque.commands.<name>`` and exposes ``register(subparsers)``, which
adds its parser and sets ``func`` to a ``run(args) -> int``. This module is the only place that
turns a :class:`~masque.errors.MasqueError` into a one-line message and an exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from masque import __version__
from masque.errors import MasqueError


def build_parser() -> argparse.ArgumentParser:
    # Imported here, not at the top: extract's worker processes re-import the main module (the
    # ``masque`` script, which imports this one), and the commands pull in torch and the rest of
    # masque, which would cost each worker a second and a half of start-up for nothing.
    from masque.commands import COMMANDS

    parser = argparse.ArgumentParser(
        prog="masque",
        description="Face swapping toolkit. Use it only with the consent of the people whose faces "
        "you use; every output is labelled as synthetic.",
    )
    parser.add_argument("--version", action="version", version=f"masque {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except MasqueError as exc:
        print(f"masque: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("masque: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `masque faceset list | head`: the reader left; not an error
        sys.stderr.close()
        return 0


def _run(argv: Sequence[str] | None) -> int:
    # building the parser imports every command (a second or so): Ctrl-C there is an interrupt too
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="masque: %(levelname)s: %(message)s", stream=sys.stderr)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())

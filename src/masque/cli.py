"""The ``masque`` command: a thin layer over the Python API.

Each subcommand lives in ``masque.commands.<name>`` and exposes ``register(subparsers)``, which
adds its parser and sets ``func`` to a ``run(args) -> int``. This module is the only place that
turns an error into a one-line message and an exit code:

- a :class:`~masque.errors.MasqueError` prints ``masque: error: <message>`` and exits with its
  ``exit_code`` (2: input that cannot be read or a bad value; 1: anything else);
- a command line argparse cannot parse is a :class:`~masque.errors.UsageError` (exit 2), printed
  the same way, never argparse's own usage block;
- an ``OSError`` the library did not translate (a folder that cannot be written, a full disk) is
  mapped by :func:`~masque.errors.from_os_error`;
- anything else is a bug: one line that names the crash file holding the traceback (exit 1).

Start-up is kept short: the command modules import only argparse, pathlib and masque's light
helpers at the top; torch, OpenCV, dlib, PyAV and the rest of masque load inside each ``run()``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from masque import __version__
from masque.errors import MasqueError, UsageError, from_os_error

log = logging.getLogger("masque")


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are :class:`UsageError` instead of usage text and exit 2.

    ``add_subparsers`` makes sub-parsers of the same class, so every command parses this way.
    """

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("masque").strip()  # "masque train" -> "train"
        raise UsageError(f"{command + ': ' if command else ''}{message}; see `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    # Imported here, not at the top: extract's worker processes re-import the main module (the
    # ``masque`` script, which imports this one) and need none of the commands. The command
    # modules are light (their heavy imports are inside run()), so building the parser is cheap.
    from masque.commands import COMMANDS

    parser = Parser(
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
        return _fail(exc)
    except KeyboardInterrupt:
        print("masque: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `masque faceset list | head`: the reader left; not an error
        sys.stderr.close()
        return 0
    except OSError as exc:  # one the library did not translate: still one line, never a traceback
        return _fail(from_os_error(exc))
    except Exception as exc:  # a bug in masque: one line, and the traceback kept in a file
        return _crash(exc)


def _run(argv: Sequence[str] | None) -> int:
    # Ctrl-C while the parser is built is an interrupt too (main catches it)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="masque: %(levelname)s: %(message)s", stream=sys.stderr)
    return int(args.func(args) or 0)


def _fail(exc: MasqueError) -> int:
    """Print ``exc`` as the one ``masque: error:`` line; its traceback only in debug logging."""
    message = " ".join(str(exc).split()) or type(exc).__name__  # one line, whatever the message holds
    log.debug("traceback of the error below", exc_info=exc)
    print(f"masque: error: {message}", file=sys.stderr)
    return exc.exit_code


def _crash(exc: Exception) -> int:
    """An unexpected exception: save its traceback to a crash file and print one line naming it."""
    import tempfile
    import time
    import traceback

    from masque.assets import cache_dir

    text = "".join(traceback.format_exception(exc))
    log.debug("traceback:\n%s", text)
    try:
        folder = cache_dir() / "crash"
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=folder, prefix=f"crash-{time.strftime('%Y%m%d-%H%M%S')}-",
                                         suffix=".log", delete=False) as f:
            f.write(f"masque {__version__}\nargv: {sys.argv}\n\n{text}")
        where = f"the traceback is in {f.name}"
    except OSError:
        where = "run it again with -v to see the traceback"
    message = " ".join(f"{type(exc).__name__}: {exc}".split())
    print(f"masque: error: internal error ({message}); this is a bug in masque, please report it; {where}",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

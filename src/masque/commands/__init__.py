"""CLI subcommands, one module each; listed explicitly so the order of ``masque --help`` is fixed.

To add a command: write ``masque/commands/<name>.py`` with ``register(subparsers)`` and add one
import and one entry below.
"""

from types import ModuleType

from masque.commands import (
    animate,
    convert,
    demo,
    detect,
    evaluate,
    extract,
    faceset,
    liveness,
    model,
    reenact,
    style,
    swap,
    train,
    translate,
    ui,
    verify,
)

COMMANDS: list[ModuleType] = [extract, faceset, train, model, convert, swap, animate, reenact, style, translate,
                              evaluate, verify, detect, liveness, demo, ui]

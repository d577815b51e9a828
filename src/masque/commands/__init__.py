"""CLI subcommands, one module each; listed explicitly so the order of ``masque --help`` is fixed.

To add a command: write ``masque/commands/<name>.py`` with ``register(subparsers)`` and add one
import and one entry below.
"""

from types import ModuleType

from masque.commands import convert, demo, evaluate, extract, faceset, model, style, swap, train, translate, verify

COMMANDS: list[ModuleType] = [extract, faceset, train, model, convert, swap, style, translate, evaluate, verify, demo]

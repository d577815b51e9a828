"""The package layers hold: no module imports a package above its own, or a sibling on its floor.

The floors, bottom up, are :data:`LAYERS` (the README's Layout section shows the same list). An
import of a lower floor is allowed; an import within one's own package is allowed; anything else
(upward, or sideways to another package on the same floor) fails here, with the file, the line
and what to do. Imports inside functions count too: they are the same dependency, only later.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "masque"

#: floors, bottom up; each entry is a top-level module or package of ``masque``
LAYERS: list[set[str]] = [
    {"__init__", "errors", "cpu"},
    {"registry", "atomic"},
    {"media", "assets"},
    {"face", "provenance", "models"},
    {"faceset"},
    {"train"},
    {"compose"},
    {"convert", "oneshot", "animate", "forensics", "stylize"},
    {"metrics"},
    {"demo", "ui", "cluster"},
    {"commands"},
    {"cli"},
    {"__main__"},
]
FLOOR = {name: i for i, names in enumerate(LAYERS) for name in names}


def _unit(module: str) -> str:
    """``masque.face.detect`` -> ``face``; ``masque`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every ``masque`` import in ``path``, at any depth."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "masque"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "masque":  # ``from masque import assets, __version__``
                found += [(node.lineno, f"masque.{a.name}" if _is_module(a.name) else "masque") for a in node.names]
            elif node.module.startswith("masque."):
                found.append((node.lineno, node.module))
    return found


def _is_module(name: str) -> bool:
    return (SRC / f"{name}.py").is_file() or (SRC / name / "__init__.py").is_file()


def _modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def _own(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def test_every_module_has_a_floor() -> None:
    units = {_own(p) for p in _modules()}
    missing = sorted(u for u in units if u not in FLOOR)
    assert not missing, f"add {missing} to LAYERS in {__file__} and to the README's Layout section"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_import_runs_up_or_sideways(path: Path) -> None:
    own = _own(path)
    bad = []
    for line, module in _imports(path):
        target = _unit(module)
        if target == own:
            continue
        if FLOOR[target] >= FLOOR[own]:
            bad.append(f"{path.relative_to(SRC.parent)}:{line} imports {module} ({target}, floor "
                       f"{FLOOR.get(target)}) from {own} (floor {FLOOR[own]})")
    assert not bad, "imports that run up or sideways; move the shared code down a floor:\n" + "\n".join(bad)


def test_the_checker_sees_function_level_and_from_imports(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("from masque import assets\nimport masque.face.align\n"
                      "from masque import __version__\ndef f():\n    from masque.train.checkpoint import load_model\n")
    assert _imports(sample) == [(1, "masque.assets"), (2, "masque.face.align"), (3, "masque"),
                                (5, "masque.train.checkpoint")]

"""The package's modules import one another without a cycle.

Every import counts, wherever it is written: at module level, inside a function, under
``if TYPE_CHECKING:``. A function-level import only hides a cycle from the interpreter; the
modules still depend on each other, and the layering (``model`` below ``translators`` below
``backends`` below the command line) is what keeps each one readable on its own. Each import
is resolved to the package module it names (``from ..model.graph import X`` -> ``model.graph``,
``from . import pins`` inside ``translators`` -> ``translators.pins``, ``from .translators
import render`` -> ``translators``, its ``__init__``); importing a submodule adds no edge to the
packages above it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping, Set
from pathlib import Path

import codomyrmex.ci_cd_automation as package

ROOT = Path(package.__file__).parent
PACKAGE = package.__name__


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package by its name relative to it (``""`` for the package)."""
    out: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: Set[str]) -> set[str]:
    """The package modules that module ``name`` (at ``path``) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    here = name.split(".") if name else []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _relative(alias.name)
                if target is not None and target in known:
                    found.add(target)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here if is_package else here[:-1]
                if node.level > 1:
                    base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            else:
                relative = _relative(node.module or "")
                if relative is None:
                    continue
                target = relative
            for alias in node.names:
                submodule = f"{target}.{alias.name}" if target else alias.name
                if submodule in known:
                    found.add(submodule)
                elif target in known:
                    found.add(target)
    found.discard(name)
    return found


def _relative(dotted: str) -> str | None:
    """``codomyrmex.ci_cd_automation.model.graph`` -> ``model.graph``; None for other packages."""
    if dotted == PACKAGE:
        return ""
    if dotted.startswith(PACKAGE + "."):
        return dotted[len(PACKAGE) + 1 :]
    return None


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    known = modules(root)
    return {name: imports_of(name, path, set(known)) for name, path in known.items()}


def find_cycle(graph: Mapping[str, Set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or None when it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle is not None:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle is not None:
                return cycle
    return None


def _show(cycle: list[str]) -> str:
    return " -> ".join(name or "(package __init__)" for name in cycle)


def test_the_package_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, f"import cycle: {_show(cycle)}"


def test_a_cycle_is_found_and_named() -> None:
    graph = {"cli": {"commands.runs"}, "commands.runs": {"model"}, "model": {"cli"}, "x": set()}
    cycle = find_cycle(graph)
    assert cycle is not None
    assert _show(cycle) == "cli -> commands.runs -> model -> cli"
    assert find_cycle({"": {"cli"}, "cli": {""}}) == ["", "cli", ""]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def _write(root: Path, files: Mapping[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_every_kind_of_import_is_an_edge(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "__init__.py": "from .translators import render\n",
            "cli.py": (
                "from typing import TYPE_CHECKING\n"
                "if TYPE_CHECKING:\n"
                "    from .store import Store\n"
                "def main():\n"
                "    from .commands import runs\n"
                f"    import {PACKAGE}.errors\n"
            ),
            "commands/__init__.py": "",
            "commands/runs.py": "from ..model.graph import plan\nfrom .. import errors\n",
            "errors.py": "",
            "store.py": f"from {PACKAGE}.model import graph\n",
            "model/__init__.py": "",
            "model/graph.py": "import json\nfrom . import messages\n",
            "model/messages.py": "",
            "translators/__init__.py": "from . import pins\nfrom .pins import PIN\n",
            "translators/pins.py": "",
        },
    )
    assert import_graph(tmp_path) == {
        "": {"translators"},
        "cli": {"store", "commands.runs", "errors"},
        "commands": set(),
        "commands.runs": {"model.graph", "errors"},
        "errors": set(),
        "store": {"model.graph"},
        "model": set(),
        "model.graph": {"model.messages"},
        "model.messages": set(),
        "translators": {"translators.pins"},
        "translators.pins": set(),
    }


def test_a_cycle_through_a_function_level_import_is_caught(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "__init__.py": "",
            "cli.py": "from .backends.commands import run\ndef key_values(): ...\n",
            "backends/__init__.py": "",
            "backends/commands.py": "def run():\n    from ..cli import key_values\n",
        },
    )
    assert find_cycle(import_graph(tmp_path)) == ["backends.commands", "cli", "backends.commands"]


def _edges(graph: Mapping[str, Set[str]]) -> Iterator[tuple[str, str]]:
    for source, targets in graph.items():
        for target in targets:
            yield source, target


def test_the_model_does_not_import_translators_backends_or_the_runner() -> None:
    upward = [
        (source, target)
        for source, target in _edges(import_graph())
        if source.startswith("model")
        and target.split(".")[0] in ("translators", "backends", "local_runner", "cli", "commands")
    ]
    assert upward == []

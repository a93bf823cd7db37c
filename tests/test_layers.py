"""The import graph: each package imports only what its docstring's "Imports:" line names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("benchmark", "architectures")  # the top-level packages; the rest is third-party
# Spawn targets: a process, not an import (tuning.search starts tuning.worker, which runs
# search's trials).
SPAWNED = {
    ("benchmark.tuning.worker", "benchmark.tuning.search"),
    ("benchmark.tuning.search", "benchmark.tuning.worker"),
}


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the project's packages by dotted name; a package by its own name."""
    found = {}
    for package in PROJECT:
        for path in (root / package).rglob("*.py"):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports anywhere in its body (function-level ones too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            subs = {f"{node.module}.{alias.name}" for alias in node.names}
            # `from package import submodule` needs the submodule, not the package's re-exports
            found |= subs & known.keys() if subs <= known.keys() else {node.module} | subs
    return {target for target in found if target in known and target != name}


def layer(name: str) -> str:
    """The layer a module belongs to: `benchmark.<first part>`, or its top-level package."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "benchmark" else parts[0]


def declared(path: Path) -> list[str] | None:
    """The names on the "Imports:" line of a package's docstring ([] for "none"), or None."""
    docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
    lines = [p for p in docstring.split("\n\n") if p.startswith("Imports:")]
    if len(lines) != 1:
        return None
    names = " ".join(lines[0].removeprefix("Imports:").split()).removesuffix(".")
    return [] if names == "none" else [name.strip() for name in names.split(",")]


def packages(known: dict[str, Path]) -> dict[str, Path]:
    """The packages that declare their imports: all but `benchmark` itself."""
    return {
        name: path
        for name, path in known.items()
        if path.name == "__init__.py" and name != "benchmark"
    }


def rules(known: dict[str, Path]) -> tuple[dict[str, set[str]], list[str]]:
    """Each package's allowed layers, from its docstring, and what is wrong with the lines."""
    allowed, wrong = {}, []
    for package, path in packages(known).items():
        names = declared(path)
        if names is None:
            wrong.append(f"{package}: its docstring has no one 'Imports: a, b.' paragraph")
            continue
        resolved = set()
        for name in names:
            full = name if name in PROJECT else f"benchmark.{name}"
            if full not in known or full.count(".") > 1:
                wrong.append(f"{package}: 'Imports:' names {name!r}, which is no layer")
            else:
                resolved.add(full)
        allowed[package] = resolved
    return allowed, wrong


def governing(name: str, allowed: dict[str, set[str]]) -> str | None:
    """The innermost package with an "Imports:" line that holds module `name`, if any."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in allowed:
            return ".".join(parts[:end])
    return None


def inside(name: str, package: str) -> bool:
    """Whether module `name` is `package` or one of its modules."""
    return name == package or name.startswith(f"{package}.")


def violations(root: Path = ROOT) -> list[str]:
    """Imports a package's docstring does not name, names it imports not, malformed lines."""
    known = modules(root)
    allowed, wrong = rules(known)
    used: dict[str, set[str]] = {package: set() for package in allowed}
    for name, path in sorted(known.items()):
        package = governing(name, allowed)
        if package is None:
            continue  # a top-level module of benchmark/: benchmark/__init__.py orders them
        for target in sorted(imports(name, path, known)):
            if inside(target, package) or target == "benchmark":
                continue
            used[package].add(layer(target))
            if layer(target) not in allowed[package]:
                wrong.append(f"{name} imports {target}: {package}'s 'Imports:' lacks it")
    for package, names in allowed.items():
        wrong += [
            f"{package}: 'Imports:' names {name.removeprefix('benchmark.')}, which it never imports"
            for name in sorted(names - used[package])
        ]
    return sorted(wrong)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The cycles a depth-first walk of `graph` meets, each as the path that closes it."""
    found = []
    state: dict[str, int] = {}  # 1 on the path being walked, 2 done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                found.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    return found


def test_every_package_imports_only_what_its_docstring_allows() -> None:
    assert violations() == []


def test_the_layers_docstrings_allow_form_no_cycle() -> None:
    allowed, _ = rules(modules())
    graph = {package: {layer(target) for target in targets} for package, targets in allowed.items()}
    assert cycles(graph) == []


def test_a_wrong_import_or_docstring_is_found(tmp_path: Path) -> None:
    """The check reads the docstrings: an import not named, a name not imported, are found."""
    for folder, text in {
        "architectures": '"""Models.\n\nImports: none.\n"""\n',
        "benchmark": '"""Root."""\n',
        "benchmark/data": '"""Data.\n\nImports: errors, runtime, plots.\n"""\n',
        "benchmark/training": '"""Training.\n\nImports: data,\narchitectures.\n"""\n',
        "benchmark/report": '"""No line."""\n',
    }.items():
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "__init__.py").write_text(text)
    (tmp_path / "benchmark/errors.py").write_text("import os\n")
    (tmp_path / "benchmark/runtime.py").write_text("")
    (tmp_path / "benchmark/data/load.py").write_text("from benchmark.errors import X\n")
    (tmp_path / "benchmark/training/fit.py").write_text(
        "import numpy\nimport architectures\nfrom benchmark.data import load\n"
        "def late():\n    from benchmark.report import page\n"
    )
    (tmp_path / "benchmark/report/page.py").write_text("")
    assert violations(tmp_path) == [
        "benchmark.data: 'Imports:' names 'plots', which is no layer",
        "benchmark.data: 'Imports:' names runtime, which it never imports",
        "benchmark.report: its docstring has no one 'Imports: a, b.' paragraph",
        "benchmark.training.fit imports benchmark.report.page: benchmark.training's 'Imports:' "
        "lacks it",
    ]


def test_no_import_cycle_but_the_spawn_targets() -> None:
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    for source, target in SPAWNED:
        graph.get(source, set()).discard(target)
    assert cycles(graph) == []

"""The import graph of `benchmark/`: layers import only downwards, no cycle but spawn targets."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "benchmark"
# Each layer and the layers it may import (benchmark/__init__.py says the same in words).
BASE = {"benchmark.settings", "benchmark.errors", "benchmark.logs", "benchmark.runtime"}
BASE |= {"benchmark.redaction"}
ALLOWED = {
    "benchmark.data": BASE,
    "benchmark.training": BASE | {"benchmark.data"},
    "benchmark.tracking": BASE | {"benchmark.data", "benchmark.training"},
    "benchmark.figures": BASE | {"benchmark.data", "benchmark.training", "benchmark.results"},
    "benchmark.results": BASE | {"benchmark.tracking"},
    "benchmark.tuning": BASE
    | {"benchmark.data", "benchmark.training", "benchmark.tracking", "benchmark.figures"},
    "benchmark.report": BASE
    | {"benchmark.data", "benchmark.tracking", "benchmark.results", "benchmark.figures"},
    "benchmark.serving": BASE | {"benchmark.data", "benchmark.tracking"},
}
SPAWN_TARGET = {"benchmark.tuning.worker", "benchmark.tuning.search"}  # a process, not an import


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
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
    return ".".join(name.split(".")[:2])


def test_every_layer_imports_only_the_layers_below_it() -> None:
    known = modules()
    wrong = [
        f"{name} imports {target}"
        for name, path in known.items()
        if layer(name) in ALLOWED
        for target in imports(name, path, known)
        if layer(target) != layer(name)
        and layer(target) not in ALLOWED[layer(name)]
        and target != "benchmark"
    ]
    assert wrong == []


def test_no_import_cycle_but_the_worker_spawn_targets() -> None:
    known = modules()
    graph = {name: imports(name, path, known) for name, path in known.items()}
    graph["benchmark.tuning.worker"] -= SPAWN_TARGET
    graph["benchmark.tuning.search"] -= SPAWN_TARGET
    # parallel.work runs in a spawned `run --jobs` worker, where it imports the suite it serves.
    graph["benchmark.parallel"] -= {"benchmark.suite"}
    cycles = []
    state: dict[str, int] = {}  # 1 on the path being walked, 2 done

    def walk(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                walk(target, [*path, target])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [name])
    assert cycles == []

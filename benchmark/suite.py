"""Train a set of architectures on the same splits, tracked, skipping finished work."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import architectures
from benchmark import tracking
from benchmark.data.splits import Splits, load_splits
from benchmark.errors import BenchmarkError
from benchmark.results import champion, leaderboard, runs
from benchmark.results import significance as comparison
from benchmark.settings import DEFAULT_EXPERIMENT, DEFAULT_STORAGE
from benchmark.training.progress import EpochProgress, duration
from benchmark.training.runner import train_and_evaluate

SPLIT_SEED = 0  # the validation split is the same for every run, whatever --seed says
TARGET_ACCURACY = 0.99  # validation accuracy whose first epoch time_to_target reports


@dataclass
class RunSettings:
    """What `python -m benchmark run` was asked to do."""

    archs: list[str]
    epochs: int | None = None  # None: each architecture's DEFAULTS["epochs"]
    batch_size: int | None = None
    seeds: list[int] = field(default_factory=lambda: [0])  # weights and shuffling seeds
    subset: int | None = None
    validation_fraction: float = 0.1
    early_stopping: bool | None = None  # None: on, unless --epochs fixes the epoch count
    experiment: str = DEFAULT_EXPERIMENT
    tracking_uri: str | None = None
    force: bool = False
    output_dir: Path = field(default_factory=Path.cwd)
    params: str = "default"  # "best": each architecture's best trial in its Optuna study
    storage: str = DEFAULT_STORAGE
    study_name: str | None = None  # None: the default study of each architecture
    ensemble_k: int | None = None  # add a top-k-by-validation ensemble row to the board

    def validate(self) -> None:
        """Refuse bad input before any data is loaded or any model trained."""
        for name in self.archs:
            try:
                architectures.get(name)
            except KeyError as error:  # its message already lists the valid names
                raise BenchmarkError(error.args[0]) from None
        for flag, value in (
            ("--epochs", self.epochs),
            ("--batch-size", self.batch_size),
            ("--subset", self.subset),
            ("--ensemble-k", self.ensemble_k),
        ):
            if value is not None and value <= 0:
                raise BenchmarkError(f"{flag} must be a positive whole number, got {value}")
        if not self.archs:
            raise BenchmarkError("name at least one architecture with --arch, or use --all")
        if self.params not in ("default", "best"):
            raise BenchmarkError(f"--params must be default or best, got {self.params!r}")
        if self.study_name and len(self.archs) > 1:
            raise BenchmarkError("--study-name names one study; use it with one --arch")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise BenchmarkError(f"seeds must be distinct and at least one, got {self.seeds}")
        if min(self.seeds) < 0:
            raise BenchmarkError(f"seeds must be 0 or more, got {min(self.seeds)}")

    @property
    def uses_early_stopping(self) -> bool:
        """Early stopping unless asked otherwise or a fixed --epochs reproduces a protocol."""
        return self.early_stopping if self.early_stopping is not None else self.epochs is None

    def overrides(self) -> dict[str, Any]:
        """Hyperparameters the command line sets for every architecture."""
        chosen = {"epochs": self.epochs, "batch_size": self.batch_size}
        return {key: value for key, value in chosen.items() if value is not None}


def run_suite(settings: RunSettings, say: Callable[[str], None] = print) -> pd.DataFrame:
    """Train every requested architecture and seed not yet finished; return the board."""
    settings.validate()
    tuned = _tuned_params(settings, say)
    uri = tracking.resolve_tracking_uri(settings.tracking_uri)
    experiment_id = tracking.connect(uri, settings.experiment)
    for name in tracking.close_orphaned_runs(experiment_id):
        say(f"marked run {name} as KILLED: its process ended without closing it")
    splits = load_splits(settings.validation_fraction, SPLIT_SEED, settings.subset, log=say)
    say(
        f"data: {splits.dataset} {splits.digest}  "
        + "  ".join(f"{key} {value:,}" for key, value in splits.sizes.items())
    )

    members: list[str] = []
    started = time.perf_counter()
    # Seed by seed: an interrupted invocation still leaves every architecture's first seeds.
    jobs = [(seed, name) for seed in settings.seeds for name in settings.archs]
    with tracking.comparison_run(experiment_id, "comparison", _settings_params(settings)):
        for index, (seed, name) in enumerate(jobs, start=1):
            seed_label = f" seed {seed}" if len(settings.seeds) > 1 else ""
            label = f"[{name}{seed_label} {index}/{len(jobs)}]"
            members.append(
                _run_one(name, seed, label, settings, splits, experiment_id, say, tuned.get(name))
            )
        per_run = runs.read_runs(experiment_id, members)
        board = leaderboard.from_runs(per_run, settings.ensemble_k)
        tracking.log_comparison(
            board.to_csv(index=False),
            leaderboard.to_markdown(board),
            runs.mean_per_epoch(runs.validation_curves(per_run)),
            settings.output_dir,
            comparison.ensemble_metrics(board),
        )
    say(champion.crown(experiment_id))
    say(
        f"done in {duration(time.perf_counter() - started)}; leaderboard written to "
        f"{settings.output_dir / 'leaderboard.csv'} and leaderboard.md"
    )
    return board


def _run_one(
    name: str,
    seed: int,
    label: str,
    settings: RunSettings,
    splits: Splits,
    experiment_id: str,
    say: Callable[[str], None],
    tuned: tuple[dict[str, Any], dict[str, str]] | None = None,
) -> str:
    """Train and track one architecture and seed, or reuse its finished run; return the run id."""
    arch = architectures.get(name)
    best, tags = tuned or ({}, {"variant": "default"})
    params = arch.params({**best, **settings.overrides()})
    extra = {
        "early_stopping": settings.uses_early_stopping,
        "validation_fraction": settings.validation_fraction,
        "subset": settings.subset or 0,
        "split_seed": SPLIT_SEED,
        "params_source": settings.params,  # a tuned run is its own row, even at the defaults
    }
    config = tracking.config_hash(name, params, seed, splits, **extra)
    finished = tracking.find_finished_run(experiment_id, config)
    if finished and not settings.force:
        say(
            f"{label} skipped: finished run {finished} has the same configuration "
            "(--force re-runs it)"
        )
        return finished
    say(
        f"{label} training up to {params['epochs']} epochs, batch {params['batch_size']}, "
        f"early stopping {'on' if settings.uses_early_stopping else 'off'}"
    )
    with tracking.training_run(
        experiment_id, name, params, seed, splits, config, extra, tags, tags["variant"]
    ) as run_id:
        result = train_and_evaluate(
            arch,
            params,
            splits,
            seed=seed,
            early_stopping=settings.uses_early_stopping,
            callbacks=[tracking.EpochLogger(), EpochProgress(label, params["epochs"], say)],
            target_accuracy=TARGET_ACCURACY,
        )
        tracking.log_result(result, log=say)
    say(
        f"{label} test accuracy {result.test_metrics['test_accuracy']:.4f} after "
        f"{result.epochs_run} epochs in {duration(result.train_seconds)}"
    )
    return run_id


def _tuned_params(
    settings: RunSettings, say: Callable[[str], None]
) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """With --params best: each architecture's best trial params and the tags naming it."""
    if settings.params != "best":
        return {}
    from benchmark.tuning import studies

    found = {}
    for name in settings.archs:
        study = settings.study_name or studies.default_study_name(name)
        params, number, value = studies.best_params(settings.storage, study, name)
        say(f"{name}: best trial {number} of study {study} (val_accuracy {value:.4f}): {params}")
        tags = {
            "variant": "tuned",
            "study_name": study,
            "study_trial": str(number),
            "study_storage": studies.redact(settings.storage),
        }
        found[name] = (params, tags)
    return found


def _settings_params(settings: RunSettings) -> dict[str, Any]:
    return {
        "archs": ",".join(settings.archs),
        "epochs": settings.epochs,
        "batch_size": settings.batch_size,
        "seeds": ",".join(str(seed) for seed in settings.seeds),
        "subset": settings.subset,
        "early_stopping": settings.uses_early_stopping,
        "force": settings.force,
        "params": settings.params,
        "ensemble_k": settings.ensemble_k,
    }

"""The settings of each command: what `run`, `tune`, `leaderboard`, `report`, `predict` do."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from architectures import PRESETS
from benchmark.errors import BenchmarkError
from benchmark.settings.data import (
    DataSettings,
    dataset_kind,
    dataset_name,
    registered_model,
)
from benchmark.settings.defaults import (
    AUTO_JOBS_IMAGES,
    CHAMPION_ALIAS,
    CHAMPION_URI,
    DEFAULT_DATASET,
    MAX_FAILURES,
    MAX_RETRIES,
    OBJECTIVES,
    PRUNERS,
    RANKINGS,
    SAMPLERS,
    SEED_MAX,
    SUBSET_MAX,
    SUBSET_MIN,
    TRIALS,
    VALIDATION_FRACTION,
)
from benchmark.settings.fields import (
    Settings,
    accuracy_target,
    check_architectures,
    cli,
    decimal_number,
    ensemble_k_field,
    heartbeat_field,
    non_negative,
    one_option,
    option,
    positive,
    positive_or_auto,
    precision_field,
    seed_count,
    seed_number,
    storage_field,
    study_name_field,
    subset_size,
    tracking_uri_field,
    whole_number_or_auto,
)
from benchmark.settings.stores import tracking_uri


def default_study_name(arch: str, dataset: str = "mnist") -> str:
    """`mnist-dropout`: one study per dataset and architecture unless named otherwise."""
    return f"{dataset}-{arch}"


TRIAL_PARAMS = "trial:"  # run --params trial:N: trial N of the architecture's study


def params_trial(params: str) -> int | None:
    """N of `--params trial:N`, None for any other --params; ValueError if N is no number."""
    if not params.startswith(TRIAL_PARAMS):
        return None
    number = params.removeprefix(TRIAL_PARAMS)
    if not number.isdigit():
        raise ValueError(f"trial:N takes a trial number (0 or more), got {params!r}")
    return int(number)


def _check_params(params: str, archs: list[str]) -> None:
    """--params is default, best, trial:N (with one architecture) or a preset's name."""
    try:
        trial = params_trial(params)
    except ValueError as error:
        raise BenchmarkError(f"argument --params: {error}") from None
    if trial is None and params not in ("default", "best", *PRESETS):
        raise BenchmarkError(
            f"argument --params: invalid choice: {params!r} (choose from default, best, "
            f"trial:N, {', '.join(PRESETS)})"
        )
    if trial is not None and len(archs) > 1:
        raise BenchmarkError(
            f"--params {params} names a trial of one study; use it with one --arch"
        )


def _read_objectives(namespace: Any) -> list[str]:
    return [name.strip() for name in namespace.objective.split(",")]


def check_objectives(objectives: list[str]) -> None:
    """Known metrics, none twice, accuracy among them; else one line listing the valid ones."""
    valid = ", ".join(OBJECTIVES)
    unknown = [name for name in objectives if name not in OBJECTIVES]
    if unknown:
        raise BenchmarkError(
            f"argument --objective: unknown metric {unknown[0]!r} (valid: {valid}; "
            "comma-separated, e.g. accuracy,latency)"
        )
    repeated = sorted({name for name in objectives if objectives.count(name) > 1})
    if repeated:
        raise BenchmarkError(
            f"argument --objective: {repeated[0]} is named twice (valid: {valid}, each once)"
        )
    if "accuracy" not in objectives:
        raise BenchmarkError(
            "argument --objective: accuracy must be one of the objectives, or the search "
            f"would favour models that learn nothing (valid: {valid})"
        )


def _read_archs(namespace: Any) -> list[str]:
    import architectures

    return architectures.known() if namespace.all else namespace.arch


def _read_seeds(namespace: Any) -> list[int]:
    return list(range(namespace.seeds)) if namespace.seeds else [namespace.seed]


@dataclass
class RunSettings(DataSettings):
    """What `python -m benchmark run` was asked to do."""

    archs: list[str] = field(
        metadata=cli(
            option("--all", action="store_true", group="which", required=True,
                   help="every registered architecture"),
            option("--arch", nargs="+", metavar="NAME", group="which", required=True,
                   help="these architectures"),
            read=_read_archs,
            logged=True,
        )
    )  # fmt: skip
    epochs: int | None = one_option(  # None: each architecture's DEFAULTS["epochs"]
        None,
        "--epochs",
        logged=True,
        rule=positive,
        help="train exactly this many epochs (turns early stopping off)",
    )
    batch_size: int | None = one_option(None, "--batch-size", logged=True, rule=positive)
    seeds: list[int] = field(  # weights and shuffling seeds
        default_factory=lambda: [0],
        metadata=cli(
            option("--seed", rule=seed_number, group="seeds", default=0,
                   help="one weights and shuffling seed (default 0)"),
            option("--seeds", rule=seed_count, group="seeds", metavar="K",
                   help="train every architecture with seeds 0..K-1, each its own run"),
            read=_read_seeds,
            logged=True,
        ),
    )  # fmt: skip
    subset: int | None = one_option(
        None,
        "--subset",
        logged=True,
        rule=subset_size,
        help=f"train on a stratified subset of N images, {SUBSET_MIN} to "
        f"{SUBSET_MAX} (smoke runs; at most what validation leaves of the data)",
    )
    early_stopping: bool | None = field(  # None: on, unless --epochs fixes the epoch count
        default=None,
        metadata=cli(
            option("--early-stopping", group="stopping", action="store_true",
                   dest="early_stopping", help="stop when val_loss stops improving"),
            option("--no-early-stopping", group="stopping", action="store_false",
                   dest="early_stopping"),
            logged=True,
        ),
    )  # fmt: skip
    target_accuracy: float | None = one_option(  # None: train the epoch budget, no target
        None,
        "--target-accuracy",
        logged=True,
        rule=accuracy_target,
        parse=decimal_number,
        metavar="A",
        help="train each run until its validation accuracy first reaches A (0 < A "
        "<= 1, checked after every epoch, at most its epochs; early stopping off) "
        "and log the time, epochs and training FLOPs it took",
    )
    params: str = one_option(  # "best", "trial:N" (a trial of its study) or a named preset
        "default",
        "--params",
        logged=True,
        metavar="|".join(("default", "best", TRIAL_PARAMS + "N", *PRESETS)),
        help="hyperparameters: each architecture's defaults, the best trial of "
        "its Optuna study (see tune; marked tuned in the leaderboard; by accuracy "
        "in a multi-objective study), trial:N for trial N of the study (one --arch; "
        "e.g. a Pareto trial tune printed, with its --study-name; variant trial-N), "
        "or a named protocol: notebook (basic only) is the Keras notebook's Adam "
        "1e-3, constant, 20 epochs, no early stopping; wide (augmented only) is 48/96 "
        "channels over 12 epochs",
    )
    storage: str = storage_field()
    study_name: str | None = study_name_field()  # None: the default study of each architecture
    force: bool = one_option(
        False, "--force", logged=True, action="store_true", help="re-run finished configurations"
    )
    output_dir: Path = one_option(
        Path("."), "--output-dir", type=Path, help="where leaderboard.csv and leaderboard.md go"
    )
    precision: str = precision_field()
    jobs: int | None = one_option(  # None: auto, decided by plan.worker_count
        None,
        "--jobs",
        logged=True,
        rule=positive_or_auto,
        parse=whole_number_or_auto,
        metavar="N|auto",
        help="train N configurations at a time, each in its own worker process "
        "with cores/N TensorFlow threads; 1: one at a time, every core. Default "
        "auto: 2 on a machine of 2+ cores when the trainings read at least "
        f"{AUTO_JOBS_IMAGES:,} images (epochs x training images), else 1. "
        "The comparison run logs the number used; the runs' `threads` tag and "
        "machine say how they were timed",
    )
    max_retries: int = one_option(
        MAX_RETRIES,
        "--max-retries",
        logged=True,
        rule=non_negative,
        metavar="K",
        help="queue a cell that raises again at most K times, then record it as "
        f"failed with its reason (default {MAX_RETRIES})",
    )
    heartbeat_seconds: int = heartbeat_field("a cell")
    ensemble_k: int | None = ensemble_k_field(logged=True)
    validation_fraction: float = VALIDATION_FRACTION

    def check(self) -> None:
        """Checks across fields, then the architecture names."""
        if not self.archs:
            raise BenchmarkError("name at least one architecture with --arch, or use --all")
        if self.study_name and len(self.archs) > 1:
            raise BenchmarkError("--study-name names one study; use it with one --arch")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise BenchmarkError(f"seeds must be distinct and at least one, got {self.seeds}")
        if min(self.seeds) < 0 or max(self.seeds) > SEED_MAX:
            raise BenchmarkError(f"seeds must be 0 to {SEED_MAX} (2^32 - 1), got {self.seeds}")
        if self.target_accuracy is not None and self.early_stopping:
            raise BenchmarkError(
                "--target-accuracy stops each run at the target, not on val_loss; "
                "drop --early-stopping"
            )
        check_architectures(self.archs)
        _check_params(self.params, self.archs)
        if self.params in PRESETS:
            owners = PRESETS[self.params]
            lacking = [name for name in self.archs if name not in owners]
            if lacking:
                raise BenchmarkError(
                    f"--params {self.params} is a protocol of {', '.join(owners)} only, not of "
                    f"{', '.join(lacking)}; use it with --arch {owners[0]}"
                )
        super().check()

    @property
    def uses_early_stopping(self) -> bool:
        """Early stopping unless turned off, fixed by --epochs or a preset, or a target."""
        if self.target_accuracy is not None:
            return False
        if self.early_stopping is not None:
            return self.early_stopping
        return self.epochs is None and self.params not in PRESETS

    def overrides(self) -> dict[str, Any]:
        """Hyperparameters the command line sets for every architecture."""
        chosen = {"epochs": self.epochs, "batch_size": self.batch_size}
        return {key: value for key, value in chosen.items() if value is not None}

    def logged_params(self) -> dict[str, Any]:
        """The comparison run's params; early_stopping as resolved."""
        return {**super().logged_params(), "early_stopping": self.uses_early_stopping}


@dataclass
class TuneSettings(DataSettings):
    """What `python -m benchmark tune` was asked to do."""

    arch: str = field(
        metadata=cli(
            option("--arch", required=True, metavar="NAME", help="the architecture to tune"),
            logged=True,
        )
    )
    trials: int = one_option(
        TRIALS,
        "--trials",
        logged=True,
        rule=positive,
        help="finished (complete or pruned) trials the study should reach; running "
        f"again after an interruption finishes only the remainder (default {TRIALS})",
    )
    timeout: float | None = one_option(  # seconds after which no new trial starts
        None,
        "--timeout",
        logged=True,
        rule=positive,
        help="start no new trial after this many seconds",
    )
    storage: str = storage_field()
    study_name: str | None = study_name_field()
    pruner: str = one_option("median", "--pruner", logged=True, choices=PRUNERS)
    sampler: str = one_option("tpe", "--sampler", logged=True, choices=SAMPLERS)
    objectives: list[str] = field(  # accuracy alone, or with costs: a multi-objective study
        default_factory=lambda: ["accuracy"],
        metadata=cli(
            option("--objective", metavar="METRIC[,METRIC]", default="accuracy",
                   help="what the study optimises: accuracy (best validation accuracy, "
                   "maximised; the default), or accuracy with costs to minimise, e.g. "
                   f"accuracy,latency: a multi-objective study with a Pareto front, not pruned "
                   f"(metrics: {', '.join(OBJECTIVES)}; default study name "
                   "<dataset>-<arch>-<metrics>)"),
            read=_read_objectives,
            logged=True,
        ),
    )  # fmt: skip
    workers: int = one_option(
        1, "--workers", logged=True, rule=positive, help="parallel worker processes here"
    )
    epochs: int | None = one_option(
        None,
        "--epochs",
        logged=True,
        rule=positive,
        help="most epochs per trial (default: the architecture's)",
    )
    subset: int | None = one_option(
        None,
        "--subset",
        logged=True,
        rule=subset_size,
        help=f"tune on a stratified subset, {SUBSET_MIN} to {SUBSET_MAX} images "
        "(at most the data's)",
    )
    seed: int = one_option(
        0, "--seed", logged=True, rule=seed_number, help="sampler and weights seed"
    )
    max_failures: int = one_option(
        MAX_FAILURES,
        "--max-failures",
        logged=True,
        rule=positive,
        metavar="K",
        help="stop when K trials in a row fail with the same error, naming it; "
        f"the finished trials are kept (default {MAX_FAILURES})",
    )
    precision: str = precision_field()
    heartbeat_seconds: int = heartbeat_field("a trial")

    def check(self) -> None:
        """The objectives must be known, the architecture registered, the dataset known."""
        check_objectives(self.objectives)
        check_architectures([self.arch])
        super().check()

    @property
    def name(self) -> str:
        """The study name: given, or derived from dataset, architecture and objectives."""
        if self.study_name:
            return self.study_name
        name = default_study_name(self.arch, dataset_name(self.dataset))
        return name if self.objectives == ["accuracy"] else f"{name}-{'-'.join(self.objectives)}"


@dataclass
class BoardSettings(DataSettings):
    """What `python -m benchmark leaderboard` was asked to print."""

    format: str = one_option("table", "--format", choices=("table", "csv", "markdown"))
    rank_by: str = one_option(
        "test_accuracy",
        "--rank-by",
        choices=RANKINGS,
        help="order of the rows: mean test accuracy, or time to the target "
        "validation accuracy (MLPerf's rule from 5 seeds: fastest and slowest "
        "dropped, the rest averaged, over the seeds that reached it)",
    )
    ensemble_k: int | None = ensemble_k_field()


@dataclass
class ReportSettings(DataSettings):
    """What `python -m benchmark report` was asked to write."""

    output: Path | None = one_option(
        None,
        "--output",
        type=Path,
        metavar="DIR",
        help="folder for index.html (default reports/<experiment>)",
    )
    ensemble_k: int | None = ensemble_k_field()


@dataclass
class PredictSettings(Settings):
    """What `python -m benchmark predict` was asked to classify."""

    images: list[str] = field(
        metadata=cli(option("images", nargs="+", metavar="IMAGE", help="PNG or JPEG files"))
    )
    tracking_uri: str | None = tracking_uri_field()
    model: str | None = one_option(
        None,
        "--model",
        metavar="URI",
        help=f"MLflow model URI (default: {CHAMPION_URI}, or the champion of --dataset)",
    )
    dataset: str = one_option(
        DEFAULT_DATASET,
        "--dataset",
        metavar="NAME|PATH",
        help="the dataset whose champion classifies the images and whose "
        f"preprocessing they get (default {DEFAULT_DATASET}: MNIST-style centring)",
    )

    def check(self) -> None:
        """The dataset must be known."""
        dataset_kind(self.dataset)

    @property
    def model_uri(self) -> str:
        """--model, else the registered champion of the dataset."""
        name = registered_model(dataset_name(self.dataset))
        return self.model or f"models:/{name}@{CHAMPION_ALIAS}"


@dataclass
class DashboardSettings(Settings):
    """What `python -m benchmark dashboard` was asked to serve."""

    storage: str = storage_field()
    host: str = one_option(
        "127.0.0.1",
        "--host",
        help="address to listen on (default 127.0.0.1: this "
        "machine only; 0.0.0.0 for every interface)",
    )
    port: int = one_option(8080, "--port", rule=positive, help="port to listen on (default 8080)")


@dataclass
class WorkerSettings(Settings):
    """What `python -m benchmark worker` was asked to join."""

    storage: str = storage_field()
    tracking_uri: str | None = one_option(  # None: each grid's store, as its `run` recorded it
        None,
        "--tracking-uri",
        rule=tracking_uri,
        parse=str,
        help="MLflow tracking URI of the cells' runs (default: the store each "
        "grid's run recorded; needed when that store's URI holds a password)",
    )
    wait: bool = one_option(
        False,
        "--wait",
        action="store_true",
        help="keep polling for new cells instead of exiting when none waits",
    )
    host: str | None = one_option(
        None,
        "--host",
        metavar="NAME",
        help="the host name recorded on the cells and runs it trains (default: this "
        "machine's; e.g. the node or pod name a scheduler gives)",
    )
    name: str | None = one_option(
        None, "--name", help="this worker's name in status (default HOST/PID)"
    )


@dataclass
class StatusSettings(Settings):
    """What `python -m benchmark status` was asked to show."""

    storage: str = storage_field()

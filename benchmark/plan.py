"""What one `run` trains: the architectures that fit the data, their hyperparameters, the cells.

Beside the suite, above every layer: it reads the registry, presets and Optuna studies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import architectures
from benchmark.data.splits import Splits
from benchmark.errors import BenchmarkError
from benchmark.grid.cells import Cell, Data
from benchmark.grid.versions import code_version
from benchmark.redaction import redact_url
from benchmark.settings import AUTO_JOBS_IMAGES, SPLIT_SEED, RunSettings
from benchmark.settings.commands import params_trial
from benchmark.settings.data import dataset_kind, dataset_name, image_size
from benchmark.training import budget, costs
from benchmark.training.identity import config_hash

log = logging.getLogger(__name__)

Source = tuple[dict[str, Any], dict[str, str]]  # params other than the defaults, their tags


@dataclass(frozen=True)
class Invocation:
    """What the cells of one `run` share: where they are tracked and how they compute."""

    experiment_id: str
    comparison_run_id: str
    dtype: str


def params_sources(settings: RunSettings) -> dict[str, Source]:
    """Each architecture's params source other than its defaults, and the tags naming it.

    With --params best, the best trial (by accuracy) of its Optuna study; with trial:N, trial
    N of it (a Pareto trial of a multi-objective study, say); with a preset name, that preset.
    """
    if settings.params in architectures.PRESETS:
        return {
            name: (architectures.get(name).presets[settings.params], {"variant": settings.params})
            for name in settings.archs
        }
    chosen = params_trial(settings.params)
    if settings.params != "best" and chosen is None:
        return {}
    from benchmark.tuning import studies

    found = {}
    for name in settings.archs:
        study = settings.study_name or studies.default_study_name(
            name, dataset_name(settings.dataset)
        )
        if chosen is None:
            params, number, value = studies.best_params(settings.storage, study, name)
            which, variant = "best trial", "tuned"
        else:
            params, value = studies.trial_params(settings.storage, study, name, chosen)
            number, which, variant = chosen, "trial", f"trial-{chosen}"
        log.info(f"{name}: {which} {number} of study {study} (val_accuracy {value:.4f}): {params}")
        tags = {
            "variant": variant,
            "study_name": study,
            "study_trial": str(number),
            "study_storage": redact_url(settings.storage),
        }
        found[name] = (params, tags)
    return found


def params_for(
    name: str, settings: RunSettings, source: Source | None, train_size: int
) -> dict[str, Any]:
    """An architecture's hyperparameters for `train_size` training images, as it trains them.

    Its params source, then the command line's; its budget (epochs of MNIST, see
    training/budget.py) spread over the data unless --epochs or a named protocol fixes the
    passes over it.
    """
    best = source[0] if source else {}
    params = architectures.get(name).params({**best, **settings.overrides()})
    return params if fixed_epochs(settings) else budget.scaled(params, train_size)


def fixed_epochs(settings: RunSettings) -> bool:
    """Whether the epochs are passes over the data (--epochs, a protocol), not a budget."""
    return settings.epochs is not None or settings.params in architectures.PRESETS


def budget_params(name: str, settings: RunSettings, source: Source | None) -> dict[str, Any]:
    """What a run logs of its budget: `budget_images`, the images its epochs of MNIST see.

    Nothing when its epochs are fixed passes over the data (its `epochs` param says it all).
    """
    if fixed_epochs(settings):
        return {}
    nominal = architectures.get(name).params({**(source[0] if source else {})})["epochs"]
    return {"budget_images": int(nominal) * budget.REFERENCE_TRAIN_IMAGES}


def fitting_architectures(
    settings: RunSettings, splits: Splits, sources: dict[str, Source]
) -> tuple[list[str], dict[str, str]]:
    """The architectures that can be built for the data, and why each other one cannot."""
    fit, skipped = [], {}
    for name in settings.archs:
        params = params_for(name, settings, sources.get(name), len(splits.x_train))
        reason = architectures.get(name).unfit_reason(
            params, splits.input_shape, splits.num_classes
        )
        if reason is None:
            fit.append(name)
        else:
            skipped[name] = reason
            log.warning(f"[{name}] skipped: {reason}")
    if not fit:
        size = "x".join(map(str, splits.input_shape))
        raise BenchmarkError(
            f"the {splits.dataset} images ({size}) are too small for every architecture asked "
            f"for ({', '.join(settings.archs)}); pass a larger --image-size or try --arch mlp"
        )
    return fit, skipped


def worker_count(
    archs: list[str], settings: RunSettings, splits: Splits, sources: dict[str, Source]
) -> int:
    """How many trainings at a time: --jobs N, or auto's choice (see AUTO_JOBS_IMAGES).

    auto: 2 on a machine of 2+ cores when there are 2+ trainings reading at least
    AUTO_JOBS_IMAGES images in all; one training alone keeps two cores about 150% busy, two
    one-thread workers near 180% (docs/results.md). Never more workers than trainings.
    """
    from benchmark.training import hardware

    trainings = len(settings.seeds) * len(archs)
    if settings.jobs is not None:
        return max(1, min(settings.jobs, trainings))
    epochs = sum(
        params_for(name, settings, sources.get(name), len(splits.x_train))["epochs"]
        for name in archs
    )
    images = epochs * len(settings.seeds) * len(splits.x_train)
    return 2 if hardware.cpu_cores() >= 2 and trainings >= 2 and images >= AUTO_JOBS_IMAGES else 1


def cells(
    archs: list[str],
    settings: RunSettings,
    splits: Splits,
    sources: dict[str, Source],
    workers: int,
    run: Invocation,
) -> list[Cell]:
    """Every (architecture, seed) to train as a cell of the grid, in the order to train them.

    Seed by seed, so that an interrupted invocation still leaves every architecture's first
    seeds. For several workers, the largest trainings of a seed come first, so that none waits
    long at the end for another one's last, large training (longest-processing-time first).
    """
    pairs = [(seed, name) for seed in settings.seeds for name in archs]
    if workers > 1:
        work = {name: training_work(name, settings, splits, sources) for name in archs}
        pairs.sort(key=lambda pair: (settings.seeds.index(pair[0]), -work[pair[1]]))
    several = len(settings.seeds) > 1
    data = Data(
        spec=dataset_spec(settings.dataset),
        digest=splits.digest,
        image_size=image_size(settings.image_size),
        color=settings.color,
        subset=settings.subset,
        validation_fraction=settings.validation_fraction,
    )
    found = []
    for index, (seed, name) in enumerate(pairs, start=1):
        label = f"[{name}{f' seed {seed}' if several else ''} {index}/{len(pairs)}]"
        source = sources.get(name)
        params = params_for(name, settings, source, len(splits.x_train))
        extra = {
            "early_stopping": settings.uses_early_stopping,
            "validation_fraction": settings.validation_fraction,
            "subset": settings.subset or 0,
            "split_seed": SPLIT_SEED,
            "params_source": settings.params,  # a tuned run is its own row, even at the defaults
        }
        if settings.target_accuracy is not None:  # absent otherwise: older runs keep their hash
            extra["target_accuracy"] = settings.target_accuracy
        config = config_hash(name, params, seed, splits, **hashed_extra(extra, run.dtype))
        log.debug(f"{label} configuration {config}: {params}")
        found.append(
            Cell(
                key=f"{config}/force-{run.comparison_run_id}" if settings.force else config,
                config=config,
                arch=name,
                seed=seed,
                label=label,
                index=index,
                params=params,
                tags=source[1] if source else {"variant": "default"},
                logged={**extra, "precision": run.dtype, **budget_params(name, settings, source)},
                early_stopping=settings.uses_early_stopping,
                target_accuracy=settings.target_accuracy,
                dtype=run.dtype,
                data=data,
                experiment_id=run.experiment_id,
                comparison_run_id=run.comparison_run_id,
                force=settings.force,
                max_retries=settings.max_retries,
                code=code_version(),
            )
        )
    return found


def hashed_extra(extra: dict[str, Any], dtype: str) -> dict[str, Any]:
    """The run settings that enter the configuration hash besides params, seed and data.

    The precision enters only when it is not float32, so float32 runs keep the hashes they had
    before --precision existed and their finished runs are still found and skipped.
    """
    return {**extra, "precision": dtype} if dtype != "float32" else dict(extra)


def dataset_spec(spec: str) -> str:
    """A dataset name as it is; a folder or file as an absolute path, the same for workers
    started elsewhere on a shared file system."""
    if dataset_kind(spec) in ("folder", "npz"):
        return str(Path(spec).expanduser().resolve())
    return spec


def training_work(
    name: str, settings: RunSettings, splits: Splits, sources: dict[str, Source]
) -> float:
    """An estimate of an architecture's training work: MACs per image x its most epochs."""
    params = params_for(name, settings, sources.get(name), len(splits.x_train))
    model = architectures.get(name).build(params, splits.input_shape, splits.num_classes)
    return float(costs.count_macs(model) * params["epochs"])


def parameter_count(
    name: str, settings: RunSettings, splits: Splits, sources: dict[str, Source]
) -> int:
    """The number of weights of an architecture's model for this data."""
    params = params_for(name, settings, sources.get(name), len(splits.x_train))
    return (
        architectures.get(name).build(params, splits.input_shape, splits.num_classes).count_params()
    )

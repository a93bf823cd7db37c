"""Optuna's samplers and pruners by the names the command line offers."""

from __future__ import annotations

import optuna


def make_sampler(name: str, seed: int) -> optuna.samplers.BaseSampler:
    """TPE (constant liar, so parallel workers spread out) or random search."""
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def make_pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    """Median (after 5 full trials), Hyperband over 1..max_epochs, or no pruning."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(max_epochs, 2))
    return optuna.pruners.NopPruner()
